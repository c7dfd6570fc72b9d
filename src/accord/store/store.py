"""The audit store: an append-only record of decisions, feedback, reviews and model changes.

One :class:`Store` per process is enough: it holds a pooled engine and opens a short session per
call, so it is safe to share across threads (the proxy records decisions from many). Nothing is
ever updated or deleted; corrections are new rows that point to what they amend, and the
database itself refuses ``UPDATE`` and ``DELETE`` on these tables (triggers made by the migration).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, Engine, Table, func, insert, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, aliased, sessionmaker

from accord.errors import InputError, StoreError
from accord.store import migrate
from accord.store.models import (
    DECISIONS,
    FEEDBACK_KINDS,
    MODEL_EVENTS,
    REVIEW_DECISIONS,
    AuditEventRow,
    DecisionRow,
    FeedbackRow,
    ModelEventRow,
    ModelVersionRow,
    ReviewItemRow,
    ReviewRow,
    utcnow,
)
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
from accord.types import Case, Demonstration, Label, Preference, Verdict

__all__ = ["ChainReport", "Recorder", "Store", "chain_hash"]

Recorder = Callable[[Case, Verdict], None]
QueueStatus = Literal["open", "reviewed", "all"]
_DECISIONS: Table = DecisionRow.__table__  # type: ignore[assignment]
_REVIEW_ITEMS: Table = ReviewItemRow.__table__  # type: ignore[assignment]
#: key of the PostgreSQL advisory lock that serialises writers of the decision chain ("chain")
_PG_CHAIN_LOCK = 0x636861696E
#: the columns of a decision its chain hash covers (everything but the id and the hash itself)
_CHAINED = ("trace_id", "created_at", "decision", "risk", "community", "judge_version", "case_id", "source",
            "case_json", "verdict_json")


def chain_hash(prev: str, row: dict[str, Any]) -> str:
    """SHA-256 (hex) over the previous decision's hash and this decision's content.

    The content is canonical JSON of the :data:`_CHAINED` columns (times as UTC ISO 8601), so the
    same row read back from SQLite or PostgreSQL hashes the same. Changing, deleting, inserting
    or reordering any row breaks the chain from that row on; rewriting the whole table changes
    the head, which :meth:`Store.verify` prints so that it can be written down elsewhere.
    """
    content = {k: row[k] for k in _CHAINED}
    content["created_at"] = _utc(row["created_at"]).isoformat()  # type: ignore[union-attr]
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev}\n{blob}".encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """What :meth:`Store.verify` found.

    Attributes:
        ok: every chained decision follows from the one before it.
        decisions: decisions read.
        unchained: decisions written before the chain existed (schema 0003), at the start.
        first_bad: the id of the first decision that does not follow (``None`` when ``ok``).
        problem: what is wrong with it, for a person.
        head: the newest decision's hash: write it down elsewhere to detect a rewrite of the whole table.
    """

    ok: bool
    decisions: int
    unchained: int
    first_bad: int | None
    problem: str | None
    head: str | None



#: one encoder, made once: ``json.dumps`` with options builds a new encoder per call (a third of a bulk write)
_CANON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_canon = _CANON.encode
_CHAINED_SORTED = tuple(sorted(_CHAINED))
_KEYS_JSON = {k: _canon(k) for k in _CHAINED}


def _chain_parts(prev: str, row: dict[str, Any]) -> tuple[str, str, str]:
    """:func:`chain_hash` of ``row`` and its case and verdict as canonical JSON text, each serialised once.

    The blob is built from the canonical pieces: byte for byte what :func:`chain_hash` hashes (a
    test keeps the two equal), while the bulk path reuses the pieces as the JSONB text it copies.
    """
    pieces = {k: _canon(row[k]) for k in _CHAINED if k != "created_at"}
    pieces["created_at"] = _canon(_utc(row["created_at"]).isoformat())  # type: ignore[union-attr]
    blob = "{" + ",".join(f"{_KEYS_JSON[k]}:{pieces[k]}" for k in _CHAINED_SORTED) + "}"
    digest = hashlib.sha256(f"{prev}\n{blob}".encode("utf-8", "surrogatepass")).hexdigest()
    return digest, pieces["case_json"], pieces["verdict_json"]


def _pg_text(text: str, obj: Any) -> str:
    """``text`` for COPY, or, when it holds a lone surrogate (not UTF-8), ``obj`` as ASCII-escaped JSON
    as the statement path sends it (the server then decides, as it does there)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj)
    return text


def _nul_in_columns(row: dict[str, Any]) -> bool:
    return any(isinstance(v, str) and "\x00" in v for v in row.values())


def _utc(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _check(value: str, allowed: Sequence[str], what: str) -> None:
    if value not in allowed:
        raise InputError(f"unknown {what} {value!r}; expected one of: {', '.join(allowed)}")


def _feedback_columns(r: FeedbackRecord) -> dict[str, Any]:
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


def _feedback_record(row: FeedbackRow) -> FeedbackRecord:
    if row.kind == "label":
        return Label(context=row.context, action=row.action or "", verdict=row.verdict,  # type: ignore[arg-type]
                     principle=row.principle, source=row.record_source, weight=row.weight)
    if row.kind == "preference":
        return Preference(context=row.context, chosen=row.chosen or "", rejected=row.rejected or "",
                          source=row.record_source, weight=row.weight)
    return Demonstration(context=row.context, action=row.action or "", source=row.record_source, weight=row.weight)


def _in_force() -> ColumnElement[bool]:
    """Feedback rows that no later row amends and that do not withdraw a record."""
    newer = aliased(FeedbackRow)
    return ~select(newer.id).where(newer.amends == FeedbackRow.id).exists() & FeedbackRow.retracted.is_(False)


class Store:
    """The audit store over one database (SQLite by default, PostgreSQL for many replicas).

    Open it with :meth:`Store.open`; the constructor takes an engine whose schema is already at
    head. Every method is one short transaction, safe to call from many threads.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._session = sessionmaker(engine, expire_on_commit=False)
        self.url = migrate.mask(engine.url)
        """The database URL with its password masked (for messages and logs)."""

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, url: str | None = None, *, upgrade: bool = True) -> Store:
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

    def __enter__(self) -> Store:
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

    # ------------------------------------------------------------------ decisions
    @staticmethod
    def _decision_row(case: Case, verdict: Verdict, source: str, now: datetime) -> dict[str, Any]:
        return {
            "trace_id": verdict.trace_id,
            "created_at": now,
            "decision": verdict.decision,
            "risk": verdict.risk,
            "community": case.community,
            "judge_version": verdict.judge_version,
            "case_id": verdict.case_id if verdict.case_id is not None else case.id,
            "source": source,
            "case_json": case.model_dump(mode="json"),
            "verdict_json": verdict.model_dump(mode="json"),
        }

    def _insert_chained(self, conn: Connection, rows: list[dict[str, Any]],
                        reviews: Sequence[dict[str, Any] | None] = (), *, copy: bool = False) -> list[int]:
        """Insert decisions (and their review items) with their chain hashes, in the caller's transaction.

        The chain's head is read under the database's write lock (``BEGIN IMMEDIATE`` on SQLite, an
        advisory lock on PostgreSQL), so concurrent writers, in this process or others, extend one chain.
        """
        dialect = conn.dialect.name
        if dialect == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CHAIN_LOCK})
        prev = conn.execute(select(_DECISIONS.c.chain).order_by(_DECISIONS.c.id.desc()).limit(1)).scalar() or ""
        if copy and dialect == "postgresql" and not reviews:
            return self._copy_chained(conn, rows, prev)
        for row in rows:
            hashed = migrate._scrub(row) if dialect == "postgresql" else row  # what the database will hold
            row["chain"] = prev = chain_hash(prev, hashed)
        ids = [int(conn.execute(insert(_DECISIONS).returning(_DECISIONS.c.id), row).scalar_one()) for row in rows] \
            if len(rows) == 1 or reviews else []
        if not ids:
            conn.execute(insert(_DECISIONS), rows)
        items = [r for r in reviews if r is not None]
        if items:
            conn.execute(insert(_REVIEW_ITEMS), items)
        return ids

    def _copy_chained(self, conn: Connection, rows: list[dict[str, Any]], prev: str) -> list[int]:
        """PostgreSQL: the rows by ``COPY ... FROM STDIN`` in the caller's transaction (no ids returned).

        One stream instead of one statement per row: several times faster than ``executemany``.
        The rows are scrubbed of NUL first (the event hook that does it for statements does not see
        a COPY), and hashed as scrubbed, so the chain covers exactly what the database holds.
        """
        cols = ("trace_id", "created_at", "decision", "risk", "community", "judge_version", "case_id", "source",
                "case_json", "verdict_json", "chain")
        raw = conn.connection.dbapi_connection
        assert raw is not None
        try:
            self._copy_rows(raw, cols, rows, prev)
        except Exception as e:  # psycopg's own errors: a raw cursor is not wrapped by SQLAlchemy
            if not type(e).__module__.startswith("psycopg"):
                raise
            raise StoreError(f"cannot record {len(rows)} decisions in {self.url}: {migrate.first_line(e)}") from None
        return []

    @staticmethod
    def _copy_rows(raw: Any, cols: tuple[str, ...], rows: list[dict[str, Any]], prev: str) -> None:
        with raw.cursor() as cur, cur.copy(f"COPY decisions ({', '.join(cols)}) FROM STDIN") as cp:
            for row in rows:
                held = row
                digest, case_json, verdict_json = _chain_parts(prev, row)
                if "\\u0000" in case_json or "\\u0000" in verdict_json or _nul_in_columns(row):
                    held = migrate._scrub(row)  # rare: hash and copy what the database will hold
                    digest, case_json, verdict_json = _chain_parts(prev, held)
                row["chain"] = prev = digest
                case_json, verdict_json = _pg_text(case_json, held["case_json"]), _pg_text(verdict_json, held["verdict_json"])
                cp.write_row((held["trace_id"], _utc(held["created_at"]), held["decision"], held["risk"],
                              held["community"], held["judge_version"], held["case_id"], held["source"],
                              case_json, verdict_json, prev))

    @staticmethod
    def _review_row(case: Case, verdict: Verdict, priority: float | None, source: str, now: datetime) -> dict[str, Any]:
        return {"created_at": now, "trace_id": verdict.trace_id, "case_json": case.model_dump(mode="json"),
                "verdict_json": verdict.model_dump(mode="json"),
                "priority": float(verdict.risk if priority is None else priority),
                "community": case.community, "source": source}

    def record_decision(self, case: Case, verdict: Verdict, source: str = "gate", *,
                        review_priority: float | None = None, review: bool = False,
                        review_source: str | None = None) -> int:
        """Append one gate decision to the audit trail; returns its row id.

        This is the gate's hot path: one ``INSERT`` in one short transaction, chained to the
        decision before it (:func:`chain_hash`). A second decision with the same ``trace_id`` is
        refused (a verdict is recorded once).

        Args:
            case: what was judged.
            verdict: the gate's verdict, stored in full (``model_dump(mode="json")``).
            source: who asked (``gate``, ``cli``, ``proxy``, ``suite``...).
            review: also queue the case for review, in the same transaction (an escalation is
                never recorded without its review item, nor the item without the decision).
            review_priority: the review item's priority (``None``: the verdict's risk); setting it
                implies ``review``.
            review_source: who queued the review item (default: ``source``).
        """
        now = utcnow()
        row = self._decision_row(case, verdict, source, now)
        item = self._review_row(case, verdict, review_priority, review_source or source, now) \
            if review or review_priority is not None else None
        with self._write(f"record decision {verdict.trace_id}") as conn:
            return self._insert_chained(conn, [row], [item] if item else [])[0]

    def record_decisions(self, pairs: Iterable[tuple[Case, Verdict]], source: str = "gate", *,
                         review: Callable[[Case, Verdict], float | None] | None = None) -> int:
        """Append many decisions in one transaction (for ``Gate.check_many``); returns the count.

        Use with ``gate.check_many(cases, record=False)``: one round trip and one commit for the
        batch instead of one per case. All or nothing. ``review`` gives, per decision, the
        priority of its review item, or ``None`` for no item (e.g. review priority for
        escalations only); the items are written in the same transaction.
        """
        now = utcnow()
        pairs = list(pairs)
        rows = [self._decision_row(c, v, source, now) for c, v in pairs]
        if not rows:
            return 0
        items: list[dict[str, Any] | None] = []
        if review is not None:
            for c, v in pairs:
                pr = review(c, v)
                items.append(None if pr is None else self._review_row(c, v, pr, source, now))
        with self._write(f"record {len(rows)} decisions") as conn:
            self._insert_chained(conn, rows, items if any(x is not None for x in items) else [])
        return len(rows)

    def record_decisions_bulk(self, pairs: Iterable[tuple[Case, Verdict]], source: str = "batch", *,
                              page: int = 5000) -> int:
        """Append many decisions fast (batch re-audits, imports); returns the count.

        Pages of ``page`` decisions, each one transaction chained to the head exactly as
        :meth:`record_decisions` chains it (so :meth:`verify` holds), written on PostgreSQL with
        ``COPY`` (one stream per page) and on SQLite with one ``executemany``. A page is all or
        nothing; a failure part-way leaves the pages before it written (their trace ids tell
        which: :meth:`existing_trace_ids`).
        """
        if page < 1:
            raise InputError(f"page must be at least 1 (got {page})")
        total = 0
        batch: list[tuple[Case, Verdict]] = []

        def flush() -> None:
            nonlocal total
            now = utcnow()
            rows = [self._decision_row(c, v, source, now) for c, v in batch]
            with self._write(f"record {len(rows)} decisions") as conn:
                self._insert_chained(conn, rows, copy=True)
            total += len(rows)
            batch.clear()

        for pair in pairs:
            batch.append(pair)
            if len(batch) >= page:
                flush()
        if batch:
            flush()
        return total

    def verify(self, *, anchor: str | None = None, batch: int = 2000) -> ChainReport:
        """Recompute the decisions' hash chain and name the first decision that does not follow.

        Detects a decision changed (``REPLACE``, or ``UPDATE`` with the triggers disabled), deleted,
        inserted or moved; the head it returns, compared with one written down earlier, detects a
        rewrite of the whole table: pass that earlier head as ``anchor`` and the chain must still
        hold it (the report is not ok otherwise).
        """
        report = self._verify(batch)
        if report.ok and anchor is not None and not self._holds(anchor.strip().lower()):
            return ChainReport(False, report.decisions, report.unchained, None,
                               f"the chain no longer holds the head {anchor!r} written down earlier: "
                               "the table was rewritten or cut back", report.head)
        return report

    def _holds(self, anchor: str) -> bool:
        with self._tx("look up a chain hash") as s:
            return s.execute(select(_DECISIONS.c.id).where(_DECISIONS.c.chain == anchor).limit(1)).first() is not None

    def _verify(self, batch: int) -> ChainReport:
        prev = ""
        n = unchained = 0
        chained_seen = False
        cols = [_DECISIONS.c.id, _DECISIONS.c.chain, *(_DECISIONS.c[k] for k in _CHAINED)]
        last_id = None
        with self._tx("verify the decision chain") as s:
            while True:
                q = select(*cols).order_by(_DECISIONS.c.id).limit(batch)
                if last_id is not None:
                    q = q.where(_DECISIONS.c.id > last_id)
                rows = s.execute(q).mappings().all()
                if not rows:
                    break
                for r in rows:
                    n += 1
                    last_id = r["id"]
                    if r["chain"] is None:
                        if chained_seen:
                            return ChainReport(False, n, unchained, r["id"], "has no chain hash, but decisions before "
                                               "it have one (its hash was removed)", prev or None)
                        unchained += 1
                        continue
                    chained_seen = True
                    want = chain_hash(prev, dict(r))
                    if want != r["chain"]:
                        return ChainReport(False, n, unchained, r["id"],
                                           "does not follow from the decision before it: it was changed, or a "
                                           "decision before it was deleted, inserted or moved", prev or None)
                    prev = r["chain"]
        return ChainReport(True, n, unchained, None, None, prev or None)

    def recorder(self, source: str = "gate") -> Recorder:
        """A callback for ``Gate(..., recorder=store.recorder("cli"))`` that records every verdict.

        A failed write raises :class:`StoreError` out of the gate call: a decision that cannot be
        audited is not silently dropped.
        """

        def record(case: Case, verdict: Verdict) -> None:
            self.record_decision(case, verdict, source)

        record.__qualname__ = f"Store.recorder({source!r})"
        return record

    def decisions(self, limit: int | None = 100, decision: str | None = None, since: datetime | None = None,
                  *, source: str | None = None) -> list[DecisionRecord]:
        """Recorded decisions, newest first.

        Args:
            limit: at most this many (``None``: all).
            decision: only this decision (``allow``, ``revise``, ``block``, ``escalate``).
            since: only decisions recorded at or after this time (naive times are taken as UTC).
            source: only decisions recorded by this source.
        """
        q = select(DecisionRow).order_by(DecisionRow.id.desc())
        if decision is not None:
            _check(decision, DECISIONS, "decision")
            q = q.where(DecisionRow.decision == decision)
        if since is not None:
            q = q.where(DecisionRow.created_at >= _utc(since))
        if source is not None:
            q = q.where(DecisionRow.source == source)
        if limit is not None:
            q = q.limit(limit)
        with self._tx("list decisions") as s:
            return [self._decision(r) for r in s.scalars(q)]

    def iter_decisions(self, *, since: datetime | None = None, until: datetime | None = None,
                       source: str | None = None, decision: str | None = None, max_id: int | None = None,
                       exclude_source_prefix: str | None = None, batch: int = 5000) -> Iterator[DecisionRecord]:
        """Recorded decisions, oldest first, read in pages of ``batch`` (for batch re-audits of millions).

        Pages follow the primary key (``id > last``), so each page is one index range scan however
        deep into the table it is, and memory holds one page at a time.

        Args:
            since: only decisions recorded at or after this time (naive times are UTC).
            until: only decisions recorded before this time.
            source: only decisions recorded by this source.
            decision: only this decision.
            max_id: only decisions up to this row id (a fixed snapshot while new ones arrive).
            exclude_source_prefix: leave out sources that start with this (e.g. ``reaudit:``).
        """
        conds: list[ColumnElement[bool]] = []
        if max_id is not None:
            conds.append(DecisionRow.id <= max_id)
        if exclude_source_prefix:
            conds.append(~DecisionRow.source.startswith(exclude_source_prefix, autoescape=True))
        if decision is not None:
            _check(decision, DECISIONS, "decision")
            conds.append(DecisionRow.decision == decision)
        if since is not None:
            conds.append(DecisionRow.created_at >= _utc(since))
        if until is not None:
            conds.append(DecisionRow.created_at < _utc(until))
        if source is not None:
            conds.append(DecisionRow.source == source)
        last = 0
        while True:
            q = select(DecisionRow).where(DecisionRow.id > last, *conds).order_by(DecisionRow.id).limit(batch)
            with self._tx("read decisions") as s:
                page = [self._decision(r) for r in s.scalars(q)]
            yield from page
            if len(page) < batch:
                return
            last = page[-1].id

    def last_decision_id(self) -> int:
        """The newest decision's row id (0 when there is none)."""
        with self._tx("read the newest decision id") as s:
            return int(s.scalar(select(func.max(DecisionRow.id))) or 0)

    def existing_trace_ids(self, trace_ids: Sequence[str]) -> set[str]:
        """Which of these trace ids are recorded already (a resumed bulk write skips them)."""
        found: set[str] = set()
        with self._tx("look up trace ids") as s:
            for i in range(0, len(trace_ids), 1000):
                found.update(s.scalars(select(DecisionRow.trace_id).where(
                    DecisionRow.trace_id.in_(list(trace_ids[i:i + 1000])))))
        return found

    def decision(self, trace_id: str) -> DecisionRecord | None:
        """The decision with this trace id, or ``None``."""
        with self._tx(f"read decision {trace_id}") as s:
            row = s.scalars(select(DecisionRow).where(DecisionRow.trace_id == trace_id)).one_or_none()
            return None if row is None else self._decision(row)

    @staticmethod
    def _decision(r: DecisionRow) -> DecisionRecord:
        return DecisionRecord(id=r.id, trace_id=r.trace_id, created_at=r.created_at, decision=r.decision,
                              risk=r.risk, community=r.community, judge_version=r.judge_version,
                              case_id=r.case_id, source=r.source, case_json=r.case_json,
                              verdict_json=r.verdict_json)

    # ------------------------------------------------------------------ feedback
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
        rows = [{**_feedback_columns(r), "created_at": now, "source": source, "author": author,
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
            cols = _feedback_columns(record if record is not None else _feedback_record(old))
            row = {**cols, "created_at": utcnow(), "source": source, "author": author, "trace_id": old.trace_id,
                   "amends": feedback_id, "retracted": record is None, "reason": reason}
            return int(s.execute(insert(FeedbackRow).returning(FeedbackRow.id), row).scalar_one())

    @staticmethod
    def _kinds(kinds: Iterable[str] | None) -> list[ColumnElement[bool]]:
        if kinds is None:
            return []
        ks = list(kinds)
        for k in ks:
            _check(k, FEEDBACK_KINDS, "feedback kind")
        return [FeedbackRow.kind.in_(ks)]

    def feedback(self, kinds: Iterable[str] | None = None) -> list[FeedbackRecord]:
        """The feedback in force, oldest first: amended rows replaced, withdrawn ones left out.

        This is what training uses, and what ``accord feedback export`` writes; it round-trips:
        records added and read back compare equal.

        Args:
            kinds: only these kinds (``label``, ``preference``, ``demonstration``).
        """
        q = select(FeedbackRow).where(*self._kinds(kinds), _in_force()).order_by(FeedbackRow.id)
        with self._tx("read feedback") as s:
            return [_feedback_record(r) for r in s.scalars(q)]

    def feedback_log(self, kinds: Iterable[str] | None = None, *, limit: int | None = None) -> list[FeedbackEntry]:
        """Every feedback row, amendments and withdrawals included, oldest first (the history)."""
        q = select(FeedbackRow).where(*self._kinds(kinds)).order_by(FeedbackRow.id)
        if limit is not None:
            q = q.limit(limit)
        with self._tx("read feedback") as s:
            return [FeedbackEntry(id=r.id, created_at=r.created_at, record=_feedback_record(r), source=r.source,
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
        _check(decision, REVIEW_DECISIONS, "review decision")
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
        _check(event, MODEL_EVENTS, "model event")
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
            by_decision = {d: int(n) for d, n in s.execute(
                select(DecisionRow.decision, func.count()).group_by(DecisionRow.decision))}
            by_kind = {k: int(n) for k, n in s.execute(
                select(FeedbackRow.kind, func.count()).where(_in_force()).group_by(FeedbackRow.kind))}
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
