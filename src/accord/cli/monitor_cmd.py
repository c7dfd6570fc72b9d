"""``accord monitor``: drift between a recent window of decisions and a reference window."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from accord.cli.common import DB_ENV_VAR, cli_errors, console, err_console, open_store
from accord.errors import InputError

Db = Annotated[str | None, typer.Option(
    "--db", envvar=DB_ENV_VAR, show_envvar=True, metavar="URL",
    help="Database URL (sqlite:///file.db, postgresql+psycopg://...); default .accord/accord.db.")]

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str, what: str) -> timedelta:
    """``90m``, ``24h``, ``1d``, ``2w`` (a number and a unit) as a timedelta."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*", text or "")
    if not m or float(m.group(1)) <= 0:
        raise InputError(f"{what} {text!r} is not a duration; write a number and a unit, e.g. 90m, 24h, 1d, 2w")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def parse_time(text: str, what: str) -> datetime:
    """An ISO 8601 date or time (UTC when no offset is given)."""
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{what} {text!r} is not an ISO 8601 date or time (e.g. 2026-01-31 or "
                         "2026-01-31T12:00:00+00:00)") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _f(v: float | None, fmt: str = "{:.3f}") -> str:
    return "—" if v is None else fmt.format(v)


def _print_report(report: Any) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    r = report
    console.print(f"reference {r.reference.describe()}: {r.reference.decisions:,} decisions"
                  + (f" ({r.reference_how})" if r.reference_how else ""), markup=False)
    console.print(f"recent    {r.recent.describe()}: {r.recent.decisions:,} decisions; "
                  f"alpha {r.config.alpha} after Benjamini-Hochberg", markup=False)
    for n in r.notes:
        console.print(f"note: {n}", markup=False)

    t = Table(title="decisions per community, % (reference → recent)", box=box.SIMPLE_HEAD, pad_edge=False,
              collapse_padding=True)
    for c in ("community", "recent", "allow", "revise", "block", "escal.", "TVD", "V", "p adj."):
        t.add_column(c, justify="left" if c == "community" else "right", no_wrap=True, min_width=max(len(c), 5))
    for d in r.decisions:
        cells = [f"{d.reference_rates[k] * 100:.0f}→{d.recent_rates[k] * 100:.0f}" for k in ("allow", "revise", "block", "escalate")]
        t.add_row(Text(("! " if d.alarm else "") + d.community, style="bold red" if d.alarm else ""),
                  f"{d.recent_n:,}", *cells, _f(d.tvd, "{:.2f}"), _f(d.cramers_v, "{:.2f}"),
                  _f(d.p_adjusted, "{:.1g}") if not d.note else Text(d.note))
    console.print(t)
    console.print("!: alarm; recent: decisions in the recent window; TVD: total variation distance between the "
                  "decision mixes; V: Cramér's V; p: chi-square, Benjamini-Hochberg adjusted", markup=False, style="dim")

    if r.scores:
        t = Table(title="per-principle scores (a principle absent from a verdict scores 0)")
        for c in ("principle", "mean", "PSI", "KS", "Wasserstein", "p adj."):
            t.add_column(c, justify="left" if c == "principle" else "right", no_wrap=c != "principle")
        for s in sorted(r.scores, key=lambda s: -s.psi):
            t.add_row(Text(("! " if s.alarm else "") + s.principle, style="bold red" if s.alarm else ""),
                      f"{s.reference_mean:.3f}→{s.recent_mean:.3f}", f"{s.psi:.3f}", f"{s.ks:.3f}",
                      f"{s.wasserstein:.4f}", _f(s.p_adjusted, "{:.1g}"))
        console.print(t)

    if r.input is not None:
        i = r.input
        console.print(f"input: far from the training set ({i.training}; similarity below {i.threshold:.3f}): "
                      f"{i.reference_far:.1%} of {i.reference_n:,} → {i.recent_far:.1%} of {i.recent_n:,} "
                      f"(p adj. {_f(i.p_adjusted, '{:.2g}')}){'  ALARM' if i.alarm else ''}", markup=False)
        if i.clusters:
            t = Table(title="clusters of far cases in the recent window")
            for c in ("#", "size", "region", "p adj.", "new", "example"):
                t.add_column(c, no_wrap=c != "example")
            for k, c in enumerate(i.clusters):
                ex = c.examples[0] if c.examples else {"context": "", "action": ""}
                t.add_row(str(k), str(c.size), f"{c.reference_share:.1%}→{c.region_share:.1%}",
                          _f(c.p_adjusted, "{:.1g}"), "NEW" if c.new else "",
                          Text(f"{ex['context'][:90]} ⟶ {ex['action'][:60]}"))
            console.print(t)
            console.print("queue examples of a cluster for review: accord monitor --queue-cluster N [--count 20]",
                          markup=False)
    a = r.agreement
    if a is not None:
        console.print(f"judge vs reviewers: agreement {_f(a.reference, '{:.1%}')} of {a.reference_n} → "
                      f"{_f(a.recent, '{:.1%}')} of {a.recent_n}"
                      + (f" ({a.note})" if a.note else f" (p adj. {_f(a.p_adjusted, '{:.2g}')})")
                      + ("  ALARM" if a.alarm else ""), markup=False)
    if r.alarms:
        console.print(f"[bold red]{len(r.alarms)} alarm(s)[/]")
        for al in r.alarms:
            console.print(f"  {al.kind}: {al.message}", markup=False)
    else:
        console.print("[green]no drift alarm[/]")


@cli_errors
def monitor(
    db: Db = None,
    window: Annotated[str, typer.Option("--window", "-w", help="Length of the recent window (90m, 24h, 1d, 2w).")] = "1d",
    end: Annotated[str | None, typer.Option("--end", help="End of the recent window, ISO 8601 (default: now).")] = None,
    reference_start: Annotated[str | None, typer.Option("--reference-start", help="Start of the reference window, ISO 8601 "
                                                        "(default: the current model's promotion).")] = None,
    reference_end: Annotated[str | None, typer.Option("--reference-end", help="End of the reference window, ISO 8601 "
                                                      "(default: 7 days after its start).")] = None,
    reference_days: Annotated[float, typer.Option("--reference-days", min=0.01, help="Length of the default reference window in days.")] = 7.0,
    model_name: Annotated[str, typer.Option("--model-name", help="Registry name whose promotion starts the default reference window.")] = "default",
    alpha: Annotated[float, typer.Option("--alpha", min=1e-9, max=0.5, help="Significance level after the Benjamini-Hochberg correction.")] = 0.001,
    max_sample: Annotated[int, typer.Option("--max-sample", min=100, help="Cases read per window for the score and input tests.")] = 5000,
    no_input: Annotated[bool, typer.Option("--no-input", help="Skip the input-drift tests (no model is loaded).")] = False,
    webhook: Annotated[str | None, typer.Option("--webhook", envvar="ACCORD_DRIFT_WEBHOOK", show_envvar=True, metavar="URL",
                                                help="POST the report as JSON here when an alarm fires.")] = None,
    queue_cluster: Annotated[int | None, typer.Option("--queue-cluster", metavar="N", help="Put examples of cluster N "
                                                      "(as a run with the same --end and --window lists it) in the "
                                                      "review queue.")] = None,
    count: Annotated[int, typer.Option("--count", min=1, help="With --queue-cluster: how many examples.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    fail: Annotated[bool, typer.Option("--fail/--no-fail", help="Exit 1 when an alarm fires (the default, for cron and CI).")] = True,
) -> None:
    """Compare a recent window of decisions with a reference window: decision mix, scores, inputs, agreement."""
    from accord.monitor import MonitorConfig, NoveltyModel, post_webhook, run_monitor
    from accord.monitor import queue_cluster as queue

    cfg = MonitorConfig(window=parse_duration(window, "--window"), reference_days=reference_days, alpha=alpha,
                        max_sample=max_sample)
    t_end = parse_time(end, "--end") if end else datetime.now(UTC)
    reference = None
    if reference_start or reference_end:
        if not reference_start:
            raise InputError("--reference-end needs --reference-start")
        rs = parse_time(reference_start, "--reference-start")
        reference = (rs, parse_time(reference_end, "--reference-end") if reference_end else rs + timedelta(days=reference_days))
    with open_store(db) as store:
        novelty = None if no_input else NoveltyModel.packaged(quantile=cfg.novelty_quantile)
        report = run_monitor(store, cfg, end=t_end, reference=reference, model_name=model_name, novelty=novelty)
        if queue_cluster is not None:
            clusters = report.input.clusters if report.input else []
            if not 0 <= queue_cluster < len(clusters):
                raise InputError(f"--queue-cluster {queue_cluster}: this run found {len(clusters)} cluster(s) of far cases"
                                 + (f" (0 to {len(clusters) - 1})" if clusters else ""))
            n = queue(store, clusters[queue_cluster].trace_ids, count=count, actor="accord monitor")
            err_console.print(f"queued {n} case(s) of cluster {queue_cluster} for review (source 'drift')", markup=False)
    if as_json:
        console.print_json(json.dumps(report.as_dict()))
    else:
        _print_report(report)
    if webhook and report.alarms and not post_webhook(webhook, {"event": "accord.drift", "firing": True,
                                                                "report": report.as_dict()}):
        err_console.print(f"warning: the webhook {webhook} could not be reached; the report is above", markup=False)
    if report.alarms and fail:
        raise typer.Exit(1)


# options and start-up shared with `accord serve` and `accord ui`, which run the monitor in the background
DriftEveryOpt = Annotated[str, typer.Option(
    "--drift-every", metavar="DURATION", help="Run the drift monitor in the background this often (90m, 1h, 1d; "
                                               "'off': never). Its gauges are accord_drift_* on /metrics.")]
DriftWebhookOpt = Annotated[str | None, typer.Option(
    "--drift-webhook", envvar="ACCORD_DRIFT_WEBHOOK", show_envvar=True, metavar="URL",
    help="POST the drift report as JSON here when the alarms change (failures are logged).")]


def start_drift(store: Any, every: str, webhook: str | None) -> Any:
    """A started :class:`~accord.monitor.DriftMonitor` (daily window), or ``None`` for ``--drift-every off``."""
    from accord.monitor import DriftMonitor

    if every.strip().lower() in ("off", "0", "no", "never"):
        return None
    return DriftMonitor(store, every_s=parse_duration(every, "--drift-every").total_seconds(), webhook=webhook).start()


def register(app: typer.Typer) -> None:
    """Add ``monitor`` to the ``accord`` app."""
    app.command("monitor")(monitor)
