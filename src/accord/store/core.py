"""The store's plumbing: one pooled engine, a short session or connection per call, and database
errors turned into :class:`~accord.errors.StoreError`; plus the row helpers the parts of
:class:`~accord.store.store.Store` share."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal, Self

from sqlalchemy import ColumnElement, Connection, Engine, Table, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, aliased, sessionmaker

from accord.errors import InputError, StoreError
from accord.store import migrate
from accord.store.models import (
    DecisionRow,
    FeedbackRow,
    ReviewItemRow,
)
from accord.store.records import (
    FeedbackRecord,
)
from accord.types import Case, Demonstration, Label, Preference, Verdict

Recorder = Callable[[Case, Verdict], None]
QueueStatus = Literal["open", "reviewed", "all"]
DECISIONS_TABLE: Table = DecisionRow.__table__  # type: ignore[assignment]
REVIEW_ITEMS_TABLE: Table = ReviewItemRow.__table__  # type: ignore[assignment]


def check_choice(value: str, allowed: Sequence[str], what: str) -> None:
    if value not in allowed:
        raise InputError(f"unknown {what} {value!r}; expected one of: {', '.join(allowed)}")


def feedback_columns(r: FeedbackRecord) -> dict[str, Any]:
    cols: dict[str, Any] = {"kind": r.kind, "context": r.context, "record_source": r.source, "weight": r.weight,
                            "action": None, "chosen": None, "rejected": None, "verdict": None, "principle": None}
    if isinstance(r, Label):
        cols.update(action=r.action, verdict=r.verdict, principle=r.principle)
    elif isinstance(r, Preference):
        cols.update(chosen=r.chosen, rejected=r.rejected)
    elif isinstance(r, Demonstration):
        cols.update(action=r.action)
    else:  # pragma: no cover - typed callers cannot get here
        raise InputError(f"not a feedback record: {type(r).__name__} (expected Label, Preference or Demonstration)")
    return cols


def feedback_record(row: FeedbackRow) -> FeedbackRecord:
    if row.kind == "label":
        return Label(context=row.context, action=row.action or "", verdict=row.verdict,  # type: ignore[arg-type]
                     principle=row.principle, source=row.record_source, weight=row.weight)
    if row.kind == "preference":
        return Preference(context=row.context, chosen=row.chosen or "", rejected=row.rejected or "",
                          source=row.record_source, weight=row.weight)
    return Demonstration(context=row.context, action=row.action or "", source=row.record_source, weight=row.weight)


def in_force() -> ColumnElement[bool]:
    """Feedback rows that no later row amends and that do not withdraw a record."""
    newer = aliased(FeedbackRow)
    return ~select(newer.id).where(newer.amends == FeedbackRow.id).exists() & FeedbackRow.retracted.is_(False)



class StoreCore:
    """Opening, closing and the transaction helpers (the base of :class:`~accord.store.store.Store`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._session = sessionmaker(engine, expire_on_commit=False)
        self.url = migrate.mask(engine.url)
        """The database URL with its password masked (for messages and logs)."""

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, url: str | None = None, *, upgrade: bool = True) -> Self:
        """Open the store and bring its schema to the newest revision.

        Args:
            url: a SQLAlchemy URL (``sqlite:///path.db``, ``postgresql+psycopg://user:pw@host/db``).
                ``None`` or empty: ``ACCORD_DATABASE_URL``, else ``.accord/accord.db`` under the
                current directory (the folder is created).
            upgrade: run the migrations (the default). Turn off only where another process owns
                the schema; the store then fails on first use if the schema is behind.

        Raises:
            StoreError: the database cannot be reached or migrated; the message names the URL
                (password masked) and what to do.
        """
        engine = migrate.make_engine(url or migrate.default_url())
        if upgrade:
            try:
                migrate.upgrade(engine)
            except BaseException:
                engine.dispose()
                raise
        return cls(engine)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, for read-only queries and health checks of the server."""
        return self._engine

    def close(self) -> None:
        """Release the connections (the store can no longer be used)."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    @contextmanager
    def _tx(self, doing: str) -> Iterator[Session]:
        """One transaction; a database failure becomes a :class:`StoreError` naming the URL."""
        try:
            with self._session.begin() as s:
                yield s
        except SQLAlchemyError as e:
            raise StoreError(f"cannot {doing} in {self.url}: {migrate.first_line(e)}",
                             hint=None if isinstance(e, IntegrityError) else migrate._open_hint(self._engine.url),
                             ) from None

    @contextmanager
    def _write(self, doing: str) -> Iterator[Connection]:
        """A bare Core transaction for the hot path (about half the cost of an ORM session)."""
        try:
            with self._engine.begin() as conn:
                yield conn
        except SQLAlchemyError as e:
            raise StoreError(f"cannot {doing} in {self.url}: {migrate.first_line(e)}",
                             hint=None if isinstance(e, IntegrityError) else migrate._open_hint(self._engine.url),
                             ) from None

    @staticmethod
    def _review_row(case: Case, verdict: Verdict, priority: float | None, source: str, now: datetime) -> dict[str, Any]:
        return {"created_at": now, "trace_id": verdict.trace_id, "case_json": case.model_dump(mode="json"),
                "verdict_json": verdict.model_dump(mode="json"),
                "priority": float(verdict.risk if priority is None else priority),
                "community": case.community, "source": source}
