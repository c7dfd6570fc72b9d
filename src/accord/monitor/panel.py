"""The drift panel of the review app's dashboard: numbers and chart geometry, drawn as inline SVG.

Uses the dashboard's own chart helpers (:mod:`accord.review.dashboard`), so the panel looks like
the rest of the page and needs no chart library or network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from accord.monitor.drift import DECISIONS, Alarm, DriftReport
from accord.monitor.novelty import Cluster
from accord.monitor.windows import ALL
from accord.review.dashboard import Bar, Chart, bar_chart, line_chart

if TYPE_CHECKING:
    from accord.monitor.job import DriftMonitor

__all__ = ["DriftPanel", "build_panel"]


@dataclass
class DriftPanel:
    """What the dashboard shows about drift."""

    status: str
    error: str | None
    report: DriftReport | None
    alarms: list[Alarm] = field(default_factory=list)
    charts: list[tuple[str, Chart]] = field(default_factory=list)  # (element id, chart)
    mix: Chart | None = None  # decisions, reference beside recent
    clusters: list[Cluster] = field(default_factory=list)


def mix_chart(report: DriftReport) -> Chart:
    """Paired bars: each decision's share in the reference window (pale) and the recent one."""
    d = next((x for x in report.decisions if x.community == ALL), None)
    c = Chart("decision mix: reference (pale) vs recent", "bar")
    if d is None or not d.reference_n or not d.recent_n:
        c.empty = True
        return c
    top = max([*d.reference_rates.values(), *d.recent_rates.values(), 0.01])
    left, right, bottom, head = 36, 8, c.plot_bottom, 14
    slot = (c.width - left - right) / len(DECISIONS)
    for i, k in enumerate(DECISIONS):
        for j, (v, label) in enumerate(((d.reference_rates[k], "reference"), (d.recent_rates[k], "recent"))):
            h = (bottom - head) * (v / top)
            c.bars.append(Bar(round(left + i * slot + slot * (0.12 + 0.38 * j), 1), round(bottom - h, 1),
                              round(slot * 0.36, 1), round(h, 1), k if j else "", v, f"{k}, {label}: {v:.1%}"))
    c.ymax_text = f"{top:.0%}"
    return c


def build_panel(monitor: DriftMonitor) -> DriftPanel:
    """The panel for the monitor's latest report and its run history."""
    r = monitor.latest
    if r is None:
        status = ("the first drift run has not finished yet" if monitor.error is None
                  else "no drift report yet")
        return DriftPanel(status, monitor.error, None)
    status = (f"recent {r.recent.describe()} ({r.recent.decisions:,} decisions) against reference "
              f"{r.reference.describe()} ({r.reference.decisions:,})")
    p = DriftPanel(status, monitor.error, r, list(r.alarms))
    p.mix = mix_chart(r)
    if r.scores:
        top = max([s.psi for s in r.scores] + [r.config.min_psi * 2.5])
        p.charts.append(("chart-drift-psi", bar_chart(f"score drift per principle (PSI; alarm from {r.config.min_psi:g})",
                                                      [(s.principle[:10], s.psi) for s in r.scores],
                                                      fmt="{:.2f}", ymax=top)))
    hist = list(monitor.history)
    labels = [h.at.strftime("%d %H:%M") for h in hist]
    p.charts.append(("chart-drift-far", line_chart("cases far from the training set (share, per run)",
                                                   [(x, h.far_share) for x, h in zip(labels, hist, strict=True)],
                                                   ymax=max([h.far_share or 0 for h in hist] + [0.1]) * 1.2)))
    p.charts.append(("chart-drift-escalation", line_chart("escalation rate of the recent window (per run)",
                                                          [(x, h.escalation) for x, h in zip(labels, hist, strict=True)],
                                                          ymax=max([h.escalation or 0 for h in hist] + [0.1]) * 1.2)))
    p.charts.append(("chart-drift-agreement", line_chart("judge agrees with reviewers (recent window, per run)",
                                                         [(x, h.agreement) for x, h in zip(labels, hist, strict=True)])))
    p.clusters = list(r.input.clusters) if r.input else []
    return p
