"""``accord test``: run safety suites against a target before release; ``accord suites``: list and preview."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from accord.cli.common import cli_errors, console, err_console
from accord.errors import InputError

suites_app = typer.Typer(help="Safety suites: list what is built in, preview mutations.", no_args_is_help=True)


def _pairs(opt: str | None, name: str) -> dict[str, str] | None:
    if not opt:
        return None
    out: dict[str, str] = {}
    for part in opt.split(","):
        k, sep, v = part.partition("=")
        if not sep or not k.strip() or not v.strip():
            raise InputError(f"{name} takes key=value pairs separated by commas, got {part!r}")
        out[k.strip()] = v.strip()
    return out


def _mutation_list(values: list[str] | None) -> list[str]:
    from accord.suites.mutations import BUILTIN_MUTATIONS, DEMOGRAPHIC_MUTATIONS, MENTION_MUTATIONS

    out: list[str] = []
    for v in values or []:
        for part in v.split(","):
            part = part.strip()
            if part == "all":
                out += list(BUILTIN_MUTATIONS)
            elif part == "demographic":
                out += list(DEMOGRAPHIC_MUTATIONS)
            elif part == "mentions":
                out += list(MENTION_MUTATIONS)
            elif part and part != "none":
                out.append(part)
    return list(dict.fromkeys(out))


def test(
    suites: Annotated[list[str], typer.Argument(help="Suite files (.yaml, .jsonl, .csv) or built-in names: seed, over-refusal, harms, decisions, bbq (bbq:N per category, bbq:all).")],
    target: Annotated[str, typer.Option("--target", "-t", help="py:module:function | openai:http://host:port/v1?model=NAME | cmd:COMMAND | replay:FILE.jsonl")],
    charter: Annotated[Path | None, typer.Option("--charter", "-c", help="Charter YAML (default: the packaged default charter).")] = None,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Value model directory (default: $ACCORD_MODEL or the packaged model).")] = None,
    mutations: Annotated[list[str] | None, typer.Option("--mutations", help="Mutations to add to every prompt (comma-separated, '+' composes, 'all' for every built-in red-team one, 'demographic' for the seven swap_* fairness swaps, 'mentions' for the seven mention_* ones (the asker says who they are: I'm Muslim. ...), 'none' to drop the suites' own).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the mutations.")] = 0,
    baseline: Annotated[Path | None, typer.Option("--baseline", help="A previous --json report: fail only on new failures.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the JSON report here.")] = None,
    junit_out: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write a self-contained HTML report here.")] = None,
    allow_gaps: Annotated[bool, typer.Option("--allow-gaps", help="A critical principle without a scenario is not a failure.")] = False,
    concurrency: Annotated[int | None, typer.Option("--concurrency", min=1, max=256, help="Scenarios in flight at once (default: the target's own limit).")] = None,
    detector: Annotated[str, typer.Option("--detector", help="Refusal detector mode: rules, hybrid or model.")] = "rules",
    csv_columns: Annotated[str | None, typer.Option("--csv-columns", help="For .csv suites: field=column pairs, e.g. prompt=question,expect=label.")] = None,
    csv_expect: Annotated[str | None, typer.Option("--csv-expect", help="For .csv suites: label=refuse|comply pairs, e.g. unsafe=refuse,safe=comply.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the final line and failures.")] = False,
) -> None:
    """Run safety suites against a target; exit 0 when every expectation holds, 1 when any fails, 2 on bad input."""
    from accord.gate import Gate
    from accord.suites.loader import load_suite
    from accord.suites.refusal import RefusalDetector
    from accord.suites.report import print_summary, write_html, write_json, write_junit
    from accord.suites.runner import SUITE_JUDGES, run_suites

    cols, exp = _pairs(csv_columns, "--csv-columns"), _pairs(csv_expect, "--csv-expect")
    loaded = [load_suite(s, csv_columns=cols, csv_expect=exp) for s in suites]
    muts = _mutation_list(mutations)
    suite_muts = not any(p.strip() == "none" for v in mutations or [] for p in v.split(","))
    det = RefusalDetector(mode=detector)  # type: ignore[arg-type]
    from accord.cli.models_in_use import model_in_use

    gate = Gate.from_charter(charter, model=model_in_use(model), judges=SUITE_JUDGES)
    show = err_console.is_terminal and not quiet
    with Progress(TextColumn("[bold]testing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                  console=err_console, disable=not show, transient=True) as bar:
        task = bar.add_task("test", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = run_suites(loaded, target, gate=gate, mutations=muts, suite_mutations=suite_muts, seed=seed, baseline=baseline,
                            allow_gaps=allow_gaps, concurrency=concurrency, detector=det, progress=progress)
    for path, writer in ((json_out, write_json), (junit_out, write_junit), (html_out, write_html)):
        if path is not None:
            try:
                writer(report, path)
            except OSError as e:
                raise InputError(f"cannot write {path}: {e}") from None
    print_summary(report, console, max_failures=10 if quiet else 25, tables=not quiet)
    for path in (json_out, junit_out, html_out):
        if path is not None and not quiet:
            console.print(f"wrote {path}", markup=False, highlight=False)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def list_cmd() -> None:
    """List built-in suites, mutations and target kinds."""
    from accord.suites.loader import builtin_suite_names, load_suite
    from accord.suites.mutations import get_mutation, mutation_names
    from accord.suites.targets import target_schemes

    t = Table(title="built-in suites")
    t.add_column("name")
    t.add_column("scenarios", justify="right")
    t.add_column("description")
    for name in builtin_suite_names():
        s = load_suite(name)
        t.add_row(name, str(len(s.scenarios)), Text(s.description))
    console.print(t)
    m = Table(title="mutations (compose with '+')")
    m.add_column("name")
    m.add_column("what it does")
    for name in mutation_names():
        m.add_row(name, Text(get_mutation(name).description))
    console.print(m)
    console.print("targets: " + ", ".join(f"{s}:..." for s in target_schemes()), markup=False)


def mutate_cmd(
    prompt: Annotated[str, typer.Argument(help="The prompt to rewrite.")],
    mutation: Annotated[list[str], typer.Option("--mutation", "-m", help="Mutation name(s); '+' composes; 'all' shows every one.")],
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Show what mutations do to a prompt."""
    from accord.suites.mutations import mutate

    for spec in _mutation_list(mutation):
        console.print(Text(f"── {spec}", style="bold"))
        console.print(Text(mutate(prompt, spec, seed=seed)))


def register(app: typer.Typer) -> None:
    app.command("test")(cli_errors(test))
    suites_app.command("list")(cli_errors(list_cmd))
    suites_app.command("mutate")(cli_errors(mutate_cmd))
    app.add_typer(suites_app, name="suites")
