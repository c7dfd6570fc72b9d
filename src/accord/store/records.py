"""What the store hands back: frozen dataclasses, one per kind of row.

Rows that hold a case or a verdict keep the stored JSON as it was written (``case_json``,
``verdict_json``) and parse it on demand (``.case``, ``.verdict``), so listing an old audit trail
never fails because a later version of accord reads verdicts differently.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from accord.types import Case, Demonstration, Label, Preference, Verdict

FeedbackRecord = Label | Preference | Demonstration


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in d.items()}


class _Row:
    """Base of the row dataclasses: ``as_dict`` is their fields, JSON-ready (times in ISO 8601, UTC)."""

    __slots__ = ()

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, for ``--json`` output and HTTP bodies."""
        return _jsonable(asdict(self))  # type: ignore[call-overload]


class _WithCase(_Row):
    """A row that stores a case and a verdict as JSON, parsed (and validated) when asked for."""

    __slots__ = ()
    case_json: dict[str, Any]
    verdict_json: dict[str, Any]

    @property
    def case(self) -> Case:
        """The case as a :class:`~accord.types.Case`."""
        return Case.model_validate(self.case_json)

    @property
    def verdict(self) -> Verdict:
        """The gate's verdict as a :class:`~accord.types.Verdict`."""
        return Verdict.model_validate(self.verdict_json)


@dataclass(frozen=True, slots=True)
class DecisionRecord(_WithCase):
    """One recorded gate decision (a row of ``decisions``)."""

    id: int
    trace_id: str
    created_at: datetime
    decision: str
    risk: float
    community: str | None
    judge_version: str
    case_id: str | None
    source: str
    case_json: dict[str, Any]
    verdict_json: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FeedbackEntry(_Row):
    """One row of ``feedback``: the record with where it came from and what it amends.

    ``source`` is the channel (``cli``, ``review``, ``api``...), distinct from the record's own
    ``record.source``. A row with ``amends`` replaces an earlier row; with ``retracted`` true it
    withdraws it (``record`` then repeats the withdrawn record).
    """

    id: int
    created_at: datetime
    record: FeedbackRecord
    source: str
    author: str | None
    trace_id: str | None
    amends: int | None
    retracted: bool
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the record in its JSONL form."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "record"}
        d["record"] = self.record.model_dump(mode="json", exclude_none=True)
        return _jsonable(d)


@dataclass(frozen=True, slots=True)
class ReviewItem(_WithCase):
    """A case waiting for (or having had) human review; ``reviewers`` counts distinct reviewers."""

    id: int
    created_at: datetime
    trace_id: str | None
    priority: float
    community: str | None
    source: str
    case_json: dict[str, Any]
    verdict_json: dict[str, Any]
    reviewers: int = 0


@dataclass(frozen=True, slots=True)
class Review(_Row):
    """One person's verdict on a review item; ``amends`` points to the review it corrects."""

    id: int
    item_id: int
    reviewer: str
    created_at: datetime
    decision: str
    principles: tuple[str, ...]
    correction: str | None
    comment: str | None
    amends: int | None
    communities: tuple[str, ...] = ()  # with decision ``depends``: where the action is acceptable

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        d = _jsonable(asdict(self))
        d["principles"] = list(self.principles)
        d["communities"] = list(self.communities)
        return d


@dataclass(frozen=True, slots=True)
class ModelVersion(_Row):
    """A registered value model; ``status`` and ``current`` are derived from its events.

    ``status`` is ``current`` (the version in use for its name), ``superseded`` (promoted once,
    replaced by a later promotion), ``rolled back`` or ``registered`` (never promoted).
    """

    id: int
    created_at: datetime
    name: str
    version: str
    path: str
    card: dict[str, Any]
    metrics: dict[str, Any]
    actor: str | None
    status: str = "registered"

    @property
    def current(self) -> bool:
        """Whether this is the version in use for its name."""
        return self.status == "current"


@dataclass(frozen=True, slots=True)
class ModelEvent(_Row):
    """A status change of a model version: who promoted or rolled it back, when and why."""

    id: int
    created_at: datetime
    model_id: int
    event: str
    actor: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class AuditEvent(_Row):
    """A generic who/when/what line (user added, key created, charter changed...)."""

    id: int
    created_at: datetime
    kind: str
    actor: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DecisionCount(_Row):
    """A group of the daily rollup: decisions on one UTC day with one decision and community
    (``None``: no community), all of them or (``principle`` set) those violating that principle."""

    day: date
    decision: str
    community: str | None
    principle: str | None
    n: int

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the day in ISO 8601)."""
        d = asdict(self)
        d["day"] = self.day.isoformat()
        return d


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Counts for dashboards and metrics: decisions by decision, queue size, feedback by kind."""

    decisions: dict[str, int] = field(default_factory=dict)
    review_items: int = 0
    queue_open: int = 0
    reviews: int = 0
    feedback: dict[str, int] = field(default_factory=dict)
    model_versions: int = 0
    audit_events: int = 0

    @property
    def decisions_total(self) -> int:
        """All recorded decisions."""
        return sum(self.decisions.values())

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (with ``decisions_total``)."""
        d = asdict(self)
        d["decisions_total"] = self.decisions_total
        return d
