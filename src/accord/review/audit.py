"""The one seam between verdicts and the audit store: every route records through it.

The command line (``accord check --record``), the library (``Gate(..., recorder=...)``) and the
proxy (through its background :class:`~accord.server.proxy.sinks.AuditWriter`, which only wraps
a :class:`Sinks`) all record a verdict the same way:

* **every verdict** is appended to the audit trail;
* **every escalation** is queued for review in the same transaction, with priority
  :func:`escalation_priority` = uncertainty × severity
  (:func:`~accord.review.priority.review_priority`), so an escalation is never recorded without
  its review item, nor the item without the decision;
* **a failed write is never dropped**: it raises to the caller (the gate call fails; the proxy's
  writer sets it on the request's future and the answer is withheld with a 503).

:class:`StoreSinks` writes to an :class:`~accord.store.Store`; :class:`MemorySinks` keeps
everything in lists (tests, running without a database).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from accord.review.priority import review_priority
from accord.store import Store
from accord.types import Case, Verdict

#: what a gate calls with every (case, verdict) it decides
Recorder = Callable[[Case, Verdict], None]


class Sinks(Protocol):
    """Where decisions, review items and other events go (:class:`StoreSinks`, :class:`MemorySinks`)."""

    def record(self, case: Case, verdict: Verdict, source: str, review_priority: float | None = None) -> None:
        """Append one decision to the audit trail; with ``review_priority``, queue it for review in
        the same transaction (an escalation is never recorded without its review item)."""

    def enqueue_review(self, case: Case, verdict: Verdict, priority: float) -> None:
        """Put an escalated case in front of people."""

    def audit(self, kind: str, actor: str, payload: dict[str, Any]) -> None:
        """Append any other event (a key created, a server started)."""

    def queue_size(self) -> int | None:
        """Cases waiting for a person, when known."""


def escalation_priority(verdict: Verdict) -> float | None:
    """The review item a verdict gets: uncertainty × severity for an escalation, none otherwise."""
    return review_priority(verdict) if verdict.decision == "escalate" else None


def recorder(sinks: Sinks, source: str) -> Recorder:
    """A gate recorder: every verdict to the audit trail, every escalation to the review queue.

    A failed write raises out of the gate call: a decision that cannot be audited, or an
    escalation that would silently never reach a person, is not dropped.
    """

    def record(case: Case, verdict: Verdict) -> None:
        sinks.record(case, verdict, source, escalation_priority(verdict))

    record.__qualname__ = f"recorder({source!r})"
    return record


@dataclass
class MemorySinks:
    """Keeps everything in lists: for tests and for running without a database."""

    decisions: list[tuple[Case, Verdict, str]] = field(default_factory=list)
    reviews: list[tuple[Case, Verdict, float]] = field(default_factory=list)
    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def record(self, case: Case, verdict: Verdict, source: str, review_priority: float | None = None) -> None:
        self.decisions.append((case, verdict, source))
        if review_priority is not None:
            self.reviews.append((case, verdict, review_priority))

    def enqueue_review(self, case: Case, verdict: Verdict, priority: float) -> None:
        self.reviews.append((case, verdict, priority))

    def audit(self, kind: str, actor: str, payload: dict[str, Any]) -> None:
        self.events.append((kind, actor, payload))

    def queue_size(self) -> int | None:
        return len(self.reviews)


class StoreSinks:
    """The audit store behind the seam.

    Args:
        store: the audit store.
        review_source: who queued the review items (default: the decision's ``source``).
    """

    def __init__(self, store: Store, review_source: str | None = None) -> None:
        self.store = store
        self.review_source = review_source

    def record(self, case: Case, verdict: Verdict, source: str, review_priority: float | None = None) -> None:
        self.store.record_decision(case, verdict, source=source, review_priority=review_priority,
                                   review_source=self.review_source)

    def record_many(self, pairs: list[tuple[Case, Verdict]], source: str) -> None:
        """One transaction for many decisions (none of them escalations: those carry a review item)."""
        self.store.record_decisions(pairs, source=source)

    def enqueue_review(self, case: Case, verdict: Verdict, priority: float) -> None:
        self.store.enqueue_review(case, verdict, priority=priority, source=self.review_source or "gate")

    def audit(self, kind: str, actor: str, payload: dict[str, Any]) -> None:
        self.store.audit(kind, actor, payload)

    def queue_size(self) -> int | None:
        return int(self.store.stats().queue_open)
