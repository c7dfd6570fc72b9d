"""Drift monitoring: has what the AI system does, or what accord decides, shifted?

Compares a recent window of the audit trail with a reference window (by default the week after
the current model's promotion) and raises alarms for four kinds of drift: the decision mix per
community, per-principle score distributions, inputs far from the training set (with new
clusters of them), and agreement between the judge and reviewers. ``accord monitor`` runs it
once; :class:`DriftMonitor` runs it in the background of ``accord serve`` and ``accord ui``, with
Prometheus gauges (``accord_drift_*``), a dashboard panel and an optional webhook. See
``docs/monitoring.md``.
"""

from accord.monitor.config import MonitorConfig
from accord.monitor.drift import (
    KINDS,
    AgreementDrift,
    Alarm,
    DecisionShift,
    DriftReport,
    InputDrift,
    ScoreDrift,
    compare,
    psi,
)
from accord.monitor.job import DriftMonitor, post_webhook, queue_cluster, run_monitor
from accord.monitor.metrics import DriftCollector, register_drift_metrics
from accord.monitor.novelty import Cluster, NoveltyModel
from accord.monitor.windows import SampledCase, Window, default_reference, read_window

__all__ = [
    "KINDS",
    "AgreementDrift",
    "Alarm",
    "Cluster",
    "DecisionShift",
    "DriftCollector",
    "DriftMonitor",
    "DriftReport",
    "InputDrift",
    "MonitorConfig",
    "NoveltyModel",
    "SampledCase",
    "ScoreDrift",
    "Window",
    "compare",
    "default_reference",
    "post_webhook",
    "psi",
    "queue_cluster",
    "read_window",
    "register_drift_metrics",
    "run_monitor",
]
