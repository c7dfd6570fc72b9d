"""The decisions half of the audit store: recording verdicts on the hash chain (one, many, or in
bulk through ``COPY``), queueing escalations in the same transaction, verifying the chain, and
reading decisions back."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert, select, text

from accord.errors import InputError, StoreError
from accord.store import migrate
from accord.store.chain import (
    CHAINED,
    PG_CHAIN_LOCK,
    ChainReport,
    chain_hash,
    chain_parts,
    nul_in_columns,
    pg_text,
    utc,
)
from accord.store.core import (
    DECISIONS_TABLE,
    REVIEW_ITEMS_TABLE,
    Recorder,
    StoreCore,
    check_choice,
)
from accord.store.models import (
    DECISIONS,
    DecisionRow,
    utcnow,
)
from accord.store.records import (
    DecisionRecord,
)
from accord.types import Case, Verdict


class DecisionLog(StoreCore):
    """Decisions (a part of :class:`~accord.store.store.Store`)."""

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
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_CHAIN_LOCK})
        prev = conn.execute(select(DECISIONS_TABLE.c.chain).order_by(DECISIONS_TABLE.c.id.desc()).limit(1)).scalar() or ""
        if copy and dialect == "postgresql" and not reviews:
            return self._copy_chained(conn, rows, prev)
        for row in rows:
            hashed = migrate._scrub(row) if dialect == "postgresql" else row  # what the database will hold
            row["chain"] = prev = chain_hash(prev, hashed)
        ids = [int(conn.execute(insert(DECISIONS_TABLE).returning(DECISIONS_TABLE.c.id), row).scalar_one()) for row in rows] \
            if len(rows) == 1 or reviews else []
        if not ids:
            conn.execute(insert(DECISIONS_TABLE), rows)
        items = [r for r in reviews if r is not None]
        if items:
            conn.execute(insert(REVIEW_ITEMS_TABLE), items)
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
                digest, case_json, verdict_json = chain_parts(prev, row)
                if "\\u0000" in case_json or "\\u0000" in verdict_json or nul_in_columns(row):
                    held = migrate._scrub(row)  # rare: hash and copy what the database will hold
                    digest, case_json, verdict_json = chain_parts(prev, held)
                row["chain"] = prev = digest
                case_json, verdict_json = pg_text(case_json, held["case_json"]), pg_text(verdict_json, held["verdict_json"])
                cp.write_row((held["trace_id"], utc(held["created_at"]), held["decision"], held["risk"],
                              held["community"], held["judge_version"], held["case_id"], held["source"],
                              case_json, verdict_json, prev))

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
            return s.execute(select(DECISIONS_TABLE.c.id).where(DECISIONS_TABLE.c.chain == anchor).limit(1)).first() is not None

    def _verify(self, batch: int) -> ChainReport:
        prev = ""
        n = unchained = 0
        chained_seen = False
        cols = [DECISIONS_TABLE.c.id, DECISIONS_TABLE.c.chain, *(DECISIONS_TABLE.c[k] for k in CHAINED)]
        last_id = None
        with self._tx("verify the decision chain") as s:
            while True:
                q = select(*cols).order_by(DECISIONS_TABLE.c.id).limit(batch)
                if last_id is not None:
                    q = q.where(DECISIONS_TABLE.c.id > last_id)
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
            check_choice(decision, DECISIONS, "decision")
            q = q.where(DecisionRow.decision == decision)
        if since is not None:
            q = q.where(DecisionRow.created_at >= utc(since))
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
            check_choice(decision, DECISIONS, "decision")
            conds.append(DecisionRow.decision == decision)
        if since is not None:
            conds.append(DecisionRow.created_at >= utc(since))
        if until is not None:
            conds.append(DecisionRow.created_at < utc(until))
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

