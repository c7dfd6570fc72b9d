"""Reviews → feedback: resolved labels, corrections as demonstrations, pairwise preferences.

An item resolved to ``allow`` or ``block`` becomes a :class:`Label`; one resolved to ``depends``
(on the community) or ``discuss`` (needs discussion) becomes an :class:`Escalation`: learning
teaches the decision model that a person must decide such cases.

Every review stays in the store as it was given; disagreement is resolved only here, when the
reviews become training data (:func:`accord.review.agreement.resolve`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from accord.review.agreement import ResolveMethod, resolve
from accord.store import ReviewItem, Store
from accord.store.records import Review
from accord.types import Demonstration, Escalation, Label, Preference

FeedbackRecord = Label | Preference | Demonstration | Escalation


@dataclass
class ReviewFeedback:
    """Feedback built from the store, with the review item each record came from."""

    records: list[FeedbackRecord] = field(default_factory=list)
    items: list[int | None] = field(default_factory=list)  # review item id per record (None: other feedback)
    reviewed_at: dict[int, datetime] = field(default_factory=dict)  # item -> its newest review
    contested: int = 0  # items whose reviewers disagreed (kept, resolved)
    ties: int = 0  # items left out because their reviewers tied

    def add(self, record: FeedbackRecord, item: int | None) -> None:
        self.records.append(record)
        self.items.append(item)

    def subset(self, keep_items: set[int], *, other: bool = True) -> list[FeedbackRecord]:
        """Records of these items (and, with ``other``, the feedback not tied to an item)."""
        return [r for r, i in zip(self.records, self.items, strict=True) if (i in keep_items if i is not None else other)]

    def labels_of(self, items: set[int]) -> list[Label]:
        return [r for r, i in zip(self.records, self.items, strict=True) if i in items and isinstance(r, Label)]

    @property
    def counts(self) -> dict[str, int]:
        out = {k: sum(r.kind == k for r in self.records) for k in ("label", "preference", "demonstration", "escalation")}
        out.update(items=len(self.reviewed_at), contested=self.contested, ties=self.ties)
        return out


def item_escalation(item: ReviewItem, decision: str, principles: Iterable[str], communities: Iterable[str] = (),
                    weight: float = 1.0) -> Escalation:
    """A ``depends`` or ``discuss`` answer on an item as an :class:`Escalation`."""
    case = item.case
    tags = list(principles)
    return Escalation(context=case.context_text, action=case.action_text, reason=decision,  # type: ignore[arg-type]
                      acceptable_for=list(communities) if decision == "depends" else [],
                      principle=tags[0] if tags else None, source=f"review:{item.id}", weight=weight)


def item_label(item: ReviewItem, decision: str, principles: Iterable[str], weight: float = 1.0) -> Label:
    """A review decision on an item as a :class:`Label` (``block`` = unacceptable)."""
    case = item.case
    tags = list(principles)
    return Label(context=case.context_text, action=case.action_text,
                 verdict="unacceptable" if decision == "block" else "acceptable",
                 principle=tags[0] if decision == "block" and tags else None,
                 source=f"review:{item.id}", weight=weight)


def build_feedback(store: Store, *, method: ResolveMethod = "majority", include_feedback: bool = True,
                   reviews: list[Review] | None = None) -> ReviewFeedback:
    """All the feedback people gave through the store.

    * one label per reviewed item, resolved from its reviews (``method``: ``majority`` or
      ``reliability``), weighted by how clearly the reviewers agreed;
    * every correction a reviewer wrote, as a demonstration in the case's context;
    * with ``include_feedback``, the feedback records in force in the store (the pairwise page's
      preferences, and anything imported with ``accord feedback import``).
    """
    revs = store.reviews() if reviews is None else reviews
    items = {it.id: it for it in store.review_items("all", limit=None)}
    out = ReviewFeedback()
    for r in revs:
        prev = out.reviewed_at.get(r.item_id)
        if prev is None or r.created_at > prev:
            out.reviewed_at[r.item_id] = r.created_at
    for res in resolve(revs, method):
        it = items.get(res.item_id)
        if it is None:
            continue
        out.contested += res.contested
        if res.decision in ("depends", "discuss"):
            out.add(item_escalation(it, res.decision, res.principles, res.communities, res.weight), it.id)
        else:
            out.add(item_label(it, res.decision, res.principles, res.weight), it.id)
    resolved_ids = {res.item_id for res in resolve(revs, method)}
    out.ties = len({r.item_id for r in revs} - resolved_ids)
    for r in revs:
        if r.correction and r.correction.strip() and r.item_id in items:
            case = items[r.item_id].case
            out.add(Demonstration(context=case.context_text, action=r.correction.strip(),
                                  source=f"review:{r.item_id}:{r.reviewer}"), r.item_id)
    if include_feedback:
        for rec in store.feedback():
            out.add(rec, None)
    return out
