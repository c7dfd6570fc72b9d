"""Database URLs, engines and schema migrations for the audit store.

The default URL is ``ACCORD_DATABASE_URL``, else a SQLite file at ``.accord/accord.db`` under the
current directory. SQLite connections are shared across threads (``check_same_thread=False``),
run in WAL mode (readers never block the writer) with ``synchronous=NORMAL`` (a commit is one
WAL append, no fsync of the main file) and enforce foreign keys. PostgreSQL runs through psycopg 3;
``postgresql://`` and ``postgres://`` URLs are read as ``postgresql+psycopg://``. PostgreSQL cannot
store the NUL character in text or JSONB, so on PostgreSQL a NUL in any stored string is written
as U+FFFD (the replacement character) rather than failing the write.

Migrations are Alembic revisions shipped in :mod:`accord.store.migrations`; :func:`upgrade` runs
them in one transaction that also serialises concurrent openers (``BEGIN IMMEDIATE`` on SQLite, an
advisory lock on PostgreSQL), so gate replicas started together migrate once.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import URL, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from accord.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

ENV_VAR = "ACCORD_DATABASE_URL"
DEFAULT_DIR = ".accord"
DEFAULT_FILE = "accord.db"
MIGRATIONS = Path(__file__).resolve().with_name("migrations")
#: key of the PostgreSQL advisory lock held while migrating ("accord" in ASCII)
_PG_LOCK = 0x6163636F7264
_URL_HINT = "use sqlite:///path/to/accord.db or postgresql+psycopg://user:password@host:5432/dbname"


def default_url(cwd: str | Path | None = None) -> str:
    """``ACCORD_DATABASE_URL`` when set, else SQLite at ``.accord/accord.db`` (folder created)."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return env
    folder = Path(cwd or Path.cwd()) / DEFAULT_DIR
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(f"cannot create {folder} for the default audit store: {e}",
                         hint=f"set {ENV_VAR} or pass --db with a database URL") from None
    return f"sqlite:///{(folder / DEFAULT_FILE).resolve()}"


def mask(url: str | URL) -> str:
    """The URL with its password replaced by ``***``, for messages and logs."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError, TypeError):
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))


def parse_url(url: str | URL) -> URL:
    """Parse a database URL (``postgresql://`` → psycopg 3); a bad one is a :class:`StoreError`."""
    try:
        u = url if isinstance(url, URL) else make_url(str(url).strip())
    except (ArgumentError, ValueError) as e:
        raise StoreError(f"{mask(url)!r} is not a database URL ({e})", hint=_URL_HINT) from None
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA busy_timeout = 30000")
        cur.execute("PRAGMA foreign_keys = ON")
        # REPLACE deletes the row it replaces without firing DELETE triggers unless triggers are
        # recursive: with this, ``REPLACE INTO decisions`` meets the append-only trigger too
        cur.execute("PRAGMA recursive_triggers = ON")
        mode = cur.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode and str(mode[0]).lower() == "wal":
            cur.execute("PRAGMA synchronous = NORMAL")
    finally:
        cur.close()


def _scrub(obj: Any) -> Any:
    """``obj`` with NUL characters in its strings replaced by U+FFFD (PostgreSQL cannot store NUL)."""
    if isinstance(obj, str):
        return obj.replace("\x00", "\ufffd") if "\x00" in obj else obj
    if isinstance(obj, dict):
        return {_scrub(k): _scrub(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_scrub(v) for v in obj)
    return obj


def _pg_json(obj: Any) -> str:
    out = json.dumps(obj)
    return out if "\\u0000" not in out else json.dumps(_scrub(obj))


def _pg_scrub_params(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                     executemany: bool) -> tuple[str, Any]:
    if executemany and isinstance(parameters, list):
        return statement, [_scrub(p) for p in parameters]
    return statement, _scrub(parameters)


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for the store: thread-shared WAL SQLite, or pooled PostgreSQL with pre-ping.

    A missing driver or a malformed URL is a :class:`StoreError` naming the (masked) URL.
    """
    u = parse_url(url)
    opts: dict[str, Any] = {}
    if u.get_backend_name() == "sqlite":
        opts["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if u.database in (None, "", ":memory:"):
            # one shared connection, or every pooled connection would see its own empty database
            opts["poolclass"] = StaticPool
        else:
            opts["pool_size"] = 8
            opts["max_overflow"] = 24
    else:
        opts["pool_pre_ping"] = True
        if u.get_backend_name() == "postgresql":
            opts["json_serializer"] = _pg_json
    opts.update(kwargs)
    try:
        engine = create_engine(u, **opts)
    except (NoSuchModuleError, ImportError) as e:
        raise StoreError(f"cannot open {mask(u)}: no database driver ({e})",
                         hint="for PostgreSQL install psycopg: pip install 'accord[postgres]'") from None
    except (ArgumentError, TypeError) as e:
        raise StoreError(f"cannot open {mask(u)}: {e}", hint=_URL_HINT) from None
    if u.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
    elif u.get_backend_name() == "postgresql":
        # untrusted text (a prompt, a case id) must not make a decision unrecordable
        event.listen(engine, "before_cursor_execute", _pg_scrub_params, retval=True)
    return engine


def alembic_config(connection: Any = None) -> Config:
    """An Alembic config whose ``script_location`` is the migrations folder inside the package.

    Use it for Alembic commands from Python, e.g. ``command.history(alembic_config())``.
    """
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest schema revision this version of accord knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def shipped_head() -> str:
    """:func:`head_revision` without Alembic: the revisions are numbered files named by their id
    (``0006_decision_counts.py`` is revision ``0006_decision_counts``), so the newest is the last
    name (a test keeps the two equal)."""
    return max(p.stem for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def current_revision(engine: Engine) -> str | None:
    """The schema revision of the database (``None`` when it was never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _at_head(engine: Engine) -> bool:
    """Whether the database is at the newest revision already, read with one query: opening a store
    that is up to date then costs no Alembic import (a third of a short command's start-up)."""
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [shipped_head()]
    except SQLAlchemyError:  # no such table yet, or no server: the full path below says which
        return False


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` in one transaction, serialised against other openers.

    Raises:
        StoreError: the database cannot be reached, or was migrated by a newer accord, or a
            migration failed; the message names the (masked) URL and what to do.
    """
    where = mask(engine.url)
    if revision == "head" and _at_head(engine):
        return
    from alembic import command
    from alembic.util.exc import CommandError

    try:
        for attempt in range(6):
            try:
                with engine.connect() as conn:
                    if conn.dialect.name == "sqlite":
                        # a write lock up front: a second opener waits here, then finds the schema at head
                        conn.exec_driver_sql("BEGIN IMMEDIATE")
                    elif conn.dialect.name == "postgresql":
                        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
                    command.upgrade(alembic_config(conn), revision)
                    conn.commit()
                break
            except OperationalError as e:
                # SQLite answers "database is locked" without waiting when openers race to switch a
                # new file to WAL; the race is over within milliseconds, so try again
                if engine.dialect.name != "sqlite" or "locked" not in str(e) or attempt == 5:
                    raise
                time.sleep(0.05 * 2 ** attempt)
    except CommandError as e:
        msg = str(e)
        if "Can't locate revision" in msg or "No such revision" in msg:
            raise StoreError(
                f"the audit store at {where} has a schema revision this accord does not know ({msg})",
                hint="it was migrated by a newer accord; upgrade accord (pip install -U accord)",
            ) from None
        raise StoreError(f"cannot migrate the audit store at {where}: {msg}") from None
    except SQLAlchemyError as e:
        raise StoreError(
            f"cannot open the audit store at {where}: {first_line(e)}",
            hint=_open_hint(engine.url),
        ) from None


def first_line(e: BaseException) -> str:
    """The first line of a database error's message (the driver's own error when SQLAlchemy wraps one)."""
    orig = getattr(e, "orig", None) or e
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]


def _open_hint(u: URL) -> str:
    if u.get_backend_name() == "sqlite":
        return ("check that the folder exists and is writable, or pass another --db / set "
                f"{ENV_VAR}")
    return (f"check that the server is running and reachable and that the user, password and "
            f"database in --db / {ENV_VAR} are right (the user needs CREATE on the database)")
