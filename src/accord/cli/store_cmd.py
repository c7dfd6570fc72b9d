"""``accord feedback import|export`` and ``accord audit list|show|verify``: the audit store from the shell.

Every command takes ``--db URL`` (default: ``ACCORD_DATABASE_URL``, else ``.accord/accord.db``).
Text that came from people or models (contexts, actions, explanations) is printed as data: rich
markup is off and control characters are shown escaped, so a response cannot restyle or take
over the terminal.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from accord.cli.common import DB_ENV_VAR as ENV_VAR
from accord.cli.common import cli_errors, console, open_store
from accord.errors import InputError

if TYPE_CHECKING:
    from accord.store import DecisionRecord

_DECISIONS = ("allow", "revise", "escalate", "block")  # accord.types.DECISION_ORDER's keys (a test keeps them equal)

feedback_app = typer.Typer(help="Import and export human feedback (labels, preferences, demonstrations).",
                           no_args_is_help=True)
audit_app = typer.Typer(help="Read the audit trail of gate decisions; re-judge it, or any large input, in batch.",
                         no_args_is_help=True)

Db = Annotated[str | None, typer.Option(
    "--db", envvar=ENV_VAR, show_envvar=True, metavar="URL",
    help="Database URL (sqlite:///file.db, postgresql+psycopg://...); default .accord/accord.db.")]

_KINDS = ("label", "preference", "demonstration")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe(value: object) -> Text:
    """Untrusted text for the terminal: no markup, control characters shown as ``\\xNN``."""
    s = "" if value is None else str(value)
    return Text(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", s))


def _short(value: object, n: int = 60) -> Text:
    s = " ".join(("" if value is None else str(value)).split())
    return safe(s if len(s) <= n else s[: n - 1] + "…")


def _echo_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, indent=2))


# ---------------------------------------------------------------------- feedback
@feedback_app.command("import")
@cli_errors
def feedback_import(
    file: Annotated[Path, typer.Argument(help="Feedback JSONL: one {\"kind\": ...} record per line.")],
    db: Db = None,
    author: Annotated[str | None, typer.Option(help="Who gave this feedback (stored with every record).")] = None,
    source: Annotated[str, typer.Option(help="Channel recorded with the rows.")] = "cli",
    charter: Annotated[Path | None, typer.Option("--charter", "-c", help="Charter whose principles labels may name "
                                                                           "(default: the packaged default charter).")] = None,
) -> None:
    """Validate a feedback JSONL file and append it to the store (all lines or none)."""
    from accord.charter import load_charter
    from accord.learning.feedback import read_feedback

    # a bad line (or a label naming a principle the charter lacks) raises FeedbackError naming file:line, before any write
    records = read_feedback(file, load_charter(charter))
    with open_store(db) as store:
        n = store.add_feedback(records, source=source, author=author)
        console.print(f"imported {n} feedback records from ", safe(file), " into ", safe(store.url), sep="")


@feedback_app.command("export")
@cli_errors
def feedback_export(
    out: Annotated[Path, typer.Argument(help="Where to write the JSONL (replaced atomically).")],
    db: Db = None,
    kind: Annotated[list[str] | None, typer.Option(
        "--kind", "-k", help="Only this kind (label, preference, demonstration); repeatable.")] = None,
) -> None:
    """Write the feedback in force (corrections applied, withdrawals left out) as JSONL."""
    from accord.learning.feedback import write_feedback

    for k in kind or ():
        if k not in _KINDS:
            raise InputError(f"unknown feedback kind {k!r}; expected one of: {', '.join(_KINDS)}")
    with open_store(db) as store:
        records = store.feedback(kinds=kind or None)
    try:
        n = write_feedback(records, out)
    except OSError as e:
        raise InputError(f"cannot write {out}: {e}") from None
    console.print(f"exported {n} feedback records to ", safe(out), sep="")


# ---------------------------------------------------------------------- audit
_STYLE = {"allow": "green", "revise": "yellow", "escalate": "magenta", "block": "red"}


@audit_app.command("list")
@cli_errors
def audit_list(
    db: Db = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most this many (newest first).")] = 20,
    decision: Annotated[str | None, typer.Option(
        "--decision", "-d", help="Only this decision: allow, revise, block, escalate.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON records instead of a table.")] = False,
) -> None:
    """List recorded gate decisions, newest first."""
    if decision is not None and decision not in _DECISIONS:
        raise InputError(f"unknown decision {decision!r}; expected one of: allow, revise, block, escalate")
    with open_store(db) as store:
        rows = store.decisions(limit=limit, decision=decision)
    if as_json:
        _echo_json([r.as_dict() for r in rows])
        return
    if not rows:
        console.print("no decisions recorded" + (f" with decision {decision}" if decision else ""))
        return
    table = Table(show_lines=False, header_style="bold")
    for col in ("time (UTC)", "trace id", "decision", "risk", "source", "action", "summary"):
        table.add_column(col, overflow="fold" if col in ("trace id", "action", "summary") else "ellipsis")
    for r in rows:
        action = r.case_json.get("action")
        if isinstance(action, dict):
            action = f"{action.get('name')}({json.dumps(action.get('arguments', {}), ensure_ascii=False)})"
        summary = (r.verdict_json.get("explanation") or {}).get("summary", "")
        table.add_row(r.created_at.strftime("%Y-%m-%d %H:%M:%S"), safe(r.trace_id),
                      Text(r.decision, style=_STYLE.get(r.decision, "")), f"{r.risk:.2f}", safe(r.source),
                      _short(action), _short(summary, 80))
    console.print(table)


@audit_app.command("show")
@cli_errors
def audit_show(
    trace_id: Annotated[str, typer.Argument(help="The verdict's trace id.")],
    db: Db = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the stored record as JSON.")] = False,
) -> None:
    """Show one recorded decision in full: the case, the verdict and its explanation."""
    with open_store(db) as store:
        rec = store.decision(trace_id)
    if rec is None:
        raise InputError(f"no decision with trace id {trace_id!r} in the audit store",
                         hint="list recent ones with: accord audit list")
    if as_json:
        _echo_json(rec.as_dict())
        return
    _print_decision(rec)


@audit_app.command("verify")
@cli_errors
def audit_verify(
    db: Db = None,
    head: Annotated[str | None, typer.Option(
        "--head", metavar="HASH", help="The head hash written down earlier: it must still be in the chain.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Recompute the decisions' hash chain; name the first decision changed, deleted, inserted or moved.

    Prints the head hash: write it down elsewhere (a log, a ticket) and pass it back with --head
    to detect a rewrite of the whole table. Exit code 1 when the chain is broken.
    """
    with open_store(db) as store:
        report = store.verify(anchor=head)
    if as_json:
        _echo_json({"ok": report.ok, "decisions": report.decisions, "unchained": report.unchained,
                    "first_bad": report.first_bad, "problem": report.problem, "head": report.head})
    elif report.ok:
        console.print(safe(f"ok: {report.decisions} decisions, chain intact"
                           + (f" ({report.unchained} written before the chain existed)" if report.unchained else "")
                           + f"; head {report.head}"))
    else:
        console.print(safe(f"BROKEN: decision {report.first_bad} {report.problem}"))
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("batch")
@cli_errors
def audit_batch(
    input: Annotated[Path | None, typer.Argument(
        help="Cases to judge: JSONL (as accord check --input), Parquet or CSV. Omit with --from-store.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the verdicts: .parquet or .jsonl "
                                                           "(one record per case, in input order).")] = Path("audit.parquet"),
    from_store: Annotated[bool, typer.Option("--from-store", help="Judge again the decisions recorded in the store "
                                                                   "(--db), oldest first, within --since/--until.")] = False,
    since: Annotated[str | None, typer.Option("--since", metavar="DATE", help="With --from-store: decisions recorded at "
                                              "or after this date/time (ISO 8601, UTC unless it says otherwise).")] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="DATE", help="With --from-store: decisions recorded "
                                              "before this date/time.")] = None,
    source: Annotated[str | None, typer.Option("--source", help="With --from-store: only decisions of this source "
                                               "(gate, cli, proxy...).")] = None,
    only: Annotated[str | None, typer.Option("--decision", "-d", help="With --from-store: only this decision.")] = None,
    db: Db = None,
    charter: Annotated[Path | None, typer.Option("--charter", "-c", help="Charter YAML (default: the packaged default charter).")] = None,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Value model directory (default: as accord check: "
                                                                      "$ACCORD_MODEL, the version promoted in the store, "
                                                                      "or the packaged model).")] = None,
    judges: Annotated[str, typer.Option("--judges", help="The cascade's stages, as for accord check.")] = "rules,decision,model",
    band: Annotated[str, typer.Option("--band", help="The cascade's uncertainty band LO,HI, as for accord check.")] = "0.2,0.8",
    community: Annotated[str | None, typer.Option("--community", help="Decide for this community where a case names none.")] = None,
    engine: Annotated[str, typer.Option("--engine", help="local (this machine: a loop, or worker processes) or ray "
                                                         "(Ray Data; pip install 'accord\\[scale]').")] = "local",
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Gates judging at once (processes or Ray "
                                                                         "actors), each loading the models once.")] = 1,
    address: Annotated[str | None, typer.Option("--address", help="With --engine ray: the cluster to join "
                                                "(default: start a local Ray).")] = None,
    shard_size: Annotated[int, typer.Option("--shard-size", help="Cases per shard, a multiple of 256: the unit of "
                                                                  "work and of resumption.")] = 2048,
    work: Annotated[Path | None, typer.Option("--work", help="Folder for finished shards (default: <out>.parts); "
                                              "running the same command again resumes from it.")] = None,
    restart: Annotated[bool, typer.Option("--restart", help="Discard the work folder's shards and start again.")] = False,
    in_format: Annotated[str | None, typer.Option("--input-format", help="jsonl, parquet or csv (default: by suffix).")] = None,
    out_format: Annotated[str | None, typer.Option("--format", help="jsonl or parquet (default: by --out's suffix).")] = None,
    to_store: Annotated[str | None, typer.Option("--to-store", metavar="LABEL", help="Also append the verdicts to the "
                                                 "store (--db) as the re-audit LABEL: new rows, source reaudit:LABEL; "
                                                 "nothing recorded before is changed.")] = None,
    top: Annotated[int, typer.Option("--top", min=0, help="How many changed cases the summary lists.")] = 10,
    keep_work: Annotated[bool, typer.Option("--keep-work/--remove-work", help="Keep the shards after the output "
                                            "is written (default: keep, so a finished job reruns in seconds).")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON instead of tables.")] = False,
) -> None:
    """Judge a large input (or the store's own history) with any gate; resumable, on Ray or locally.

    The verdicts are those of accord check --input on the same cases, in the same order. A killed
    job run again with the same command skips the shards it finished. At the end: decisions per
    principle, changes against the original decisions (from the store, or an original_decision
    column) and the top changed cases.
    """
    import time

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from accord.batch import (
        ENGINES,
        GateSpec,
        read_items,
        read_store_items,
        render_summary,
        run_batch,
    )
    from accord.batch.job import default_work, output_format, peek_manifest, remove_work
    from accord.cli.common import err_console
    from accord.cli.core import parse_band

    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}; expected one of: {', '.join(ENGINES)}")
    if address is not None and engine != "ray":
        raise InputError("--address is for --engine ray")
    if (input is None) == (not from_store):
        raise InputError("give one input: a file of cases, or --from-store",
                         hint="e.g. accord audit batch cases.jsonl -o out.parquet, or accord audit batch --from-store --since 2026-11-01")
    if not from_store and any(x is not None for x in (since, until, source, only)):
        raise InputError("--since, --until, --source and --decision select decisions of the store: use them with --from-store")
    if only is not None and only not in _DECISIONS:
        raise InputError(f"unknown decision {only!r}; expected one of: allow, revise, block, escalate")
    output_format(out, out_format)  # a bad output name fails before the models load
    from accord.cli.models_in_use import model_in_use

    model = model_in_use(model)
    # the models accord check would use (named, $ACCORD_MODEL, promoted in the store, packaged), resolved
    # once here: workers never read the store
    from accord.cli.models_in_use import judge_model_dirs, model_in_use

    in_use = model_in_use(model)
    spec = GateSpec(charter=str(charter) if charter else None, model=str(in_use) if in_use else None, judges=judges,
                    band=parse_band(band),
                    model_dirs=tuple(sorted((k, str(v)) for k, v in judge_model_dirs(judges).items())))
    t0 = time.perf_counter()
    identity: dict[str, Any] = {}
    if from_store:
        # a resumed job judges the snapshot it started with, not the decisions recorded since
        snap = None if restart else peek_manifest(work or default_work(out)).get("store_max_id")
        window = {"since": since, "until": until, "source": source, "decision": only}
        items, url, top_id = read_store_items(db, since=_when(since, "--since"), until=_when(until, "--until"),
                                              source=source, decision=only,
                                              max_id=snap if isinstance(snap, int) else None)
        identity = {"store_max_id": top_id, "store_window": window}
        label = f"{url} ({len(items)} decisions)"
    else:
        assert input is not None
        items = read_items(input, in_format)
        label = str(input)
    if not items:
        raise InputError(f"{label}: no cases to judge")
    show = err_console.is_terminal
    with Progress(TextColumn(f"judging ({engine}, {workers} worker{'s' if workers > 1 else ''})"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(), console=err_console,
                  disable=not show, transient=True) as bar:
        task = bar.add_task("judging", total=len(items))

        def started(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)
            if done:
                err_console.print(f"resuming: {done} of {total} cases already judged in earlier runs", highlight=False)

        result = run_batch(items, out, spec, engine=engine, workers=workers, address=address, shard_size=shard_size,
                           work=work, restart=restart, out_format=out_format, input_label=label, community=community,
                           identity=identity,
                           store_db=db, store_label=to_store, top=top, progress=lambda n: bar.advance(task, n),
                           started=started)
    if not keep_work:
        remove_work(result.work)
    seconds = time.perf_counter() - t0
    if as_json:
        typer.echo(json.dumps({**result.as_dict(), "seconds_total": round(seconds, 3)}, ensure_ascii=False))
        return
    console.print(safe(f"{result.cases} verdicts from {label} → {result.out} ({result.judge_version}); "
                       f"{result.shards} shards, {result.shards_skipped} from earlier runs; {seconds:.1f} s "
                       f"(judging {result.timings.get('judge', 0):.1f} s)"))
    if to_store is not None:
        console.print(safe(f"re-audit {to_store!r}: {result.stored} decisions appended to the store"
                           + (f", {result.store_skipped} already there from an earlier run" if result.store_skipped else "")))
    render_summary(result.summary, console)


def _when(value: str | None, flag: str) -> Any:
    """An ISO 8601 date or time for ``flag`` (UTC when it has no offset), or an InputError."""
    from datetime import UTC, datetime

    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"{flag}: {value!r} is not an ISO 8601 date or time", hint="e.g. 2026-11-01 or 2026-11-01T08:00") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def _print_decision(rec: DecisionRecord) -> None:
    v, c = rec.verdict_json, rec.case_json
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("trace id", safe(rec.trace_id))
    head.add_row("time (UTC)", rec.created_at.isoformat(timespec="seconds"))
    head.add_row("decision", Text(rec.decision, style=f"bold {_STYLE.get(rec.decision, '')}"))
    head.add_row("risk", f"{rec.risk:.4f}")
    head.add_row("source", safe(rec.source))
    head.add_row("judge", safe(rec.judge_version))
    for key in ("case_id", "community"):
        if getattr(rec, key):
            head.add_row(key.replace("_", " "), safe(getattr(rec, key)))
    if v.get("communities"):
        head.add_row("communities", safe(", ".join(f"{k}: {d}" for k, d in v["communities"].items())))
    context = c.get("context", "")
    if isinstance(context, list):
        context = "\n".join(f"{m.get('role')}: {m.get('content')}" for m in context if isinstance(m, dict))
    action = c.get("action", "")
    if isinstance(action, dict):
        action = f"{action.get('name')}({json.dumps(action.get('arguments', {}), ensure_ascii=False)})"
    head.add_row("context", safe(context))
    head.add_row("action", safe(action))
    if v.get("revised"):
        head.add_row("revised", safe(v["revised"]))
    expl = v.get("explanation") or {}
    head.add_row("summary", safe(expl.get("summary", "")))
    if expl.get("counterfactual"):
        head.add_row("counterfactual", safe(expl["counterfactual"]))
    if v.get("errors"):
        head.add_row("errors", safe("; ".join(map(str, v["errors"]))))
    console.print(head)
    principles = v.get("principles") or []
    if principles:
        t = Table(title="principles", header_style="bold", title_justify="left")
        for col in ("principle", "score", "violated", "severity", "source", "evidence"):
            t.add_column(col, overflow="fold")
        for p in principles:
            ev = "; ".join(str(e.get("text", "")) for e in p.get("evidence", []) if isinstance(e, dict))
            t.add_row(safe(p.get("id")), f"{float(p.get('score', 0)):.3f}", "yes" if p.get("violated") else "",
                      safe(p.get("severity")), safe(p.get("source")), _short(ev, 80))
        console.print(t)
    precedents = expl.get("precedents") or []
    if precedents:
        t = Table(title="precedents", header_style="bold", title_justify="left")
        for col in ("similarity", "verdict", "context", "action"):
            t.add_column(col, overflow="fold")
        for p in precedents:
            t.add_row(f"{float(p.get('similarity', 0)):.2f}", safe(p.get("verdict")), _short(p.get("context")),
                      _short(p.get("action")))
        console.print(t)


def register(app: typer.Typer) -> None:
    """Add the ``feedback`` and ``audit`` command groups to the ``accord`` app."""
    app.add_typer(feedback_app, name="feedback")
    app.add_typer(audit_app, name="audit")
