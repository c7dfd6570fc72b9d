"""The drift monitor's Prometheus gauges (``accord_drift_*``), read from its latest report.

A custom collector, so the label sets follow the report (a principle or community that is no
longer tested disappears instead of keeping a stale value). Register it on the registry that
``/metrics`` renders: :func:`register_drift_metrics`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from accord.monitor.drift import DECISIONS, KINDS

if TYPE_CHECKING:
    from accord.monitor.job import DriftMonitor

__all__ = ["DriftCollector", "register_drift_metrics"]


class DriftCollector(Collector):
    """Yields the ``accord_drift_*`` metrics of a :class:`DriftMonitor`'s latest report."""

    def __init__(self, monitor: DriftMonitor) -> None:
        self.monitor = monitor

    def describe(self) -> list[Metric]:
        """Nothing up front: the label sets follow the latest report."""
        return []

    def collect(self) -> Iterator[Metric]:
        m = self.monitor
        yield CounterMetricFamily("accord_drift_runs", "Drift monitor runs that finished", value=m.runs)
        yield CounterMetricFamily("accord_drift_run_failures", "Drift monitor runs that failed (alert on any)",
                                  value=m.failures)
        yield CounterMetricFamily("accord_drift_webhook_failures", "Drift webhook posts that failed",
                                  value=m.webhook_failures)
        r = m.latest
        if r is None:
            return
        yield GaugeMetricFamily("accord_drift_last_run_timestamp_seconds", "When the latest drift report was made",
                                value=r.created_at.timestamp())
        g = GaugeMetricFamily("accord_drift_alarm", "1 while a drift alarm of this kind fires", labels=["kind"])
        for k in KINDS:
            g.add_metric([k], 1.0 if r.firing(k) else 0.0)
        yield g
        g = GaugeMetricFamily("accord_drift_window_decisions", "Decisions in the compared windows", labels=["window"])
        g.add_metric(["reference"], r.reference.decisions)
        g.add_metric(["recent"], r.recent.decisions)
        yield g

        rate = GaugeMetricFamily("accord_drift_decision_rate", "Share of decisions per community, decision and window",
                                 labels=["community", "decision", "window"])
        tvd = GaugeMetricFamily("accord_drift_decision_tvd", "Total variation distance between the decision mixes",
                                labels=["community"])
        cv = GaugeMetricFamily("accord_drift_decision_cramers_v", "Cramér's V of the decision table", labels=["community"])
        pv = GaugeMetricFamily("accord_drift_decision_p_adjusted", "Chi-square p-value (Benjamini-Hochberg adjusted)",
                               labels=["community"])
        for d in r.decisions:
            for dec in DECISIONS:
                rate.add_metric([d.community, dec, "reference"], d.reference_rates[dec])
                rate.add_metric([d.community, dec, "recent"], d.recent_rates[dec])
            if d.tvd is not None:
                tvd.add_metric([d.community], d.tvd)
            if d.cramers_v is not None:
                cv.add_metric([d.community], d.cramers_v)
            if d.p_adjusted is not None:
                pv.add_metric([d.community], d.p_adjusted)
        yield from (rate, tvd, cv, pv)

        psi = GaugeMetricFamily("accord_drift_score_psi", "Population stability index of a principle's scores",
                                labels=["principle"])
        ks = GaugeMetricFamily("accord_drift_score_ks", "Kolmogorov-Smirnov statistic of a principle's scores",
                               labels=["principle"])
        wd = GaugeMetricFamily("accord_drift_score_wasserstein", "Wasserstein distance of a principle's scores",
                               labels=["principle"])
        sp = GaugeMetricFamily("accord_drift_score_p_adjusted", "KS p-value (Benjamini-Hochberg adjusted)",
                               labels=["principle"])
        for s in r.scores:
            psi.add_metric([s.principle], s.psi)
            ks.add_metric([s.principle], s.ks)
            wd.add_metric([s.principle], s.wasserstein)
            if s.p_adjusted is not None:
                sp.add_metric([s.principle], s.p_adjusted)
        yield from (psi, ks, wd, sp)

        if r.input is not None:
            g = GaugeMetricFamily("accord_drift_input_far_share", "Share of cases far from the training set",
                                  labels=["window"])
            g.add_metric(["reference"], r.input.reference_far)
            g.add_metric(["recent"], r.input.recent_far)
            yield g
            yield GaugeMetricFamily("accord_drift_input_new_clusters", "New clusters of far cases in the recent window",
                                    value=len(r.input.new_clusters))
        a = r.agreement
        if a is not None and (a.reference is not None or a.recent is not None):
            g = GaugeMetricFamily("accord_drift_agreement", "Share of reviews agreeing with the judge's leaning",
                                  labels=["window"])
            if a.reference is not None:
                g.add_metric(["reference"], a.reference)
            if a.recent is not None:
                g.add_metric(["recent"], a.recent)
            yield g


def register_drift_metrics(registry: CollectorRegistry, monitor: DriftMonitor) -> DriftCollector:
    """Add the monitor's gauges to ``registry`` (the one ``/metrics`` renders)."""
    c = DriftCollector(monitor)
    registry.register(c)
    return c
