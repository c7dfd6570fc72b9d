"""The people half of the audit store: feedback (append-only, amended by newer rows), the review
queue and the reviews given on it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, func, insert, select
from sqlalchemy.orm import aliased

from accord.errors import InputError
from accord.store.core import (
    QueueStatus,
    StoreCore,
    check_choice,
    feedback_columns,
    feedback_record,
    in_force,
)
from accord.store.models import (
    FEEDBACK_KINDS,
    REVIEW_DECISIONS,
    FeedbackRow,
    ReviewItemRow,
    ReviewRow,
    utcnow,
)
from accord.store.records import (
    FeedbackEntry,
    FeedbackRecord,
    Review,
    ReviewItem,
)
from accord.types import Case, Verdict


class FeedbackAndReviews(StoreCore):
    """Feedback and reviews (a part of :class:`~accord.store.store.Store`)."""

    def add_feedback(self, records: Iterable[FeedbackRecord], *, source: str = "api", author: str | None = None,
                     trace_id: str | None = None) -> int:
        """Append feedback records in one transaction (all or nothing); returns the count.

        Args:
            records: labels, preferences and demonstrations, already validated.
            source: the channel they came by (``cli``, ``review``, ``api``); the records' own
                ``source`` fields are kept as they are.
            author: the person who gave them, when known.
            trace_id: the decision they are about, when there is one (e.g. from a review).
        """
        now = utcnow()
        rows = [{**feedback_columns(r), "created_at": now, "source": source, "author": author,
                 "trace_id": trace_id, "amends": None, "retracted": False, "reason": None} for r in records]
        if not rows:
            return 0
        with self._tx(f"add {len(rows)} feedback records") as s:
            s.execute(insert(FeedbackRow), rows)
        return len(rows)

    def amend_feedback(self, feedback_id: int, record: FeedbackRecord | None, *, author: str | None = None,
                       reason: str | None = None, source: str = "api") -> int:
        """Correct (``record``) or withdraw (``None``) an earlier feedback row; returns the new row's id.

        The earlier row stays; the new row points to it with ``amends`` and replaces it in
        :meth:`feedback`. A row can be amended once (the chain stays linear): amend the newest.
        """
        with self._tx(f"amend feedback {feedback_id}") as s:
            old = s.get(FeedbackRow, feedback_id)
            if old is None:
                raise InputError(f"no feedback row {feedback_id}")
            newer = s.scalars(select(FeedbackRow.id).where(FeedbackRow.amends == feedback_id)).first()
            if newer is not None:
                raise InputError(f"feedback row {feedback_id} was already amended by row {newer}; amend that one")
            cols = feedback_columns(record if record is not None else feedback_record(old))
            row = {**cols, "created_at": utcnow(), "source": source, "author": author, "trace_id": old.trace_id,
                   "amends": feedback_id, "retracted": record is None, "reason": reason}
            return int(s.execute(insert(FeedbackRow).returning(FeedbackRow.id), row).scalar_one())

    @staticmethod
    def _kinds(kinds: Iterable[str] | None) -> list[ColumnElement[bool]]:
        if kinds is None:
            return []
        ks = list(kinds)
        for k in ks:
            check_choice(k, FEEDBACK_KINDS, "feedback kind")
        return [FeedbackRow.kind.in_(ks)]

    def feedback(self, kinds: Iterable[str] | None = None) -> list[FeedbackRecord]:
        """The feedback in force, oldest first: amended rows replaced, withdrawn ones left out.

        This is what training uses, and what ``accord feedback export`` writes; it round-trips:
        records added and read back compare equal.

        Args:
            kinds: only these kinds (``label``, ``preference``, ``demonstration``).
        """
        q = select(FeedbackRow).where(*self._kinds(kinds), in_force()).order_by(FeedbackRow.id)
        with self._tx("read feedback") as s:
            return [feedback_record(r) for r in s.scalars(q)]

    def feedback_log(self, kinds: Iterable[str] | None = None, *, limit: int | None = None) -> list[FeedbackEntry]:
        """Every feedback row, amendments and withdrawals included, oldest first (the history)."""
        q = select(FeedbackRow).where(*self._kinds(kinds)).order_by(FeedbackRow.id)
        if limit is not None:
            q = q.limit(limit)
        with self._tx("read feedback") as s:
            return [FeedbackEntry(id=r.id, created_at=r.created_at, record=feedback_record(r), source=r.source,
                                  author=r.author, trace_id=r.trace_id, amends=r.amends, retracted=r.retracted,
                                  reason=r.reason) for r in s.scalars(q)]

    # ------------------------------------------------------------------ review queue
    def enqueue_review(self, case: Case, verdict: Verdict, priority: float | None = None, *,
                       source: str = "gate") -> int:
        """Put a case in front of people; returns the review item's id.

        Args:
            case: the case to review.
            verdict: the gate's verdict on it (usually ``escalate``); its ``trace_id`` links the
                item to the recorded decision.
            priority: higher is reviewed first; ``None`` uses the verdict's risk.
            source: who queued it (``gate``, ``proxy``, ``active-learning``...).
        """
        row = self._review_row(case, verdict, priority, source, utcnow())
        with self._tx("queue a review item") as s:
            return int(s.execute(insert(ReviewItemRow).returning(ReviewItemRow.id), row).scalar_one())

    def review_items(self, status: QueueStatus = "open", *, min_reviews: int = 1, exclude_reviewer: str | None = None,
                     community: str | None = None, limit: int | None = 100) -> list[ReviewItem]:
        """Review items by priority (highest first, then oldest first).

        Args:
            status: ``open`` (fewer than ``min_reviews`` distinct reviewers), ``reviewed`` (at
                least that many) or ``all``.
            min_reviews: how many distinct reviewers an item needs before it leaves the queue
                (more than one for agreement studies).
            exclude_reviewer: leave out items this person already reviewed (their next work).
            community: only items of this community.
            limit: at most this many (``None``: all).
        """
        if status not in ("open", "reviewed", "all"):
            raise InputError(f"unknown queue status {status!r}; expected one of: open, reviewed, all")
        counts = (select(ReviewRow.item_id, func.count(ReviewRow.reviewer.distinct()).label("n"))
                  .group_by(ReviewRow.item_id).subquery())
        n = func.coalesce(counts.c.n, 0)
        q = (select(ReviewItemRow, n).outerjoin(counts, counts.c.item_id == ReviewItemRow.id)
             .order_by(ReviewItemRow.priority.desc(), ReviewItemRow.id))
        if status == "open":
            q = q.where(n < min_reviews)
        elif status == "reviewed":
            q = q.where(n >= min_reviews)
        if exclude_reviewer is not None:
            mine = select(ReviewRow.id).where(ReviewRow.item_id == ReviewItemRow.id, ReviewRow.reviewer == exclude_reviewer)
            q = q.where(~mine.exists())
        if community is not None:
            q = q.where(ReviewItemRow.community == community)
        if limit is not None:
            q = q.limit(limit)
        with self._tx("list review items") as s:
            return [self._item(r, int(k)) for r, k in s.execute(q)]

    def review_item(self, item_id: int) -> ReviewItem | None:
        """One review item with its count of distinct reviewers, or ``None``."""
        with self._tx(f"read review item {item_id}") as s:
            r = s.get(ReviewItemRow, item_id)
            if r is None:
                return None
            k = s.scalar(select(func.count(ReviewRow.reviewer.distinct())).where(ReviewRow.item_id == item_id))
            return self._item(r, int(k or 0))

    @staticmethod
    def _item(r: ReviewItemRow, n: int) -> ReviewItem:
        return ReviewItem(id=r.id, created_at=r.created_at, trace_id=r.trace_id, priority=r.priority,
                          community=r.community, source=r.source, case_json=r.case_json,
                          verdict_json=r.verdict_json, reviewers=n)

    def add_review(self, item_id: int, reviewer: str, decision: str, *, principles: Sequence[str] = (),
                   correction: str | None = None, comment: str | None = None, amends: int | None = None,
                   communities: Sequence[str] = ()) -> int:
        """Record one person's verdict on a review item; returns the review's id.

        Args:
            item_id: the review item.
            reviewer: who judged.
            decision: ``allow``, ``block``, ``depends`` (on the community: acceptable for
                ``communities``, not for the others) or ``discuss`` (needs discussion).
            principles: the principles the case violates (for ``block``) or was wrongly flagged on.
            correction: a better action, when the reviewer wrote one.
            comment: free text.
            amends: an earlier review of the same item this one replaces (a changed mind); each
                review can be amended once.
            communities: with ``depends``, the communities the action is acceptable for (at
                least one); empty otherwise.
        """
        check_choice(decision, REVIEW_DECISIONS, "review decision")
        if decision == "depends" and not communities:
            raise InputError("a 'depends' review names the communities the action is acceptable for")
        if decision != "depends" and communities:
            raise InputError(f"only a 'depends' review names communities (this one is {decision!r})")
        row = {"item_id": item_id, "reviewer": reviewer, "created_at": utcnow(), "decision": decision,
               "principles": list(principles), "correction": correction, "comment": comment, "amends": amends,
               "communities": list(communities) or None}
        with self._tx(f"add a review of item {item_id}") as s:
            if s.get(ReviewItemRow, item_id) is None:
                raise InputError(f"no review item {item_id}")
            if amends is not None:
                old = s.get(ReviewRow, amends)
                if old is None or old.item_id != item_id:
                    raise InputError(f"no review {amends} of item {item_id} to amend")
                newer = s.scalars(select(ReviewRow.id).where(ReviewRow.amends == amends)).first()
                if newer is not None:
                    raise InputError(f"review {amends} was already amended by review {newer}; amend that one")
            return int(s.execute(insert(ReviewRow).returning(ReviewRow.id), row).scalar_one())

    def reviews(self, item_id: int | None = None, *, reviewer: str | None = None, current: bool = True,
                limit: int | None = None) -> list[Review]:
        """Reviews, oldest first.

        Args:
            item_id: only reviews of this item.
            reviewer: only this reviewer's.
            current: leave out reviews that a later review amends (the default); ``False`` gives
                the full history.
            limit: at most this many.
        """
        q = select(ReviewRow).order_by(ReviewRow.id)
        if item_id is not None:
            q = q.where(ReviewRow.item_id == item_id)
        if reviewer is not None:
            q = q.where(ReviewRow.reviewer == reviewer)
        if current:
            newer = aliased(ReviewRow)
            q = q.where(~select(newer.id).where(newer.amends == ReviewRow.id).exists())
        if limit is not None:
            q = q.limit(limit)
        with self._tx("list reviews") as s:
            return [Review(id=r.id, item_id=r.item_id, reviewer=r.reviewer, created_at=r.created_at,
                           decision=r.decision, principles=tuple(r.principles or ()), correction=r.correction,
                           comment=r.comment, amends=r.amends, communities=tuple(r.communities or ()))
                    for r in s.scalars(q)]

