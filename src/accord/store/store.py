"""The audit store: an append-only record of decisions, feedback, reviews and model changes.

One :class:`Store` per process is enough: it holds a pooled engine and opens a short session per
call, so it is safe to share across threads (the proxy records decisions from many). Nothing is
ever updated or deleted; corrections are new rows that point to what they amend, and the
database itself refuses ``UPDATE`` and ``DELETE`` on these tables (triggers made by the migration).

:class:`Store` is assembled from parts, one module each: :mod:`~accord.store.core` (engine,
sessions, errors), :mod:`~accord.store.chain` (the decisions' hash chain),
:mod:`~accord.store.decision_log` (recording, verifying and reading decisions),
:mod:`~accord.store.rollup` (the daily counts of decisions the dashboard reads) and
:mod:`~accord.store.feedback_reviews` (feedback, the review queue, reviews); model versions, audit
events and statistics are here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select

from accord.errors import InputError
from accord.store.chain import (
    ChainReport,
    chain_hash,
)
from accord.store.core import (
    Recorder,
    check_choice,
    in_force,
)
from accord.store.decision_log import DecisionLog
from accord.store.feedback_reviews import FeedbackAndReviews
from accord.store.models import (
    DECISIONS,
    FEEDBACK_KINDS,
    MODEL_EVENTS,
    AuditEventRow,
    DecisionCountRow,
    FeedbackRow,
    ModelEventRow,
    ModelVersionRow,
    ReviewItemRow,
    ReviewRow,
    utcnow,
)
from accord.store.records import (
    AuditEvent,
    ModelEvent,
    ModelVersion,
    StoreStats,
)
from accord.store.rollup import DecisionCounts

__all__ = ["ChainReport", "Recorder", "Store", "chain_hash"]


class Store(DecisionLog, DecisionCounts, FeedbackAndReviews):
    """The audit store over one database (SQLite by default, PostgreSQL for many replicas).

    Open it with :meth:`Store.open`; the constructor takes an engine whose schema is already at
    head. Every method is one short transaction, safe to call from many threads.
    """

    # ------------------------------------------------------------------ models
    def add_model_version(self, name: str, version: str, path: str, *, card: dict[str, Any] | None = None,
                          metrics: dict[str, Any] | None = None, actor: str | None = None) -> int:
        """Register a trained model (not yet in use: promote it with :meth:`model_event`); returns its id.

        A ``(name, version)`` pair is registered once.
        """
        row = {"created_at": utcnow(), "name": name, "version": version, "path": str(path), "card": card or {},
               "metrics": metrics or {}, "actor": actor}
        with self._tx(f"register model {name} {version}") as s:
            if s.scalars(select(ModelVersionRow.id).where(ModelVersionRow.name == name,
                                                          ModelVersionRow.version == version)).first() is not None:
                raise InputError(f"model {name} version {version} is already registered")
            return int(s.execute(insert(ModelVersionRow).returning(ModelVersionRow.id), row).scalar_one())

    def model_event(self, model_id: int, event: str, actor: str, reason: str | None = None) -> int:
        """Record a status change of a model version; returns the event's id.

        ``promote`` makes the version the one in use for its name; ``rollback`` withdraws it, and
        the version promoted before it (that was not itself rolled back) is in use again.
        """
        check_choice(event, MODEL_EVENTS, "model event")
        with self._tx(f"record model event {event}") as s:
            if s.get(ModelVersionRow, model_id) is None:
                raise InputError(f"no model version {model_id}")
            row = {"created_at": utcnow(), "model_id": model_id, "event": event, "actor": actor, "reason": reason}
            return int(s.execute(insert(ModelEventRow).returning(ModelEventRow.id), row).scalar_one())

    def model_events(self, model_id: int | None = None) -> list[ModelEvent]:
        """Model status changes, oldest first (optionally of one version)."""
        q = select(ModelEventRow).order_by(ModelEventRow.id)
        if model_id is not None:
            q = q.where(ModelEventRow.model_id == model_id)
        with self._tx("list model events") as s:
            return [ModelEvent(id=e.id, created_at=e.created_at, model_id=e.model_id, event=e.event, actor=e.actor,
                               reason=e.reason) for e in s.scalars(q)]

    def model_versions(self, name: str | None = None) -> list[ModelVersion]:
        """Registered model versions, oldest first, each with its status derived from the events."""
        q = select(ModelVersionRow).order_by(ModelVersionRow.id)
        if name is not None:
            q = q.where(ModelVersionRow.name == name)
        with self._tx("list model versions") as s:
            rows = list(s.scalars(q))
            events = list(s.execute(select(ModelEventRow.model_id, ModelEventRow.event).order_by(ModelEventRow.id)))
        name_of = {r.id: r.name for r in rows}
        promoted: dict[str, list[int]] = {}
        last: dict[int, str] = {}
        for mid, ev in events:
            if mid not in name_of:
                continue
            stack = promoted.setdefault(name_of[mid], [])
            if mid in stack:
                stack.remove(mid)
            if ev == "promote":
                stack.append(mid)
            last[mid] = ev
        current = {stack[-1] for stack in promoted.values() if stack}

        def status(mid: int) -> str:
            if mid in current:
                return "current"
            return {"promote": "superseded", "rollback": "rolled back"}.get(last.get(mid, ""), "registered")

        return [ModelVersion(id=r.id, created_at=r.created_at, name=r.name, version=r.version, path=r.path,
                             card=r.card, metrics=r.metrics, actor=r.actor, status=status(r.id)) for r in rows]

    def current_model(self, name: str) -> ModelVersion | None:
        """The version of ``name`` in use (the latest promoted and not rolled back), or ``None``."""
        return next((m for m in self.model_versions(name) if m.current), None)

    # ------------------------------------------------------------------ audit events
    def audit(self, kind: str, actor: str, payload: dict[str, Any] | None = None) -> int:
        """Append a who/when/what line (``user.added``, ``key.created``...); returns its id."""
        row = {"created_at": utcnow(), "kind": kind, "actor": actor, "payload": payload or {}}
        with self._tx(f"record audit event {kind}") as s:
            return int(s.execute(insert(AuditEventRow).returning(AuditEventRow.id), row).scalar_one())

    def audit_events(self, kind: str | None = None, *, limit: int | None = 100) -> list[AuditEvent]:
        """Audit events, newest first."""
        q = select(AuditEventRow).order_by(AuditEventRow.id.desc())
        if kind is not None:
            q = q.where(AuditEventRow.kind == kind)
        if limit is not None:
            q = q.limit(limit)
        with self._tx("list audit events") as s:
            return [AuditEvent(id=e.id, created_at=e.created_at, kind=e.kind, actor=e.actor, payload=e.payload)
                    for e in s.scalars(q)]

    # ------------------------------------------------------------------ stats
    def stats(self) -> StoreStats:
        """Counts: decisions by decision, review items, open queue (no review yet), reviews, feedback in force by kind."""
        with self._tx("count rows") as s:
            # from the daily rollup (a few rows per day), not a count over every decision
            by_decision = {d: int(n) for d, n in s.execute(
                select(DecisionCountRow.decision, func.sum(DecisionCountRow.n))
                .where(DecisionCountRow.principle == "").group_by(DecisionCountRow.decision))}
            by_kind = {k: int(n) for k, n in s.execute(
                select(FeedbackRow.kind, func.count()).where(in_force()).group_by(FeedbackRow.kind))}
            reviewed = select(ReviewRow.id).where(ReviewRow.item_id == ReviewItemRow.id).exists()
            return StoreStats(
                decisions={d: by_decision.get(d, 0) for d in DECISIONS},
                review_items=int(s.scalar(select(func.count()).select_from(ReviewItemRow)) or 0),
                queue_open=int(s.scalar(select(func.count()).select_from(ReviewItemRow).where(~reviewed)) or 0),
                reviews=int(s.scalar(select(func.count()).select_from(ReviewRow)) or 0),
                feedback={k: by_kind.get(k, 0) for k in FEEDBACK_KINDS},
                model_versions=int(s.scalar(select(func.count()).select_from(ModelVersionRow)) or 0),
                audit_events=int(s.scalar(select(func.count()).select_from(AuditEventRow)) or 0),
            )
