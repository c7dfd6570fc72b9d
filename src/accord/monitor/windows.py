"""Windows of traffic: what the drift tests compare, read from the audit store or built in memory.

A :class:`Window` holds, for one stretch of time, the exact count of decisions per community and
decision (a ``GROUP BY`` in the database), a uniform sample of the cases with their
per-principle scores (for the score and input tests), and the judge-vs-reviewer agreements of
the reviews written in it. The store is only read: plain SQLAlchemy Core ``SELECT`` s over its
tables, so a monitor can run beside a busy gate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, exists, func, select

from accord.errors import InputError
from accord.review.dashboard import judge_leaning
from accord.store import Store
from accord.store.models import DecisionRow, ReviewItemRow, ReviewRow
from accord.types import Case

__all__ = ["ALL", "NONE", "SampledCase", "Window", "default_reference", "read_window", "utc"]

#: the group of every decision (beside the per-community groups)
ALL = "(all)"
#: decisions made for a case with no community
NONE = "(none)"

_D = DecisionRow.__table__
_R = ReviewRow.__table__
_I = ReviewItemRow.__table__


def utc(t: datetime) -> datetime:
    """``t`` as an aware UTC time (a naive time is taken to be UTC already)."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def principle_scores(verdict_json: dict[str, Any]) -> dict[str, float]:
    """The verdict's score per principle (the highest when several judges scored one)."""
    out: dict[str, float] = {}
    for p in verdict_json.get("principles") or []:
        pid, s = p.get("id"), p.get("score")
        if pid is None or s is None:
            continue
        out[str(pid)] = max(out.get(str(pid), 0.0), float(s))
    return out


@dataclass(frozen=True)
class SampledCase:
    """One case of a window's sample: what was asked, what was decided, and its scores."""

    trace_id: str
    context: str
    action: str
    community: str | None
    decision: str
    scores: dict[str, float]

    def as_case(self) -> Case:
        return Case(context=self.context, action=self.action, community=self.community)


@dataclass
class Window:
    """One stretch of traffic.

    Attributes:
        start, end: the half-open interval ``[start, end)`` (UTC).
        counts: decisions per group (:data:`ALL`, each community, :data:`NONE`) and decision (exact).
        sample: a uniform sample of the window's cases (at most ``max_sample``).
        agreement: per review written in the window (allow or block answers only), whether the
            reviewer decided as the judge leaned.
    """

    start: datetime
    end: datetime
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    sample: list[SampledCase] = field(default_factory=list)
    agreement: list[bool] = field(default_factory=list)

    @property
    def decisions(self) -> int:
        """How many decisions the window holds (exact, not the sample)."""
        return sum(self.counts.get(ALL, {}).values())

    def add(self, case: SampledCase, *, sampled: bool = True) -> None:
        """Count one decision (in memory: simulations and tests); ``sampled`` also keeps the case."""
        for g in (ALL, case.community or NONE):
            row = self.counts.setdefault(g, {})
            row[case.decision] = row.get(case.decision, 0) + 1
        if sampled:
            self.sample.append(case)

    @classmethod
    def of(cls, start: datetime, end: datetime, cases: Iterable[SampledCase], *, agreement: Iterable[bool] = (),
           max_sample: int | None = None) -> Window:
        """A window over cases in memory (every case counted; a uniform stride kept as the sample)."""
        w = cls(utc(start), utc(end), agreement=list(agreement))
        cases = list(cases)
        k = 1 if max_sample is None else max(1, math.ceil(len(cases) / max_sample))
        for i, c in enumerate(cases):
            w.add(c, sampled=i % k == 0)
        return w

    def describe(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} → {self.end:%Y-%m-%d %H:%M} UTC"


def _text(x: Any) -> str:
    """A stored context or action as plain text (anything that is not a string as compact JSON)."""
    import json

    return x if isinstance(x, str) else json.dumps(x, ensure_ascii=False, sort_keys=True)


def read_window(store: Store, start: datetime, end: datetime, *, max_sample: int = 5000) -> Window:
    """Read ``[start, end)`` from the audit store (read only).

    Decision counts are exact (one ``GROUP BY``); the sample is every k-th decision by id, k chosen
    so that at most ``max_sample`` are read (their case and verdict JSON are what costs).
    """
    start, end = utc(start), utc(end)
    if end <= start:
        raise InputError(f"the window {start.isoformat()} → {end.isoformat()} is empty: its end must be after its start")
    w = Window(start, end)
    in_window = and_(_D.c.created_at >= start, _D.c.created_at < end)
    with store.engine.connect() as conn:
        for community, decision, n in conn.execute(
                select(_D.c.community, _D.c.decision, func.count()).where(in_window)
                .group_by(_D.c.community, _D.c.decision)):
            for g in (ALL, community or NONE):
                row = w.counts.setdefault(g, {})
                row[decision] = row.get(decision, 0) + int(n)
        total = w.decisions
        if total:
            k = max(1, math.ceil(total / max_sample))
            q = select(_D.c.trace_id, _D.c.community, _D.c.decision, _D.c.case_json, _D.c.verdict_json).where(in_window)
            if k > 1:
                q = q.where(_D.c.id % k == 0)
            for trace_id, community, decision, case_json, verdict_json in conn.execute(q.order_by(_D.c.id)):
                try:
                    case = Case.model_validate(case_json)
                    ctx, act = case.context_text, case.action_text
                except ValidationError:  # a case stored by another version: its raw text still counts
                    ctx, act = _text((case_json or {}).get("context", "")), _text((case_json or {}).get("action", ""))
                w.sample.append(SampledCase(trace_id, ctx, act, community, decision,
                                            principle_scores(verdict_json or {})))
        newer = _R.alias("newer")
        q = (select(_R.c.decision, _I.c.verdict_json).join(_I, _I.c.id == _R.c.item_id)
             .where(_R.c.created_at >= start, _R.c.created_at < end, _R.c.decision.in_(("allow", "block")),
                    ~exists().where(newer.c.amends == _R.c.id)))
        for decision, verdict_json in conn.execute(q):
            lean = judge_leaning(verdict_json or {})
            if lean is not None:
                w.agreement.append(lean == decision)
    return w


def default_reference(store: Store, recent_start: datetime, *, model_name: str = "default",
                      days: float = 7.0) -> tuple[datetime, datetime, str]:
    """The default reference window: the ``days`` after the current model's promotion.

    Without a promoted model, the first ``days`` of the audit trail. The window is cut at
    ``recent_start`` so that the two never overlap. Returns ``(start, end, how it was chosen)``.

    Raises:
        InputError: the store holds no decision before ``recent_start`` to compare with.
    """
    recent_start = utc(recent_start)
    start: datetime | None = None
    how = ""
    current = store.current_model(model_name)
    if current is not None:
        promotions = [e for e in store.model_events(current.id) if e.event == "promote"]
        if promotions:
            start = utc(promotions[-1].created_at)
            how = f"the {days:g} days after {model_name} {current.version} was promoted"
    if start is None:
        with store.engine.connect() as conn:
            first = conn.execute(select(func.min(_D.c.created_at))).scalar()
        if first is not None:
            start = utc(first)
            how = f"the first {days:g} days of the audit trail (no {model_name!r} model was promoted in the store)"
    if start is None or start >= recent_start:
        raise InputError("there is no traffic before the recent window to compare it with",
                         hint="set the reference window with --reference-start and --reference-end")
    end = min(start + timedelta(days=days), recent_start)
    if end < start + timedelta(days=days):
        how += f", cut at the start of the recent window ({end:%Y-%m-%d %H:%M})"
    return start, end, how
