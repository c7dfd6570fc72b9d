"""Running the monitor: once over the store (``accord monitor``), or every so often in a server.

:class:`DriftMonitor` is the background job of ``accord serve`` and ``accord ui``: a daemon thread
that reruns :func:`run_monitor`, keeps the latest report for ``/metrics`` and the dashboard, and
POSTs to an optional webhook when the set of alarms changes. Nothing it does can take the server
down: a failed run or webhook is logged and counted, and the previous report stays.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from accord.errors import InputError
from accord.monitor.config import MonitorConfig
from accord.monitor.drift import DriftReport, compare
from accord.monitor.novelty import NoveltyModel
from accord.monitor.windows import default_reference, read_window, utc
from accord.store import Store
from accord.store.models import ReviewItemRow

__all__ = ["DriftMonitor", "HistoryPoint", "post_webhook", "queue_cluster", "run_monitor"]

log = logging.getLogger("accord.monitor")


def run_monitor(store: Store, config: MonitorConfig | None = None, *, end: datetime | None = None,
                reference: tuple[datetime, datetime] | None = None, model_name: str = "default",
                novelty: NoveltyModel | None = None) -> DriftReport:
    """Compare the recent window (``config.window`` up to ``end``) with a reference window.

    Args:
        store: the audit store (only read).
        config: thresholds and window length.
        end: the end of the recent window (default: now).
        reference: ``(start, end)`` of the reference window (default: :func:`default_reference`).
        model_name: the registry name whose promotion starts the default reference window.
        novelty: the training-set distance (``None``: no input tests).
    """
    cfg = config or MonitorConfig()
    end = utc(end or datetime.now(UTC))
    start = end - cfg.window
    if reference is None:
        rs, re_, how = default_reference(store, start, model_name=model_name, days=cfg.reference_days)
    else:
        rs, re_ = utc(reference[0]), utc(reference[1])
        if re_ <= rs:
            raise InputError(f"the reference window ends ({re_.isoformat()}) before it starts ({rs.isoformat()})")
        how = "set by hand"
    ref = read_window(store, rs, re_, max_sample=cfg.max_sample)
    rec = read_window(store, start, end, max_sample=cfg.max_sample)
    report = compare(ref, rec, cfg, novelty=novelty, reference_how=how)
    if rs < end and start < re_:
        report.notes.append("the reference and recent windows overlap: shifts inside the overlap are diluted")
    return report


def queue_cluster(store: Store, trace_ids: list[str], *, count: int = 20, actor: str = "monitor",
                  priority: float = 1.0) -> int:
    """Put up to ``count`` cases of a cluster in the review queue ("label 20 examples of this").

    Cases already in the queue are skipped; the items' source is ``drift``. Returns how many were queued.
    """
    if count < 1:
        raise InputError(f"count must be at least 1 (got {count})")
    t = ReviewItemRow.__table__
    with store.engine.connect() as conn:
        queued = {r[0] for r in conn.execute(select(t.c.trace_id).where(t.c.trace_id.in_(trace_ids)))} \
            if trace_ids else set()
    n = 0
    for tid in trace_ids:
        if n >= count:
            break
        if tid in queued:
            continue
        rec = store.decision(tid)
        if rec is None:
            continue
        store.enqueue_review(rec.case, rec.verdict, priority, source="drift")
        n += 1
    if n:
        store.audit("drift.queued", actor, {"cases": n, "trace_ids": trace_ids[:count]})
    return n


def post_webhook(url: str, body: dict[str, Any], *, timeout_s: float = 5.0) -> bool:
    """POST ``body`` as JSON; a failure (refused, time-out, non-2xx) is logged and returns False."""
    import httpx

    try:
        r = httpx.post(url, json=body, timeout=timeout_s)
        if r.status_code >= 300:
            log.warning("drift webhook %s answered %s", url, r.status_code)
            return False
        return True
    except Exception as e:  # never let a webhook take the monitor down
        log.warning("drift webhook %s failed: %s", url, e)
        return False


@dataclass(frozen=True)
class HistoryPoint:
    """A run's headline figures, for the dashboard's time series."""

    at: datetime
    alarms: int
    far_share: float | None
    max_psi: float | None
    agreement: float | None
    escalation: float | None


class DriftMonitor:
    """The monitor as a background job.

    Args:
        store: the audit store.
        config: thresholds and window length.
        every_s: seconds between runs.
        webhook: URL to POST the report to when the alarms change (``None``: no webhook).
        novelty: ``True`` loads the decision model in use on the first run (in the job's thread,
            not at start-up); a :class:`NoveltyModel`; or ``None``/``False`` for no input tests.
        model_name: registry name whose promotion starts the reference window.
        reference: a fixed reference window (default: after the promotion).
        clock: the time of a run (tests and simulations).
    """

    def __init__(self, store: Store, config: MonitorConfig | None = None, *, every_s: float = 3600.0,
                 webhook: str | None = None, novelty: NoveltyModel | bool | None = True,
                 model_name: str = "default", reference: tuple[datetime, datetime] | None = None,
                 clock: Callable[[], datetime] | None = None, history: int = 48) -> None:
        self.store = store
        self.config = config or MonitorConfig()
        self.every_s = every_s
        self.webhook = webhook
        self.model_name = model_name
        self.reference = reference
        self._novelty_spec = novelty
        self._novelty: NoveltyModel | None = novelty if isinstance(novelty, NoveltyModel) else None
        self._clock = clock or (lambda: datetime.now(UTC))
        self.latest: DriftReport | None = None
        self.error: str | None = None
        self.runs = 0
        self.failures = 0
        self.webhook_failures = 0
        self.history: deque[HistoryPoint] = deque(maxlen=history)
        self._posted: frozenset[tuple[str, str]] = frozenset()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _novelty_model(self) -> NoveltyModel | None:
        if self._novelty is None and self._novelty_spec is True:
            self._novelty = NoveltyModel.packaged(quantile=self.config.novelty_quantile)
        return self._novelty

    def run_once(self) -> DriftReport | None:
        """One run; returns the report, or ``None`` when it failed (the error is kept in :attr:`error`)."""
        with self._lock:
            try:
                report = run_monitor(self.store, self.config, end=self._clock(), reference=self.reference,
                                     model_name=self.model_name, novelty=self._novelty_model())
            except Exception as e:  # a monitor must never take the server down
                if isinstance(e, InputError):  # e.g. no traffic yet: expected on a new store
                    self.error = e.message
                    log.info("drift monitor: %s", self.error)
                else:
                    self.failures += 1
                    self.error = f"{type(e).__name__}: {e}"
                    log.warning("drift monitor run failed: %s", self.error)
                return None
            self.runs += 1
            self.error = None
            self.latest = report
            esc = report.recent.counts.get("(all)", {})
            n = sum(esc.values())
            self.history.append(HistoryPoint(
                report.recent.end, len(report.alarms),
                report.input.recent_far if report.input else None,
                max((s.psi for s in report.scores), default=None),
                report.agreement.recent if report.agreement else None,
                esc.get("escalate", 0) / n if n else None))
            firing = frozenset((a.kind, a.subject) for a in report.alarms)
            if self.webhook and firing != self._posted:
                body = {"event": "accord.drift", "firing": bool(firing), "report": report.as_dict()}
                if post_webhook(self.webhook, body):
                    self._posted = firing
                else:
                    self.webhook_failures += 1
            return report

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.every_s)

    def start(self) -> DriftMonitor:
        """Start the background thread (the first run starts at once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="accord-drift", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (waits for a run in progress up to ``timeout_s``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def queue_cluster(self, index: int, *, count: int = 20, actor: str = "monitor") -> int:
        """Queue ``count`` cases of the latest report's cluster ``index`` for review."""
        report = self.latest
        clusters = report.input.clusters if report and report.input else []
        if not 0 <= index < len(clusters):
            raise InputError(f"there is no cluster {index} in the latest drift report "
                             f"({len(clusters)} cluster(s))")
        return queue_cluster(self.store, clusters[index].trace_ids, count=count, actor=actor)
