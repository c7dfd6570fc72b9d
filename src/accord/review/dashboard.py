"""Figures for the admin dashboard: queue size and age, reviews per day, agreement, contested cases.

Pure functions over what the store returns, plus small chart geometries (numbers only) that the
templates draw as inline SVG, so the page needs no chart library and no network.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from accord.review.agreement import PairAgreement, overall_fleiss, pairwise_kappas
from accord.review.queue import QueueConfig, reviewers_needed
from accord.store import ReviewItem, Store
from accord.store.records import Review

#: agreement (Cohen's and Fleiss' kappa) is shown from this many items two or more people reviewed
MIN_SHARED_ITEMS = 2


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    label: str
    value: float
    text: str


@dataclass
class Chart:
    """A bar or line chart's geometry in a ``width`` × ``height`` SVG box."""

    title: str
    kind: str  # bar | line
    width: int = 640
    height: int = 180
    bars: list[Bar] = field(default_factory=list)
    points: str = ""  # polyline points for a line chart
    dots: list[Bar] = field(default_factory=list)
    ymax_text: str = ""
    empty: bool = False

    @property
    def plot_bottom(self) -> int:
        return self.height - 24


def bar_chart(title: str, data: Sequence[tuple[str, float]], *, fmt: str = "{:g}", ymax: float | None = None) -> Chart:
    """Bars for ``(label, value)`` pairs, scaled to the largest value (or ``ymax``)."""
    c = Chart(title, "bar")
    top = ymax if ymax is not None else max([v for _, v in data] + [0.0])
    c.empty = not data or top <= 0
    if c.empty:
        return c
    left, right, bottom, head = 36, 8, c.plot_bottom, 14
    slot = (c.width - left - right) / len(data)
    for i, (label, v) in enumerate(data):
        h = (bottom - head) * (v / top)
        c.bars.append(Bar(round(left + i * slot + slot * 0.15, 1), round(bottom - h, 1), round(slot * 0.7, 1),
                          round(h, 1), label, v, fmt.format(v)))
    c.ymax_text = fmt.format(top)
    return c


def line_chart(title: str, data: Sequence[tuple[str, float | None]], *, ymax: float = 1.0, fmt: str = "{:.0%}") -> Chart:
    """A line through ``(label, value)`` pairs on a 0..``ymax`` scale (``None`` values are skipped)."""
    c = Chart(title, "line")
    pts = [(i, label, v) for i, (label, v) in enumerate(data) if v is not None]
    c.empty = not pts
    if c.empty:
        return c
    if len(pts) == 1:  # one day of data: a line of one point is a lone dot; draw the day as a bar
        return bar_chart(title, [(label, 0.0 if v is None else min(max(v, 0.0), ymax)) for label, v in data],
                         fmt=fmt, ymax=ymax)
    left, right, bottom, head = 36, 8, c.plot_bottom, 14
    n = max(len(data) - 1, 1)
    xy = []
    for i, label, v in pts:
        x = left + (c.width - left - right) * (i / n if len(data) > 1 else 0.5)
        y = bottom - (bottom - head) * (min(max(v, 0.0), ymax) / ymax)
        xy.append((round(x, 1), round(y, 1)))
        c.dots.append(Bar(round(x, 1), round(y, 1), 0, 0, label, v, fmt.format(v)))
    c.points = " ".join(f"{x},{y}" for x, y in xy)
    c.ymax_text = fmt.format(ymax)
    return c


def _day(t: datetime) -> date:
    return t.astimezone(UTC).date()


def _days(n: int, today: date) -> list[date]:
    return [today - timedelta(days=n - 1 - i) for i in range(n)]


def judge_leaning(verdict_json: dict[str, Any]) -> str | None:
    """What the judge leaned to on an escalated case: ``block`` if its top learned score ≥ 0.5."""
    scores = [float(p.get("score", 0)) for p in verdict_json.get("principles", []) or []
              if not str(p.get("source", "")).startswith("rule")]
    if not scores:
        return None
    return "block" if max(scores) >= 0.5 else "allow"


def escalation_by_day(store: Store, days: int, today: date) -> list[tuple[str, float | None]]:
    """Share of recorded decisions that were escalations, per UTC day (last ``days`` days).

    Read from the store's daily rollup (``Store.decision_counts``: a few rows a day), not by
    counting the decisions themselves, so it costs the same at ten or ten million a day.
    """
    tot: Counter[date] = Counter()
    esc: Counter[date] = Counter()
    for c in store.decision_counts(since=today - timedelta(days=days - 1), until=today + timedelta(days=1)):
        tot[c.day] += c.n
        if c.decision == "escalate":
            esc[c.day] += c.n
    return [(d.isoformat()[5:], (esc[d] / tot[d]) if tot[d] else None) for d in _days(days, today)]


@dataclass
class Contested:
    item: ReviewItem
    judge: dict[str, str]  # community -> the gate's decision
    people: dict[str, str]  # community -> the reviewers' majority decision


@dataclass
class Dashboard:
    open_items: int
    oldest_age: timedelta | None
    median_age: timedelta | None
    age_chart: Chart
    reviews_chart: Chart
    agreement_chart: Chart
    escalation_chart: Chart
    pairs: list[PairAgreement]
    fleiss: float | None
    fleiss_items: int
    judge_agreement: float | None
    reviews_total: int
    contested: list[Contested]
    reviewers: dict[str, int]


def build_dashboard(store: Store, config: QueueConfig, *, reviewer_communities: dict[str, Sequence[str]] | None = None,
                    days: int = 14, now: datetime | None = None) -> Dashboard:
    """Everything the admin dashboard shows, computed from the store."""
    now = now or datetime.now(UTC)
    today = now.date()
    items = store.review_items("all", limit=None)
    by_id = {it.id: it for it in items}
    reviews: list[Review] = store.reviews()
    open_ = [it for it in items if it.reviewers < reviewers_needed(it, config.double_share)]
    ages = [now - it.created_at for it in open_]
    buckets = [("< 1 h", timedelta(hours=1)), ("1–24 h", timedelta(days=1)), ("1–7 d", timedelta(days=7)),
               ("> 7 d", timedelta.max)]
    counts: Counter[str] = Counter()
    for a in ages:
        counts[next(name for name, lim in buckets if a < lim)] += 1
    age_chart = bar_chart("open items by age", [(name, counts[name]) for name, _ in buckets])

    per_day = Counter(_day(r.created_at) for r in reviews)
    reviews_chart = bar_chart(f"reviews per day (last {days} days)", [(d.isoformat()[5:], per_day[d]) for d in _days(days, today)])

    agree_day: dict[date, list[bool]] = defaultdict(list)
    for r in reviews:
        it = by_id.get(r.item_id)
        lean = judge_leaning(it.verdict_json) if it else None
        if lean is not None and r.decision in ("allow", "block"):  # "depends"/"discuss" are not a side
            agree_day[_day(r.created_at)].append(lean == r.decision)
    agreement_chart = line_chart("judge agrees with people (share of reviews, per day)",
                                 [(d.isoformat()[5:], (sum(v) / len(v)) if (v := agree_day.get(d)) else None)
                                  for d in _days(days, today)])
    flat = [x for v in agree_day.values() for x in v]
    escalation_chart = line_chart("escalation rate (share of decisions, per day)", escalation_by_day(store, days, today))

    fleiss, fleiss_n = overall_fleiss(reviews)
    if fleiss_n < MIN_SHARED_ITEMS:  # kappa over one shared item is noise (−1 or 1): say it needs more
        fleiss = None
    contested = _contested(by_id, reviews, reviewer_communities or {})
    return Dashboard(
        open_items=len(open_), oldest_age=max(ages) if ages else None,
        median_age=timedelta(seconds=statistics.median(a.total_seconds() for a in ages)) if ages else None,
        age_chart=age_chart, reviews_chart=reviews_chart, agreement_chart=agreement_chart,
        escalation_chart=escalation_chart, pairs=pairwise_kappas(reviews, min_items=1), fleiss=fleiss, fleiss_items=fleiss_n,
        judge_agreement=round(sum(flat) / len(flat), 4) if flat else None, reviews_total=len(reviews),
        contested=contested, reviewers=dict(Counter(r.reviewer for r in reviews).most_common()))


def _contested(by_id: dict[int, ReviewItem], reviews: list[Review], communities: dict[str, Sequence[str]],
               limit: int = 20) -> list[Contested]:
    """Items where communities decided differently: the gate per community, or reviewers of different communities."""
    votes: dict[int, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for r in reviews:
        for c in communities.get(r.reviewer, ()) or ("(none)",):
            votes[r.item_id][c][r.decision] += 1
    out = []
    for item_id in sorted(by_id, reverse=True):
        it = by_id[item_id]
        judge = {k: str(v) for k, v in (it.verdict_json.get("communities") or {}).items()}
        people = {c: cnt.most_common(1)[0][0] for c, cnt in votes.get(item_id, {}).items()
                  if len(cnt) == 1 or cnt.most_common(2)[0][1] > cnt.most_common(2)[1][1]}
        judge_split = len(set(judge.values())) > 1
        people_split = len({v for c, v in people.items() if c != "(none)"}) > 1
        if judge_split or people_split:
            out.append(Contested(it, judge, people))
        if len(out) >= limit:
            break
    return out
