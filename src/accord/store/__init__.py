"""The audit store: every decision, feedback record, review and model change, append-only.

SQLite by default (``.accord/accord.db``), PostgreSQL for many gate replicas; the schema is made
and upgraded by Alembic migrations shipped in the package. Typical use::

    from accord import Gate
    from accord.review import escalation_recorder
    from accord.store import Store

    store = Store.open()                       # ACCORD_DATABASE_URL, else .accord/accord.db
    gate = Gate.default(recorder=escalation_recorder(store, "app"))
    gate.check(context="...", action="...")    # recorded; an escalation is also queued for review
    store.decisions(limit=10, decision="block")

``escalation_recorder`` is the audit seam (:mod:`accord.review.audit`) that the command line and
the proxy record through too: every verdict is recorded and every escalation queued for review,
with priority uncertainty × severity. ``store.recorder(source)`` records verdicts only.
"""

from accord.store.migrate import ENV_VAR, default_url
from accord.store.records import (
    AuditEvent,
    DecisionRecord,
    FeedbackEntry,
    FeedbackRecord,
    ModelEvent,
    ModelVersion,
    Review,
    ReviewItem,
    StoreStats,
)
from accord.store.store import Recorder, Store

__all__ = [
    "ENV_VAR",
    "AuditEvent",
    "DecisionRecord",
    "FeedbackEntry",
    "FeedbackRecord",
    "ModelEvent",
    "ModelVersion",
    "Recorder",
    "Review",
    "ReviewItem",
    "Store",
    "StoreStats",
    "default_url",
]
