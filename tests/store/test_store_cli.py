"""``accord feedback import|export`` and ``accord audit list|show`` through the real ``accord`` app."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from accord.cli.main import app
from accord.learning.feedback import read_feedback, write_feedback
from accord.store import Store
from accord.types import Demonstration, Label, Preference

runner = CliRunner()

RECORDS = [
    Label(context="Cut deaths", action="Ban all cars", verdict="unacceptable", principle="autonomy", weight=2.0),
    Preference(context="Refund?", chosen="Yes, within 30 days.", rejected="No.", source="support"),
    Demonstration(context="«Überwachung» ✓", action="I can't share that."),
    Label(action="Sure.", verdict="acceptable"),
]


@pytest.fixture
def db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def run(*args: str):
    return runner.invoke(app, list(args))


def test_import_export_identity(tmp_path, db):
    src = tmp_path / "in.jsonl"
    write_feedback(RECORDS, src)
    r = run("feedback", "import", str(src), "--db", db, "--author", "ana")
    assert r.exit_code == 0, r.output
    assert "imported 4 feedback records" in r.output
    out = tmp_path / "out.jsonl"
    r = run("feedback", "export", str(out), "--db", db)
    assert r.exit_code == 0, r.output
    assert out.read_text(encoding="utf-8") == src.read_text(encoding="utf-8")
    assert read_feedback(out) == RECORDS
    with Store.open(db) as s:
        assert {(e.source, e.author) for e in s.feedback_log()} == {("cli", "ana")}

    only = tmp_path / "labels.jsonl"
    r = run("feedback", "export", str(only), "--kind", "label", "--db", db)
    assert r.exit_code == 0, r.output
    assert read_feedback(only) == [RECORDS[0], RECORDS[3]]
    r = run("feedback", "export", str(only), "-k", "preference", "-k", "demonstration", "--db", db)
    assert read_feedback(only) == RECORDS[1:3]


@pytest.mark.parametrize(("line3", "needle"), [
    ('{"kind": "label", "action": "x", "verdict": "acceptable"', "not valid JSON"),
    ('{"kind": "label", "action": "x", "verdict": "acceptable", "verdcit": 1}', "unknown field"),
    ('{"kind": "opinion", "action": "x"}', "'kind' must be one of"),
])
def test_malformed_import_writes_nothing(tmp_path, db, line3, needle):
    f = tmp_path / "bad.jsonl"
    good = [r.model_dump_json(exclude_none=True) for r in RECORDS[:2]]
    f.write_text("\n".join([*good, line3, good[0]]) + "\n", encoding="utf-8")
    r = run("feedback", "import", str(f), "--db", db)
    assert r.exit_code == 2, r.output
    assert f"{f}:3" in r.output and needle in r.output
    assert "Traceback" not in r.output
    with Store.open(db) as s:
        assert s.feedback() == []


def test_import_missing_file(tmp_path, db):
    r = run("feedback", "import", str(tmp_path / "nope.jsonl"), "--db", db)
    assert r.exit_code == 2 and "no such file" in r.output


def test_export_unknown_kind(tmp_path, db):
    r = run("feedback", "export", str(tmp_path / "o.jsonl"), "--kind", "labels", "--db", db)
    assert r.exit_code == 2 and "unknown feedback kind 'labels'" in r.output


def test_db_defaults_to_the_environment(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("ACCORD_DATABASE_URL", url)
    f = tmp_path / "in.jsonl"
    write_feedback(RECORDS, f)
    assert run("feedback", "import", str(f)).exit_code == 0
    with Store.open(url) as s:
        assert s.feedback() == RECORDS


def _record(db: str, pair, decisions=("allow", "block", "escalate", "block")):
    with Store.open(db) as s:
        out = []
        for d in decisions:
            c, v = pair(d, action=f"action for {d} [bold]not markup[/bold] \x1b[2J")
            s.record_decision(c, v, source="cli")
            out.append(v)
        return out


def test_audit_list_table_and_json(db, pair):
    verdicts = _record(db, pair)
    r = run("audit", "list", "--db", db)
    assert r.exit_code == 0, r.output
    for d in ("allow", "block", "escalate"):
        assert d in r.output
    assert "[bold]" in r.output  # model text shown literally, not as markup
    assert "\x1b[2J" not in r.output and "\\x1b" in r.output  # control characters escaped

    r = run("audit", "list", "--db", db, "--json", "--decision", "block", "--limit", "1")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert [x["trace_id"] for x in rows] == [verdicts[3].trace_id]
    assert rows[0]["verdict_json"]["decision"] == "block" and rows[0]["created_at"].endswith("+00:00")

    r = run("audit", "list", "--db", db, "--json")
    assert [x["trace_id"] for x in json.loads(r.output)] == [v.trace_id for v in reversed(verdicts)]


def test_audit_list_empty_and_bad_decision(db):
    r = run("audit", "list", "--db", db)
    assert r.exit_code == 0 and "no decisions recorded" in r.output
    r = run("audit", "list", "--db", db, "--decision", "deny")
    assert r.exit_code == 2 and "unknown decision 'deny'" in r.output


def test_audit_show(db, pair):
    verdicts = _record(db, pair)
    v = verdicts[1]
    r = run("audit", "show", v.trace_id, "--db", db)
    assert r.exit_code == 0, r.output
    assert v.trace_id in r.output and "block" in r.output and "autonomy" in r.output
    assert "[bold]not" in r.output and "\\x1b[2J" in r.output
    r = run("audit", "show", v.trace_id, "--db", db, "--json")
    assert r.exit_code == 0
    assert json.loads(r.output)["verdict_json"] == v.model_dump(mode="json")
    r = run("audit", "show", "no-such-trace", "--db", db)
    assert r.exit_code == 2 and "no decision with trace id 'no-such-trace'" in r.output


def test_unreachable_database_is_exit_1_with_masked_url():
    r = run("audit", "list", "--db", "postgresql+psycopg://bob:hunter2@127.0.0.1:1/x?connect_timeout=2")
    assert r.exit_code == 1
    assert "bob:***@127.0.0.1:1" in r.output and "hunter2" not in r.output
    assert "Traceback" not in r.output
