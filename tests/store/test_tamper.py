"""Issue 14, items 7 and 9: audit history cannot be rewritten unseen; a decision and its review
item are one transaction."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text

from accord.errors import StoreError
from accord.review.queue import escalation_recorder
from accord.store import Store


def _fill(store: Store, pair, n: int = 6) -> None:
    for i in range(n):
        store.record_decision(*pair("allow" if i % 2 else "block", action=f"action {i}"), "test")


def _sqlite_path(db_url: str) -> str:
    return db_url.removeprefix("sqlite:///")


def _tamper(store: Store, db_url: str, sql: str) -> None:
    """Run ``sql`` as an attacker with write access would: triggers out of the way."""
    if db_url.startswith("sqlite"):
        # a plain sqlite3 connection: no recursive_triggers, and the append-only triggers dropped
        con = sqlite3.connect(_sqlite_path(db_url))
        for verb in ("update", "delete"):
            con.execute(f"DROP TRIGGER IF EXISTS decisions_append_only_{verb}")
        con.executescript(sql)
        con.commit()
        con.close()
    else:
        with store.engine.begin() as conn:
            conn.execute(text("ALTER TABLE decisions DISABLE TRIGGER USER"))
            for stmt in sql.split(";"):
                if stmt.strip():
                    conn.execute(text(stmt))
            conn.execute(text("ALTER TABLE decisions ENABLE TRIGGER USER"))


def test_a_fresh_chain_verifies(store, pair):
    _fill(store, pair)
    report = store.verify()
    assert report.ok and report.decisions == 6 and report.unchained == 0 and report.first_bad is None
    assert report.head is not None and len(report.head) == 64
    store.record_decisions([pair("escalate", action="batch 1"), pair("allow", action="batch 2")], "test")
    again = store.verify()
    assert again.ok and again.decisions == 8 and again.head != report.head


def test_replace_into_is_refused_on_sqlite(tmp_path, pair):
    url = f"sqlite:///{tmp_path / 's.db'}"
    with Store.open(url) as store:
        _fill(store, pair)
        with pytest.raises(Exception, match="append-only"), store.engine.begin() as conn:
            conn.exec_driver_sql("REPLACE INTO decisions (id, trace_id, created_at, decision, risk, judge_version, source, "
                                 "case_json, verdict_json, chain) SELECT id, trace_id, created_at, 'allow', risk, "
                                 "judge_version, source, case_json, verdict_json, chain FROM decisions WHERE id = 1")
        assert store.verify().ok


def test_replace_into_without_the_triggers_is_detected(tmp_path, pair):
    url = f"sqlite:///{tmp_path / 's.db'}"
    with Store.open(url) as store:
        _fill(store, pair)
        con = sqlite3.connect(_sqlite_path(url))  # recursive_triggers off: REPLACE skips DELETE triggers
        con.execute("REPLACE INTO decisions (id, trace_id, created_at, decision, risk, judge_version, source, case_json, "
                    "verdict_json, chain) SELECT id, trace_id, created_at, 'allow', risk, judge_version, source, "
                    "case_json, verdict_json, chain FROM decisions WHERE id = 3")
        con.commit()
        con.close()
        report = store.verify()
        assert not report.ok and report.first_bad == 3


@pytest.mark.parametrize("attack, first_bad", [
    ("UPDATE decisions SET decision = 'escalate' WHERE id = 2", 2),
    ("UPDATE decisions SET risk = 0.0 WHERE id = 4", 4),
    ("DELETE FROM decisions WHERE id = 3", 4),
    ("DELETE FROM decisions WHERE id = 6", None),  # the newest: only the head shows it
    ("UPDATE decisions SET chain = NULL WHERE id = 5", 5),
])
def test_rewrites_with_triggers_disabled_are_detected(store, db_url, pair, attack, first_bad):
    _fill(store, pair)
    before = store.verify()
    _tamper(store, db_url, attack)
    report = store.verify()
    if first_bad is None:
        assert report.ok and report.head != before.head  # the anchor written down earlier no longer matches
    else:
        assert not report.ok and report.first_bad == first_bad, report


def test_reordering_is_detected(store, db_url, pair):
    _fill(store, pair)
    # swap rows 2 and 3 (each keeps its content and hash, but they come in the other order)
    _tamper(store, db_url, "UPDATE decisions SET id = 1000 WHERE id = 2; UPDATE decisions SET id = 2 WHERE id = 3; "
                           "UPDATE decisions SET id = 3 WHERE id = 1000")
    report = store.verify()
    assert not report.ok and report.first_bad == 2


# ---------------------------------------------------------------- item 9: one transaction
def _counts(store: Store) -> tuple[int, int]:
    st = store.stats()
    return st.decisions_total, st.review_items


def test_escalation_and_its_review_item_are_written_together(store, pair):
    record = escalation_recorder(store, "test")
    record(*pair("escalate", action="needs a person"))
    record(*pair("allow", action="fine"))
    assert _counts(store) == (2, 1)
    assert store.verify().ok


def test_no_decision_without_its_review_item(tmp_path, pair):
    url = f"sqlite:///{tmp_path / 's.db'}"
    with Store.open(url) as store:
        con = sqlite3.connect(_sqlite_path(url))
        con.execute("CREATE TRIGGER review_items_broken BEFORE INSERT ON review_items "
                    "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        con.commit()
        con.close()
        with pytest.raises(StoreError, match="disk full"):
            escalation_recorder(store, "test")(*pair("escalate", action="needs a person"))
        assert _counts(store) == (0, 0)  # the decision was not written either: no escalation nobody sees


def test_no_review_item_without_its_decision(store, pair):
    case, verdict = pair("escalate", action="needs a person")
    store.record_decision(case, verdict, "test")
    with pytest.raises(StoreError):  # the same trace id twice: the decision is refused ...
        store.record_decision(case, verdict, "test", review=True)
    assert _counts(store) == (1, 0)  # ... and so is its review item
    store.record_decisions([pair("escalate", action="a"), pair("allow", action="b")], "test",
                           review=lambda c, v: 0.9 if v.decision == "escalate" else None)
    assert _counts(store) == (3, 1)


def test_anchor_detects_a_whole_rewrite_and_cli_verify(store, db_url, pair):
    from typer.testing import CliRunner

    from accord.cli.main import app

    _fill(store, pair)
    head = store.verify().head
    assert store.verify(anchor=head).ok
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--db", db_url, "--head", head])
    assert ok.exit_code == 0 and "chain intact" in ok.output, ok.output
    _tamper(store, db_url, "DELETE FROM decisions WHERE id >= 5")  # cut back: the rest still chains
    assert store.verify().ok
    report = store.verify(anchor=head)
    assert not report.ok and "no longer holds the head" in (report.problem or "")
    bad = runner.invoke(app, ["audit", "verify", "--db", db_url, "--head", head])
    assert bad.exit_code == 1 and "BROKEN" in bad.output
