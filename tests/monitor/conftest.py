"""Fixtures for the monitor tests: a real SQLite store filled over simulated days (a fake clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.store.conftest import pg_url  # noqa: F401  (PostgreSQL in a fresh schema, when configured)

import accord.store.decision_log
import accord.store.feedback_reviews
import accord.store.store
from accord.monitor.simulate import Stream
from accord.store import Store
from accord.types import Case, Explanation, PrincipleResult, Verdict

T0 = datetime(2026, 3, 2, tzinfo=UTC)
NORMAL = [(f"Customer {i}: how do I {v} my {o}?", f"Here is how to {v} your {o}, step by step.")
          for i, (v, o) in enumerate((v, o) for v in ("reset", "update", "export", "close", "renew", "share")
                                      for o in ("password", "invoice", "account", "order", "plan", "report"))]


class Clock:
    """The store's clock, set by hand (the store stamps every row with ``utcnow()``)."""

    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock(T0)
    # every store module that stamps rows (the store is split over several)
    for m in (accord.store.store, accord.store.decision_log, accord.store.feedback_reviews):
        if hasattr(m, "utcnow"):
            monkeypatch.setattr(m, "utcnow", c)
    return c


@pytest.fixture
def store(tmp_path) -> Store:
    s = Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    yield s
    s.close()


def verdict_of(sc) -> Verdict:
    """A verdict for a simulated case (its decision and per-principle scores)."""
    import uuid

    return Verdict(trace_id=uuid.uuid4().hex, decision=sc.decision, risk=max(sc.scores.values(), default=0.0),
                   principles=[PrincipleResult(id=p, score=s, violated=s >= 0.5, severity="high", source="model")
                               for p, s in sc.scores.items()],
                   explanation=Explanation(summary=sc.decision), judge_version="sim@1")


def fill(store: Store, clock: Clock, stream: Stream, days: range, *, reviews: bool = False) -> None:
    """Write the stream's days into the store, each day's decisions at noon of that day."""
    for d in days:
        clock.t = T0 + timedelta(days=d, hours=12)
        cases, agree = stream.day(d)
        pairs = [(Case(context=c.context, action=c.action, community=c.community), verdict_of(c)) for c in cases]
        store.record_decisions(pairs, source="sim")
        if reviews:
            for ok in agree:
                lean_block = True  # the judge leaned block (score 0.9); the reviewer agrees or not
                v = Verdict(trace_id=__import__("uuid").uuid4().hex, decision="escalate", risk=0.9,
                            principles=[PrincipleResult(id="harm", score=0.9, violated=True, severity="high",
                                                        source="model")],
                            explanation=Explanation(summary="escalate"), judge_version="sim@1")
                item = store.enqueue_review(Case(action="x"), v, 0.5)
                store.add_review(item, "ana", "block" if ok == lean_block else "allow")
