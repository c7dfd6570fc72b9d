"""The daily rollup (``decision_counts``, migration 0006) equals a count over ``decisions``, whatever
wrote them: every store write path, raw SQL, and a store migrated with decisions already in it."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select, text

from accord.review.dashboard import escalation_by_day
from accord.store import Store
from accord.store.core import DECISIONS_TABLE
from accord.store.migrate import make_engine, upgrade
from accord.store.models import DecisionCountRow
from accord.types import PrincipleResult

COUNTS = DecisionCountRow.__table__


def _truth(store: Store) -> Counter[tuple[str, str, str, str]]:
    """The rollup computed in Python from every decision read back."""
    want: Counter[tuple[str, str, str, str]] = Counter()
    for d in store.iter_decisions():
        key = (d.created_at.astimezone(UTC).date().isoformat(), d.decision, d.community or "")
        want[(*key, "")] += 1
        violated = {p.get("id") for p in d.verdict_json.get("principles") or []
                    if isinstance(p, dict) and p.get("violated") is True and isinstance(p.get("id"), str)}
        for p in violated:
            want[(*key, p)] += 1
    return want


def _rollup(store: Store) -> Counter[tuple[str, str, str, str]]:
    with store.engine.connect() as c:
        return Counter({(r.day.isoformat(), r.decision, r.community, r.principle): int(r.n)
                        for r in c.execute(select(COUNTS))})


def _with_principles(pair, decision: str, violated: list[str], **kw):
    case, verdict = pair(decision, trace_id=uuid.uuid4().hex, **kw)
    ps = [PrincipleResult(id=p, score=0.9, violated=True, severity="high", source="model") for p in violated]
    ps.append(PrincipleResult(id="honesty", score=0.1, violated=False, severity="low", source="model"))
    return case, verdict.model_copy(update={"principles": ps})


def _raw_row(decision: str, when: datetime, community: str | None, verdict_json: object) -> dict:
    return {"trace_id": uuid.uuid4().hex, "created_at": when, "decision": decision, "risk": 0.5,
            "community": community, "judge_version": "raw", "case_id": None, "source": "raw-sql",
            "case_json": {"context": "c", "action": "a"}, "verdict_json": verdict_json, "chain": None}


def test_rollup_equals_a_count_over_every_write_path(store: Store, pair):
    # record_decision: alone, with a review item, and through the gate's recorder callback
    store.record_decision(*_with_principles(pair, "block", ["privacy", "harm"], community="cautious"))
    store.record_decision(*_with_principles(pair, "escalate", ["privacy"]), review=True)
    store.recorder("gate")(*_with_principles(pair, "allow", []))
    # record_decisions: executemany, and with review items (one INSERT per row)
    store.record_decisions([_with_principles(pair, d, ["autonomy"] if d != "allow" else [], community=c)
                            for d, c in [("allow", None), ("block", "cautious"), ("revise", "libertarian")]], "batch")
    store.record_decisions([_with_principles(pair, "escalate", ["harm", "harm"]) for _ in range(3)], "batch",
                           review=lambda c, v: 0.5 if v.decision == "escalate" else None)
    # record_decisions_bulk: COPY on PostgreSQL, executemany on SQLite, several pages
    store.record_decisions_bulk([_with_principles(pair, ["allow", "block", "escalate", "revise"][i % 4],
                                                  ["privacy"] if i % 2 else ["privacy", "fairness"],
                                                  community=None if i % 3 else "cautious") for i in range(230)],
                                "bulk", page=100)
    # raw SQL past the store, on other days, including odd verdict JSON the trigger must skip
    now = datetime.now(UTC)
    with store.engine.begin() as c:
        c.execute(insert(DECISIONS_TABLE), [
            _raw_row("block", now - timedelta(days=3), "cautious",
                     {"principles": [{"id": "privacy", "violated": True}, {"id": "harm", "violated": False},
                                     "not an object", {"id": 7, "violated": True}, {"violated": True}]}),
            _raw_row("allow", now - timedelta(days=40), None, {"principles": {"id": "x", "violated": True}}),
            _raw_row("escalate", now - timedelta(days=3), None, {}),
            _raw_row("block", datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC), None,
                     {"principles": [{"id": "harm", "violated": True}]}),
        ])
    want = _truth(store)
    assert sum(n for k, n in want.items() if k[3] == "") == 1 + 1 + 1 + 3 + 3 + 230 + 4
    assert _rollup(store) == want
    assert store.decision_counts_drift() == []
    # what the readers built on it see
    assert store.stats().decisions == {d: sum(n for k, n in want.items() if k[1] == d and k[3] == "")
                                       for d in ("allow", "revise", "block", "escalate")}
    assert store.decision_totals() == {k: v for k, v in store.stats().decisions.items() if v}
    today = now.date()
    per_day = store.decision_counts(since=today - timedelta(days=3), principle="privacy")
    assert sum(c.n for c in per_day) == sum(n for k, n in want.items()
                                            if k[3] == "privacy" and k[0] >= (today - timedelta(days=3)).isoformat())
    assert {c.day for c in store.decision_counts(until=date(2026, 3, 2))} == {date(2026, 3, 1)}
    esc = dict(escalation_by_day(store, 5, today))
    day3 = (today - timedelta(days=3)).isoformat()
    assert esc[day3[5:]] == want[(day3, "escalate", "", "")] / sum(n for k, n in want.items()
                                                                   if k[0] == day3 and k[3] == "")


def test_drift_is_found_and_rebuild_repairs_it(store: Store, pair):
    store.record_decisions([_with_principles(pair, "block", ["privacy"]) for _ in range(5)], "batch")
    day = datetime.now(UTC).date()
    with store.engine.begin() as c:  # the rollup is derived data: it can be edited; decisions cannot
        c.execute(COUNTS.update().where(COUNTS.c.principle == "").values(n=COUNTS.c.n + 2))
        c.execute(COUNTS.delete().where(COUNTS.c.principle == "privacy"))
    drift = store.decision_counts_drift()
    assert ((day.isoformat(), "block", "", ""), 7, 5) in drift
    assert ((day.isoformat(), "block", "", "privacy"), 0, 5) in drift
    assert store.rebuild_decision_counts() == 2
    assert store.decision_counts_drift() == []
    assert store.verify().ok  # the rollup is not part of the chain


def test_migration_backfills_existing_decisions(db_url: str, pair):
    """A store with decisions written before 0006 gets its rollup from them when it is upgraded."""
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0005_scale_indexes")
        days = [datetime(2026, 11, d, 12, tzinfo=UTC) for d in (1, 1, 2, 30)]
        with engine.begin() as c:
            c.execute(insert(DECISIONS_TABLE), [
                _raw_row(dec, t, comm, {"principles": [{"id": "privacy", "violated": dec != "allow"},
                                                       {"id": "privacy", "violated": dec != "allow"}]})
                for t, dec, comm in zip(days, ["allow", "block", "block", "escalate"], [None, "c", "c", None],
                                        strict=True)])
        upgrade(engine)
    finally:
        engine.dispose()
    with Store.open(db_url) as store:
        assert _rollup(store) == _truth(store)
        assert _rollup(store)[("2026-11-02", "block", "c", "privacy")] == 1
        store.record_decision(*_with_principles(pair, "allow", []))  # and the trigger counts from then on
        assert store.decision_counts_drift() == []
        with store.engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM decision_counts")).scalar() == 8
