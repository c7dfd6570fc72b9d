"""The schema: migrations match the models, tables refuse UPDATE and DELETE, open errors read well."""

from __future__ import annotations

import importlib.resources

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from accord.errors import StoreError
from accord.store import Store, default_url
from accord.store.migrate import make_engine, mask
from accord.store.models import APPEND_ONLY_TABLES, DERIVED_TABLES, Base
from accord.types import Label


def _fill(store: Store, pair) -> None:
    """One row in every table."""
    case, verdict = pair("escalate")
    store.record_decision(case, verdict)
    store.add_feedback([Label(action="a", verdict="acceptable")])
    item = store.enqueue_review(case, verdict)
    store.add_review(item, "ana", "allow")
    m = store.add_model_version("default", "1", "/m")
    store.model_event(m, "promote", "ana")
    store.audit("user.added", "admin", {"user": "ana"})


def test_migrated_schema_matches_the_models(store):
    """Revision 0001 and accord.store.models agree (tables other modules own are not compared)."""

    def ours(name, type_, parent_names):
        return type_ != "table" or name in Base.metadata.tables

    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": ours})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_every_table_has_append_only_triggers(store):
    """Also the tables later migrations add: a new table without its triggers fails here."""
    with store.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names()) - {"alembic_version", *DERIVED_TABLES}
        if conn.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'").all()
            guarded = {(t, verb) for t, sql in rows for verb in ("UPDATE", "DELETE")
                       if f"BEFORE {verb}" in sql and "RAISE(ABORT" in sql}
            want = {(t, verb) for t in tables for verb in ("UPDATE", "DELETE")}
        else:
            rows = conn.execute(text(
                "SELECT c.relname, t.tgtype FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_proc p ON p.oid = t.tgfoid WHERE p.proname = 'accord_append_only' "
                "AND c.relnamespace = to_regnamespace(current_schema())::oid")).all()
            # tgtype bits: 2 BEFORE, 8 DELETE, 16 UPDATE, 32 TRUNCATE
            guarded = {(t, verb) for t, bits in rows for verb, bit in (("UPDATE", 16), ("DELETE", 8), ("TRUNCATE", 32))
                       if bits & bit and bits & 2}
            want = {(t, verb) for t in tables for verb in ("UPDATE", "DELETE", "TRUNCATE")}
    assert tables >= set(APPEND_ONLY_TABLES)
    assert want - guarded == set()


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_tables_are_append_only(store, pair, table):
    _fill(store, pair)
    for sql in (f"UPDATE {table} SET created_at = created_at", f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(sql))
    if store.engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {table} CASCADE"))
    with store.engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 1


def test_store_has_no_update_or_delete_methods():
    names = [n for n in dir(Store) if not n.startswith("_")]
    assert not [n for n in names if n.startswith(("update", "delete", "remove", "set_", "clear", "truncate"))]


def test_migrations_ship_inside_the_package():
    root = importlib.resources.files("accord.store.migrations")
    assert root.joinpath("env.py").is_file()
    assert importlib.resources.files("accord.store.migrations.versions").joinpath("0001_initial.py").is_file()


# ---------------------------------------------------------------------- opening and errors
def test_default_url_env_then_dot_accord(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCORD_DATABASE_URL", "sqlite:///elsewhere.db")
    assert default_url() == "sqlite:///elsewhere.db"
    monkeypatch.delenv("ACCORD_DATABASE_URL")
    monkeypatch.chdir(tmp_path)
    assert default_url() == f"sqlite:///{tmp_path / '.accord' / 'accord.db'}"
    with Store.open() as s:
        assert s.url.endswith(".accord/accord.db")
        assert s.stats().decisions_total == 0
    assert (tmp_path / ".accord" / "accord.db").is_file()


def test_sqlite_runs_in_wal_mode(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'w.db'}") as s, s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_in_memory_sqlite_works(pair):
    with Store.open("sqlite://") as s:
        s.record_decision(*pair())
        assert len(s.decisions()) == 1


def test_unreachable_server_names_the_masked_url():
    with pytest.raises(StoreError) as e:
        Store.open("postgresql+psycopg://bob:s3cret-pw@127.0.0.1:1/accord?connect_timeout=2")
    msg = e.value.for_humans()
    assert "postgresql+psycopg://bob:***@127.0.0.1:1/accord" in msg
    assert "s3cret-pw" not in msg
    assert "server is running" in msg


def test_plain_postgresql_url_uses_psycopg():
    engine = make_engine("postgresql://u:p@127.0.0.1/db")
    assert engine.dialect.driver == "psycopg"


def test_missing_folder_and_bad_urls(tmp_path):
    with pytest.raises(StoreError, match=r"sqlite:///.*/no/such/dir/x\.db") as e:
        Store.open(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}")
    assert "folder exists" in e.value.for_humans()
    with pytest.raises(StoreError, match="not a database URL"):
        Store.open("just words")
    with pytest.raises(StoreError, match="no database driver") as e2:
        Store.open("mysql://root:pw@127.0.0.1/db")
    assert "pw" not in e2.value.message.replace("mysql://root:***", "")
    assert mask("nonsense://a:b@c") in ("nonsense://a:***@c",)


def test_database_from_a_newer_accord_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    Store.open(url).close()
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="revision this accord does not know") as e:
        Store.open(url)
    assert "upgrade accord" in e.value.for_humans()


def test_a_file_that_is_not_a_database(tmp_path):
    p = tmp_path / "junk.db"
    p.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"junk\.db"):
        Store.open(f"sqlite:///{p}")


def test_shipped_head_is_alembic_head():
    """Opening a store compares its revision with the newest migration file's name, without Alembic."""
    from accord.store.migrate import head_revision, shipped_head

    assert shipped_head() == head_revision()


def test_opening_an_up_to_date_store_does_not_import_alembic(tmp_path):
    """Alembic is a third of a short command's start-up (``accord audit list``): it loads only to migrate."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'up.db'}"
    Store.open(url).close()
    code = ("import sys; from accord.store import Store; s = Store.open(sys.argv[1]); s.decisions(limit=1); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))")
    out = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
