"""Agreement between people, and between the judge and people; resolving disagreement.

* :func:`cohen_kappa`: two raters on the same items, chance-corrected agreement.
* :func:`fleiss_kappa`: many raters; items may have different numbers of ratings (the usual
  generalisation: per-item agreement averaged, chance from the pooled category shares), which is
  Fleiss' kappa exactly when every item has the same number.
* :func:`resolve`: turn several reviews of one case into one training label, by majority or by
  weighting each reviewer by their estimated reliability. Every review stays in the store; only
  the training label is resolved.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from accord.errors import InputError
from accord.store.records import Review

ResolveMethod = Literal["majority", "reliability"]


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Cohen's kappa of two raters over the same items: ``(p_o - p_e) / (1 - p_e)``.

    ``p_o`` is the observed share of agreement, ``p_e`` the agreement expected by chance from
    each rater's own category shares. Both raters using one and the same category throughout
    is perfect agreement (1.0). Raises :class:`InputError` on unequal or empty inputs.
    """
    if len(a) != len(b):
        raise InputError(f"cohen_kappa needs two equally long rating lists (got {len(a)} and {len(b)})")
    n = len(a)
    if n == 0:
        raise InputError("cohen_kappa needs at least one item rated by both raters")
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    pe = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    if pe >= 1.0:
        return 1.0 if po >= 1.0 else 0.0
    return (po - pe) / (1.0 - pe)


def fleiss_kappa(counts: Sequence[Sequence[int]] | Sequence[Mapping[Any, int]]) -> float:
    """Fleiss' kappa from per-item category counts (a row per item; items with < 2 ratings are skipped).

    Rows are either sequences of counts per category (a fixed category order) or mappings from
    category to count. ``P_i = (Σ_j n_ij² - n_i) / (n_i (n_i - 1))``; ``P̄`` their mean;
    ``p_j = Σ_i n_ij / Σ_i n_i``; ``P_e = Σ_j p_j²``; kappa ``= (P̄ - P_e) / (1 - P_e)``.
    """
    rows: list[dict[Hashable, int]] = []
    for r in counts:
        d: dict[Hashable, int] = dict(r) if isinstance(r, Mapping) else dict(enumerate(r))
        if sum(d.values()) >= 2:
            rows.append(d)
    if not rows:
        raise InputError("fleiss_kappa needs at least one item with two or more ratings")
    total = sum(sum(r.values()) for r in rows)
    cats: Counter[Hashable] = Counter()
    p_items = []
    for r in rows:
        n = sum(r.values())
        cats.update(r)
        p_items.append((sum(v * v for v in r.values()) - n) / (n * (n - 1)))
    p_bar = sum(p_items) / len(p_items)
    p_e = sum((v / total) ** 2 for v in cats.values())
    if p_e >= 1.0:
        return 1.0 if p_bar >= 1.0 else 0.0
    return (p_bar - p_e) / (1.0 - p_e)


def _latest_per_reviewer(reviews: Iterable[Review]) -> dict[int, dict[str, Review]]:
    """``item -> reviewer -> their latest review`` (a reviewer who judged twice counts once)."""
    out: dict[int, dict[str, Review]] = defaultdict(dict)
    for r in sorted(reviews, key=lambda r: r.id):
        out[r.item_id][r.reviewer] = r
    return out


@dataclass(frozen=True)
class PairAgreement:
    """Cohen's kappa of two reviewers over the items both reviewed."""

    a: str
    b: str
    items: int
    agreement: float
    kappa: float


def pairwise_kappas(reviews: Iterable[Review], *, min_items: int = 2) -> list[PairAgreement]:
    """Cohen's kappa for every pair of reviewers who judged at least ``min_items`` common items."""
    by_item = _latest_per_reviewer(reviews)
    per_pair: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for revs in by_item.values():
        for x, y in itertools.combinations(sorted(revs), 2):
            per_pair[(x, y)].append((revs[x].decision, revs[y].decision))
    out = []
    for (x, y), pairs in sorted(per_pair.items()):
        if len(pairs) < min_items:
            continue
        da, db = [p[0] for p in pairs], [p[1] for p in pairs]
        out.append(PairAgreement(x, y, len(pairs), round(sum(p == q for p, q in pairs) / len(pairs), 4),
                                 round(cohen_kappa(da, db), 4)))
    return out


def overall_fleiss(reviews: Iterable[Review]) -> tuple[float | None, int]:
    """Fleiss' kappa over every item with two or more reviewers, and how many items that is."""
    by_item = _latest_per_reviewer(reviews)
    rows = [Counter(r.decision for r in revs.values()) for revs in by_item.values() if len(revs) >= 2]
    if not rows:
        return None, 0
    return round(fleiss_kappa(rows), 4), len(rows)


@dataclass(frozen=True)
class Resolved:
    """The training label of one reviewed item, resolved from its reviews."""

    item_id: int
    decision: str  # allow | block | depends | discuss
    weight: float  # in (0, 1]: the share (or reliability-weighted share) of the winning side
    principles: tuple[str, ...]
    reviewers: tuple[str, ...]
    contested: bool  # the reviewers did not all agree
    communities: tuple[str, ...] = ()  # with ``depends``: where the winning side finds it acceptable


def reviewer_reliability(reviews: Iterable[Review], *, prior: float = 2.0, iterations: int = 5) -> dict[str, float]:
    """Each reviewer's estimated probability of agreeing with the consensus (a one-coin Dawid–Skene).

    Starts from the plain majority; then repeatedly re-estimates each reviewer's accuracy
    against the reliability-weighted consensus of the *other* reviewers on items with two or
    more reviews, smoothed towards 0.75 with ``prior`` pseudo-items. A reviewer with no shared
    items gets the prior (0.75).
    """
    by_item = _latest_per_reviewer(reviews)
    shared = {i: revs for i, revs in by_item.items() if len(revs) >= 2}
    people = {p for revs in by_item.values() for p in revs}
    rel = dict.fromkeys(people, 0.75)
    for _ in range(iterations):
        hits: dict[str, float] = defaultdict(float)
        seen: dict[str, float] = defaultdict(float)
        for revs in shared.values():
            for who, r in revs.items():
                score: dict[str, float] = defaultdict(float)
                for other, o in revs.items():
                    if other != who:
                        score[o.decision] += _logodds(rel[other])
                if not score:
                    continue
                best = max(score.values())
                winners = [d for d, s in score.items() if s == best]
                if len(winners) > 1:
                    continue  # the others tie: no evidence either way
                seen[who] += 1
                hits[who] += r.decision == winners[0]
        rel = {p: (hits[p] + 0.75 * prior) / (seen[p] + prior) for p in people}
    return rel


def _logodds(p: float) -> float:
    import math

    p = min(max(p, 0.51), 0.99)
    return math.log(p / (1 - p))


def resolve(reviews: Iterable[Review], method: ResolveMethod = "majority") -> list[Resolved]:
    """One training label per reviewed item.

    ``majority``: the most common decision wins with weight = its share; an exact tie is left
    out of training (and counted as contested). ``reliability``: each reviewer's vote weighs the
    log-odds of their :func:`reviewer_reliability`, so a careful reviewer outvotes a careless
    one; the weight is the winning side's share of the total vote. Principle tags are those
    given by at least one reviewer on the winning side, most common first.
    """
    if method not in ("majority", "reliability"):
        raise InputError(f"unknown resolution method {method!r}; expected majority or reliability")
    revs_all = list(reviews)
    by_item = _latest_per_reviewer(revs_all)
    rel = reviewer_reliability(revs_all) if method == "reliability" else {}
    out = []
    for item_id in sorted(by_item):
        revs = by_item[item_id]
        votes: dict[str, float] = defaultdict(float)
        for who, r in revs.items():
            votes[r.decision] += _logodds(rel[who]) if method == "reliability" else 1.0
        total = sum(votes.values())
        best = max(votes.values())
        winners = [d for d, v in votes.items() if v == best]
        contested = len({r.decision for r in revs.values()}) > 1
        if len(winners) > 1:
            continue
        decision = winners[0]
        tags = Counter(p for r in revs.values() if r.decision == decision for p in r.principles)
        comms = Counter(c for r in revs.values() if r.decision == decision for c in r.communities)
        out.append(Resolved(item_id, decision, round(best / total, 4), tuple(p for p, _ in tags.most_common()),
                            tuple(sorted(revs)), contested, tuple(c for c, _ in comms.most_common())))
    return out
