"""The period's decisions, read from the store in one streaming pass: counts by decision, source,
day, community and judge version, errors, violated principles, examples and the people's declared
attributes (for the fairness metrics)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from accord.report.items import clip, iso


@dataclass
class Decisions:
    """What the pack needs of the period's decisions, gathered by :func:`scan_decisions`."""

    total: int = 0
    by_decision: Counter[str] = field(default_factory=Counter)
    by_source: Counter[str] = field(default_factory=Counter)
    by_day: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    by_community: Counter[str] = field(default_factory=Counter)
    judges: dict[str, dict[str, Any]] = field(default_factory=dict)
    violated: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # decision -> count, for verdicts with judge errors
    error_examples: list[dict[str, Any]] = field(default_factory=list)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    first: datetime | None = None
    last: datetime | None = None
    subjects: list[dict[str, Any]] = field(default_factory=list)  # {"case": {community, meta.subject}, "decision"}
    declared: set[str] = field(default_factory=set)


def scan_decisions(store: Any, since: datetime | None, until: datetime, keep: int) -> Decisions:
    """Read the decisions of ``[since, until)`` once, oldest first, keeping the newest ``keep`` examples per decision."""
    from accord.store.models import DecisionRow

    d = Decisions()
    q = select(DecisionRow.id, DecisionRow.trace_id, DecisionRow.created_at, DecisionRow.decision, DecisionRow.risk,
               DecisionRow.source, DecisionRow.judge_version, DecisionRow.community, DecisionRow.case_json,
               DecisionRow.verdict_json).where(DecisionRow.created_at < until).order_by(DecisionRow.id)
    if since is not None:
        q = q.where(DecisionRow.created_at >= since)
    with store.engine.connect() as conn:
        for r in conn.execution_options(yield_per=500).execute(q):
            t = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)
            d.total += 1
            d.by_decision[r.decision] += 1
            d.by_source[r.source] += 1
            d.by_day[t.date().isoformat()][r.decision] += 1
            d.by_community[r.community or "(none)"] += 1
            j = d.judges.setdefault(r.judge_version, {"judge": r.judge_version, "decisions": 0,
                                                      "first_seen": iso(t), "last_seen": iso(t)})
            j["decisions"] += 1
            j["last_seen"] = iso(t)
            d.first = d.first or t
            d.last = t
            case = r.case_json or {}
            meta: dict[str, Any] = case["meta"] if isinstance(case.get("meta"), dict) else {}
            subj = {k: meta[k] for k in ("subject", "attributes") if isinstance(meta.get(k), dict)}
            for dct in subj.values():
                d.declared.update(str(k) for k in dct)
            d.subjects.append({"case": {"community": r.community, "meta": subj}, "decision": r.decision})
            v = r.verdict_json or {}
            for p in v.get("principles") or []:
                if isinstance(p, dict) and p.get("violated"):
                    d.violated[str(p.get("id"))] += 1
            errs = v.get("errors") or []
            if errs:
                d.errors[r.decision] += 1
                if len(d.error_examples) < 5 or r.decision == "allow":
                    d.error_examples.append({"trace_id": r.trace_id, "time": iso(t), "decision": r.decision,
                                             "error": clip(errs[0], 200)})
            ex = d.examples[r.decision]
            ex.append({"trace_id": r.trace_id, "time": iso(t), "decision": r.decision, "risk": round(float(r.risk), 3),
                       "source": r.source, "case_id": (r.case_json or {}).get("id"),
                       "context": clip((r.case_json or {}).get("context"), 300),
                       "action": clip((r.case_json or {}).get("action"), 300),
                       "summary": clip((v.get("explanation") or {}).get("summary"), 600),
                       "counterfactual": clip((v.get("explanation") or {}).get("counterfactual"), 400),
                       "rule": (v.get("explanation") or {}).get("rule"),
                       "decisive": list((v.get("explanation") or {}).get("decisive") or []),
                       "precedents": len((v.get("explanation") or {}).get("precedents") or [])})
            if len(ex) > keep:
                ex.pop(0)  # keep the newest
    return d


def period_days(start: datetime | None, until: datetime, dec: Decisions) -> list[str]:
    """Every day of the period (at most the last 400), so charts show time, not just the days with records."""
    if start is None:
        return sorted(dec.by_day)
    first = start.date()
    last = (until - timedelta(microseconds=1)).date()
    n = (last - first).days + 1
    if n > 400:
        first, n = last - timedelta(days=399), 400
    return [(first + timedelta(days=i)).isoformat() for i in range(max(n, 0))]


def decision_span(store: Any) -> tuple[datetime | None, datetime | None, int]:
    """The times of the oldest and newest decision in the whole store, and how many it holds."""
    from accord.store.models import DecisionRow

    with store.engine.connect() as conn:
        lo, hi, n = conn.execute(select(func.min(DecisionRow.created_at), func.max(DecisionRow.created_at),
                                        func.count())).one()

    def utc(t: Any) -> datetime | None:
        if t is None:
            return None
        if isinstance(t, str):  # SQLite aggregates come back as text
            t = datetime.fromisoformat(t)
        return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)

    return utc(lo), utc(hi), int(n or 0)
