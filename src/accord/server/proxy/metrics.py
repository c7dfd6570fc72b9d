"""Prometheus metrics for the proxy, on a registry of its own (so apps in one process do not clash)."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from accord.types import Verdict

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """Decisions by kind and principle, judge and upstream latency, errors, review queue size.

    Exposed names (all prefixed ``accord_``):

    * ``decisions_total{decision, principle, stage}``: one per verdict; ``principle`` is the
      decisive principle (empty for ``allow``), ``stage`` is ``input``, ``output``, ``tool`` or ``check``;
    * ``judge_seconds{stage}``: time a request waited for its verdicts (queueing included);
    * ``upstream_seconds{stream}``: time to the upstream's answer (its headers, for a stream);
    * ``upstream_errors_total{kind}``: ``unreachable``, ``timeout``, ``malformed``, ``status``;
    * ``requests_rejected_total{reason}``: ``auth``, ``rate_limit``, ``too_large``, ``invalid``;
    * ``review_queue_size``: cases waiting for a person (read from the store, cached 5 s);
    * ``audit_backlog``: records waiting for the background audit writer;
    * ``audit_write_failures_total``: records that could not be written (alert on any);
    * ``audit_spool_replayed_total``: stream records written from the spool at start-up.
    """

    def __init__(self, queue_size: Callable[[], int | None] | None = None,
                 audit_backlog: Callable[[], int] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.decisions = Counter("accord_decisions", "Gate decisions", ["decision", "principle", "stage"], registry=r)
        self.judge_seconds = Histogram("accord_judge_seconds", "Time a request waited for the judge",
                                       ["stage"], buckets=_LATENCY_BUCKETS, registry=r)
        self.upstream_seconds = Histogram("accord_upstream_seconds", "Time to the upstream's answer",
                                          ["stream"], buckets=_LATENCY_BUCKETS, registry=r)
        self.upstream_errors = Counter("accord_upstream_errors", "Upstream failures", ["kind"], registry=r)
        self.rejected = Counter("accord_requests_rejected", "Requests refused before judging", ["reason"], registry=r)
        self.review_queue = Gauge("accord_review_queue_size", "Cases waiting for a person", registry=r)
        self.audit_backlog = Gauge("accord_audit_backlog", "Audit records not yet written", registry=r)
        self.audit_failures = Counter("accord_audit_write_failures", "Audit records that could not be written "
                                      "(alert on any)", registry=r)
        self.audit_replayed = Counter("accord_audit_spool_replayed", "Records of streamed answers written from the "
                                      "spool at start-up (the process before stopped mid-stream)", registry=r)
        self._queue_size = queue_size
        self._cache: tuple[float, float] = (0.0, float("nan"))
        if queue_size is not None:
            self.review_queue.set_function(self._cached_queue_size)
        if audit_backlog is not None:
            self.audit_backlog.set_function(lambda: float(audit_backlog()))

    def _cached_queue_size(self) -> float:
        now = time.monotonic()
        if now - self._cache[0] > 5.0 and self._queue_size is not None:
            try:
                n = self._queue_size()
                self._cache = (now, float(n) if n is not None else float("nan"))
            except Exception:
                self._cache = (now, float("nan"))
        return self._cache[1]

    def decision(self, verdict: Verdict, stage: str) -> None:
        principle = verdict.explanation.decisive[0] if verdict.decision != "allow" and verdict.explanation.decisive else ""
        self.decisions.labels(verdict.decision, principle, stage).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
