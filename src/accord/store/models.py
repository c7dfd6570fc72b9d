"""The audit store's tables, as SQLAlchemy 2 typed declarative models.

These classes describe the schema the code expects; the schema in a database is made by the
Alembic migrations in :mod:`accord.store.migrations` (a test checks that the two agree). Every
table here is append-only: the migrations add triggers that refuse ``UPDATE`` and ``DELETE``, and
a correction is a new row that points to the row it amends.

Identifiers are ``BIGINT`` on PostgreSQL and ``INTEGER`` (the rowid) on SQLite. Times are stored
as UTC; JSON is ``JSONB`` on PostgreSQL and ``JSON`` (text) on SQLite.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: constraint names are fixed so migrations and both databases agree on them
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: the tables that refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL)
APPEND_ONLY_TABLES = (
    "decisions",
    "feedback",
    "model_versions",
    "model_events",
    "review_items",
    "reviews",
    "audit_events",
)

#: derived tables: kept by triggers from the append-only ones, not history themselves, so they may be
#: updated (and rebuilt); the audit trail never depends on them
DERIVED_TABLES = ("decision_counts",)

DECISIONS = ("allow", "revise", "block", "escalate")
FEEDBACK_KINDS = ("label", "preference", "demonstration")
#: a reviewer's answers: allow, block, ``depends`` (on the community: acceptable for the
#: communities the review names, not for the others) or ``discuss`` (needs discussion)
REVIEW_DECISIONS = ("allow", "block", "depends", "discuss")
MODEL_EVENTS = ("promote", "rollback")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    SQLite has no time zones, so values are stored as naive UTC and given ``tzinfo=UTC`` when read;
    PostgreSQL stores ``timestamptz`` and values are converted to UTC when read. A naive value
    written is taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: a primary key that is BIGINT on PostgreSQL and the rowid alias on SQLite
Id = BigInteger().with_variant(Integer(), "sqlite")
#: JSONB on PostgreSQL (indexable, compact), JSON text elsewhere
Json = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """The current time in UTC (every ``created_at`` is written by the application, not the server)."""
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    """Declarative base with the store's naming convention and type map."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: Json}


class DecisionRow(Base):
    """One gate verdict on one case: the audit trail."""

    __tablename__ = "decisions"
    __table_args__ = (
        CheckConstraint(_in("decision", DECISIONS), name="decision"),
        Index(None, "created_at"),
        Index(None, "case_id"),
        # for millions of decisions (migration 0005): time windows per decision and community,
        # newest-first lists per decision and per source; PostgreSQL also has a GIN index on
        # verdict_json -> 'principles' (an expression index, made by the migration only)
        Index(None, "created_at", "decision", "community"),
        Index(None, "community", "created_at"),
        Index(None, "decision", "id"),
        Index(None, "source", "id"),
        Index("ix_decisions_principles", text("(verdict_json -> 'principles') jsonb_path_ops"),
              postgresql_using="gin").ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    trace_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    decision: Mapped[str] = mapped_column(String(16))
    risk: Mapped[float] = mapped_column(Float)
    community: Mapped[str | None] = mapped_column(String(200))
    judge_version: Mapped[str] = mapped_column(String(400))
    case_id: Mapped[str | None] = mapped_column(String(400))
    source: Mapped[str] = mapped_column(String(64))
    case_json: Mapped[dict[str, Any]]
    verdict_json: Mapped[dict[str, Any]]
    #: SHA-256 over the previous decision's ``chain`` and this row's content (tamper evidence)
    chain: Mapped[str | None] = mapped_column(String(64))


class FeedbackRow(Base):
    """One feedback record (label, preference or demonstration), or a correction of an earlier one.

    ``source`` is the channel the record came in by (``cli``, ``review``...); ``record_source`` is
    the record's own ``source`` field, so a record round-trips exactly. A row with ``amends`` set
    replaces the row it points to (and its chain); with ``retracted`` true it withdraws it.
    """

    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint(_in("kind", FEEDBACK_KINDS), name="kind"),
        CheckConstraint("verdict IS NULL OR verdict IN ('acceptable', 'unacceptable')", name="verdict"),
        CheckConstraint("weight > 0", name="weight"),
        UniqueConstraint("amends"),
        Index(None, "kind"),
        Index(None, "trace_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    context: Mapped[str] = mapped_column(Text)
    action: Mapped[str | None] = mapped_column(Text)
    chosen: Mapped[str | None] = mapped_column(Text)
    rejected: Mapped[str | None] = mapped_column(Text)
    verdict: Mapped[str | None] = mapped_column(String(16))
    principle: Mapped[str | None] = mapped_column(String(200))
    record_source: Mapped[str | None] = mapped_column(String(400))
    weight: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(64))
    author: Mapped[str | None] = mapped_column(String(200))
    trace_id: Mapped[str | None] = mapped_column(String(64))
    amends: Mapped[int | None] = mapped_column(Id, ForeignKey("feedback.id"))
    retracted: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str | None] = mapped_column(Text)


class ModelVersionRow(Base):
    """A trained value model registered in the store; its status lives in ``model_events``."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime]
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(Text)
    card: Mapped[dict[str, Any]]
    metrics: Mapped[dict[str, Any]]
    actor: Mapped[str | None] = mapped_column(String(200))


class ModelEventRow(Base):
    """A status change of a model version (promote or rollback), with who, when and why."""

    __tablename__ = "model_events"
    __table_args__ = (
        CheckConstraint(_in("event", MODEL_EVENTS), name="event"),
        Index(None, "model_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime]
    model_id: Mapped[int] = mapped_column(Id, ForeignKey("model_versions.id"))
    event: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)


class ReviewItemRow(Base):
    """A case put in front of people (usually an escalated verdict), with its priority."""

    __tablename__ = "review_items"
    __table_args__ = (
        Index(None, "trace_id"),
        Index(None, "priority"),
        Index(None, "community"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime]
    trace_id: Mapped[str | None] = mapped_column(String(64))
    case_json: Mapped[dict[str, Any]]
    verdict_json: Mapped[dict[str, Any]]
    priority: Mapped[float] = mapped_column(Float)
    community: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(64))


class ReviewRow(Base):
    """One person's verdict on a review item; a changed mind is a new row that ``amends`` it."""

    __tablename__ = "reviews"
    __table_args__ = (
        CheckConstraint(_in("decision", REVIEW_DECISIONS), name="decision"),
        UniqueConstraint("amends"),
        Index(None, "item_id"),
        Index(None, "reviewer"),
        Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(Id, ForeignKey("review_items.id"))
    reviewer: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    decision: Mapped[str] = mapped_column(String(16))
    principles: Mapped[list[str]] = mapped_column(Json)
    correction: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    amends: Mapped[int | None] = mapped_column(Id, ForeignKey("reviews.id"))
    #: with ``depends``: the communities the action is acceptable for
    communities: Mapped[list[str] | None] = mapped_column(Json, nullable=True)


class AuditEventRow(Base):
    """Anything else worth a who/when/what line: a user added, a key created, a charter changed."""

    __tablename__ = "audit_events"
    __table_args__ = (Index(None, "kind"), Index(None, "created_at"))

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]]


class DecisionCountRow(Base):
    """The daily rollup of ``decisions`` (migration 0006): how many decisions per UTC day, decision,
    community (``''``: none) and principle (``''``: every decision of the group; else the decisions
    whose verdict marks that principle violated).

    Derived data, not history: a trigger on ``decisions`` adds to it in the inserting transaction,
    on every write path; it is not append-only (its counters grow) and can be rebuilt from
    ``decisions`` (:meth:`accord.store.store.Store.rebuild_decision_counts`).
    """

    __tablename__ = "decision_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    decision: Mapped[str] = mapped_column(String(16), primary_key=True)
    community: Mapped[str] = mapped_column(String(200), primary_key=True)
    principle: Mapped[str] = mapped_column(String(200), primary_key=True)
    n: Mapped[int] = mapped_column(Id)
