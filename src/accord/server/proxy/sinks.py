"""Where the proxy's decisions go: the audit seam (:mod:`accord.review.audit`), off the event loop.

The seam (:class:`Sinks`, :class:`MemorySinks`, the store's :class:`StoreSinks`) is the one the
command line and the library record through; this module only adds the background writer.

The proxy never writes to a database on its event loop. :class:`AuditWriter` hands every record
to one background thread through a bounded queue, which writes what is waiting in one
transaction; a request waits for its own records to be written before its answer is released
(an answer is never sent without its audit record; a record that cannot be written withholds the
answer). When the queue is full the request waits (back-pressure) rather than dropping an audit
row; on shutdown the queue is drained before the process exits.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from accord.review.audit import MemorySinks, Sinks
from accord.review.audit import StoreSinks as _StoreSinks
from accord.store import Store
from accord.types import Case, Verdict

__all__ = ["AuditWriter", "MemorySinks", "Sinks", "StoreSinks"]

log = logging.getLogger("accord.server")


class StoreSinks(_StoreSinks):
    """The audit store behind the seam, with the proxy's review items marked ``source="proxy"``."""

    def __init__(self, store: Store, review_source: str | None = "proxy") -> None:
        super().__init__(store, review_source)

    def existing(self, trace_ids: list[str]) -> set[str]:
        """Which of these trace ids the store has (a spool replay skips them)."""
        return self.store.existing_trace_ids(trace_ids)


_STOP = object()


class AuditWriter:
    """Runs sink calls on one background thread, in order; see the module docstring.

    :meth:`record` returns a future that is done when the record is written (or failed): the
    proxy waits on it before it releases the answer the record is about, so an answer is never
    sent without its audit record (concurrent requests still share one transaction: the writer
    takes everything waiting). A sink call that raises is logged, counted (``errors``, and the
    ``on_error`` callback) and set on the future; it is never retried into a loop.
    """

    def __init__(self, sinks: Sinks, *, maxsize: int = 10_000, on_error: Callable[[BaseException], None] | None = None) -> None:
        self.sinks = sinks
        self.errors = 0
        self._on_error = on_error
        self._q: queue.Queue[Any] = queue.Queue(maxsize=maxsize)
        self._thread = threading.Thread(target=self._run, name="accord-audit", daemon=True)
        self._thread.start()

    @property
    def backlog(self) -> int:
        return self._q.qsize()

    def record(self, case: Case, verdict: Verdict, source: str, review_priority: float | None = None,
               ) -> Future[None]:
        """Queue one decision (with its review item when ``review_priority`` is given); the future is
        done when it is written."""
        fut: Future[None] = Future()
        if review_priority is None:
            self._q.put((self.sinks.record, (case, verdict, source), fut))
        else:  # decision and review item in one call (one transaction), never batched apart
            self._q.put((self._record_for_review, (case, verdict, source, review_priority), fut))
        return fut

    def _record_for_review(self, case: Case, verdict: Verdict, source: str, review_priority: float) -> None:
        self.sinks.record(case, verdict, source, review_priority)

    def enqueue_review(self, case: Case, verdict: Verdict, priority: float) -> None:
        self._q.put((self.sinks.enqueue_review, (case, verdict, priority), None))

    def audit(self, kind: str, actor: str, payload: dict[str, Any]) -> None:
        self._q.put((self.sinks.audit, (kind, actor, payload), None))

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything queued so far is written; False on time-out."""
        done = threading.Event()
        self._q.put((lambda: done.set(), (), None))
        return done.wait(timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        """Drain the queue and stop the thread."""
        if self._thread.is_alive():
            self._q.put(_STOP)
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            items = [self._q.get()]
            while len(items) < 512:  # take what is waiting: decisions go in one transaction
                try:
                    items.append(self._q.get_nowait())
                except queue.Empty:
                    break
            batch: list[tuple[Case, Verdict, Future[None] | None]] = []
            batch_source: str | None = None
            for item in [*items, None]:
                is_record = item is not None and item is not _STOP and item[0] == self.sinks.record
                if batch and (not is_record or item[1][2] != batch_source):
                    self._write_batch(batch, batch_source or "proxy")
                    batch = []
                if item is None:
                    break
                if item is _STOP:
                    return
                if is_record:
                    batch.append((item[1][0], item[1][1], item[2]))
                    batch_source = item[1][2]
                    continue
                self._call(item[0], item[1], item[2])

    def _write_batch(self, batch: list[tuple[Case, Verdict, Future[None] | None]], source: str) -> None:
        many = getattr(self.sinks, "record_many", None)
        if many is not None and len(batch) > 1:
            try:
                many([(c, v) for c, v, _ in batch], source)
            except Exception:
                pass  # one bad row must not lose the others: write them one by one
            else:
                for _, _, fut in batch:
                    if fut is not None:
                        fut.set_result(None)
                return
        for case, verdict, fut in batch:
            self._call(self.sinks.record, (case, verdict, source), fut)

    def _call(self, fn: Callable[..., Any], args: tuple[Any, ...], fut: Future[None] | None = None) -> None:
        try:
            fn(*args)
        except Exception as e:  # storage trouble must not kill the writer
            self.errors += 1
            log.error("audit write failed: %s: %s", type(e).__name__, e)
            if self._on_error is not None:
                self._on_error(e)
            if fut is not None:
                fut.set_exception(e)
            return
        if fut is not None:
            fut.set_result(None)
