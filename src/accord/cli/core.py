"""Core commands: init, charter lint, check, learn, eval, demo."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from accord.cli.common import cli_errors, console, err_console
from accord.errors import InputError

if TYPE_CHECKING:
    from accord.gate import Gate
    from accord.types import Case, ToolCall, Verdict

# The library is imported inside the commands, not here: ``accord --help`` (and a typo in a
# command line) should not wait seconds for numpy, scikit-learn and the models to load.

#: the gate's default cascade (accord.gate.gate.DEFAULT_JUDGES; a test keeps the two equal)
DEFAULT_JUDGES = "rules,decision,model"

CharterOpt = Annotated[Path | None, typer.Option("--charter", "-c", help="Charter YAML (default: the packaged default charter).")]
ModelOpt = Annotated[Path | None, typer.Option("--model", "-m", help="Value model directory (default: $ACCORD_MODEL or the packaged model).")]
DbOpt = Annotated[str | None, typer.Option("--db", help="Audit store URL (default: $ACCORD_DATABASE_URL or .accord/accord.db).")]
JudgesOpt = Annotated[str, typer.Option(
    "--judges", help="The cascade's stages, cheapest first, by registered name: e.g. rules,decision,model,llm; rules,model is the chat fast path "
                     "(the llm judge reads ACCORD_LLM_MODEL, ACCORD_LLM_BASE_URL, ACCORD_LLM_API_KEY).")]

BandOpt = Annotated[str, typer.Option(
    "--band", help="The cascade's uncertainty band LO,HI: a case goes on to the next stage while a learned score lies "
                   "strictly between them. Wider sends more to a stronger stage (slower, usually better).")]

charter_app = typer.Typer(help="Work with charters.", no_args_is_help=True)


def _recorder(db: str | None, record: bool, source: str):
    """Records every verdict in the audit store and queues escalations for review (None when off)."""
    if not record:
        return None
    from accord.review.queue import escalation_recorder
    from accord.store import Store

    return escalation_recorder(Store.open(db), source)


def make_gate(charter: Path | None, model: Path | None, recorder: Any = None, judges: str = DEFAULT_JUDGES,
              band: str = "0.2,0.8") -> Gate:
    """The gate the commands use: ``judges`` names the cascade's stages; ``model`` is the value model's."""
    from accord.cli.models_in_use import judge_model_dirs, model_in_use
    from accord.gate import Gate

    return Gate.from_charter(charter, model=model_in_use(model), judges=judges, recorder=recorder, band=parse_band(band),
                             model_dirs=judge_model_dirs(judges))


def parse_band(text: str) -> tuple[float, float]:
    """``"LO,HI"`` with 0 <= LO < HI <= 1, else an InputError naming ``--band``."""
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        raise InputError(f"--band must be two numbers LO,HI (got {text!r})", hint="e.g. --band 0.2,0.8 or --band 0.1,0.9") from None
    if not 0.0 <= lo < hi <= 1.0:
        raise InputError(f"--band needs 0 <= LO < HI <= 1 (got {text!r})", hint="e.g. --band 0.2,0.8 or --band 0.1,0.9")
    return lo, hi


def init(
    path: Annotated[Path, typer.Argument(help="Where to write the starter charter: a .yaml file, or a folder "
                                              "(made if needed) to hold charter.yaml.")] = Path("charter.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter charter."""
    if path.is_dir() or not path.suffix:  # `accord init proj` means the folder proj
        path = path / "charter.yaml"
    if path.exists() and not force:
        raise InputError(f"{path} already exists", hint="pass --force to overwrite it, or give another path")
    text = resources.files("accord.data").joinpath("starter_charter.yaml").read_text(encoding="utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot write {path}: {e.strerror or e}") from None
    console.print(f"wrote {path} — check it with: accord charter lint {path}")


def lint(
    path: Annotated[Path | None, typer.Argument(help="Charter YAML (default: the packaged default).")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when there are warnings.")] = False,
) -> None:
    """Validate a charter strictly, list every mistake (file, line, field), and print advice."""
    from accord.charter.lint import check_charter_file, lint_charter

    charter, problems = check_charter_file(path)
    if problems or charter is None:
        for p in problems:
            err_console.print(Text("error: ", style="bold red"), Text(str(p)), sep="", soft_wrap=True)
        err_console.print(f"{len(problems)} problem(s) in {path or 'the default charter'}", markup=False)
        raise typer.Exit(2)
    warnings = lint_charter(charter)
    name = str(path) if path else "default charter"
    console.print(f"[green]ok[/] {name}: {len(charter.principles)} principles, {len(charter.rules)} rules, "
                  f"{len(charter.communities)} communities")
    for w in warnings:
        console.print(Text("warning: " + w, style="yellow"))
    if strict and warnings:
        raise typer.Exit(1)


def _action(action: str | None, tool: str | None, args: str | None) -> str | ToolCall:
    from accord.types import ToolCall

    if tool is not None:
        try:
            arguments = json.loads(args) if args else {}
        except json.JSONDecodeError as e:
            raise InputError(f"--args is not valid JSON: {e.msg} at column {e.colno}") from None
        if not isinstance(arguments, dict):
            raise InputError("--args must be a JSON object")
        return ToolCall(name=tool, arguments=arguments)
    if action is None:
        raise InputError("nothing to check", hint="give --action TEXT, --tool NAME [--args JSON], or --input CASES.jsonl")
    return action


def check(
    context: Annotated[str, typer.Option("--context", help="The situation, request or objective.")] = "",
    action: Annotated[str | None, typer.Option("--action", help="The AI's response or proposed action.")] = None,
    tool: Annotated[str | None, typer.Option("--tool", help="A tool call's name (instead of --action).")] = None,
    args: Annotated[str | None, typer.Option("--args", help="The tool call's arguments as JSON.")] = None,
    input: Annotated[Path | None, typer.Option("--input", "-i", help="Cases JSONL: one {id?, context?, action} per line.")] = None,
    charter: CharterOpt = None,
    model: ModelOpt = None,
    community: Annotated[str | None, typer.Option("--community", help="Decide for this community of the charter.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print Verdict JSON (one per line for --input).")] = False,
    fail_on: Annotated[str | None, typer.Option("--fail-on", help="Exit 1 if any decision is at least this strict: revise, escalate or block.")] = None,
    db: DbOpt = None,
    record: Annotated[bool, typer.Option("--record/--no-record", help="Record verdicts in the audit store.")] = True,
    judges: JudgesOpt = DEFAULT_JUDGES,
    band: BandOpt = "0.2,0.8",
) -> None:
    """Judge an action (or a file of cases) against the charter and explain the verdict."""
    from accord.explain import render_verdict
    from accord.learning.feedback import read_cases
    from accord.types import Case

    order = {"allow": 0, "revise": 1, "escalate": 2, "block": 3}
    if fail_on is not None and fail_on not in order:
        raise InputError(f"--fail-on must be one of revise, escalate, block (got {fail_on!r})")
    gate = make_gate(charter, model, _recorder(db, record, "cli"), judges, band)
    if input is not None:
        cases = read_cases(input)
        if community is not None:
            cases = [c if c.community else c.model_copy(update={"community": community}) for c in cases]
        verdicts = _check_batch(gate, cases, as_json)
    else:
        case = Case(context=context, action=_action(action, tool, args), community=community)
        verdicts = gate.check_many([case])
        if as_json:
            sys.stdout.write(verdicts[0].model_dump_json() + "\n")
        else:
            render_verdict(case, verdicts[0], console)
    if fail_on is not None and any(order[v.decision] >= order[fail_on] for v in verdicts):
        raise typer.Exit(1)


def _check_batch(gate: Gate, cases: list[Case], as_json: bool) -> list[Verdict]:
    out: list[Verdict] = []
    chunk = 256
    show = err_console.is_terminal
    with Progress(TextColumn("judging"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err_console, disable=not show, transient=True) as bar:
        task = bar.add_task("judging", total=len(cases))
        for i in range(0, len(cases), chunk):
            vs = gate.check_many(cases[i:i + chunk])
            out.extend(vs)
            if as_json:
                sys.stdout.write("".join(v.model_dump_json() + "\n" for v in vs))
                sys.stdout.flush()
            bar.advance(task, len(vs))
    if not as_json:
        table = Table(title=f"{len(cases)} cases", header_style="bold")
        for col in ("id", "decision", "risk", "top principle", "action"):
            table.add_column(col)
        for c, v in zip(cases, out, strict=True):
            top = v.principles[0].id if v.principles else ""
            table.add_row(Text(c.id or ""), v.decision, f"{v.risk:.2f}", top, Text(c.action_text[:60]))
        console.print(table)
        counts = {d: sum(v.decision == d for v in out) for d in ("allow", "revise", "escalate", "block")}
        console.print("  ".join(f"{k}: {n}" for k, n in counts.items()))
    return out


def learn(
    data: Annotated[Path | None, typer.Option("--data", "-d", help="Feedback JSONL: labels, preferences, demonstrations.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the new model.")] = Path(".accord/models/latest"),
    charter: CharterOpt = None,
    model: ModelOpt = None,
    from_scratch: Annotated[bool, typer.Option("--from-scratch", help="Train on the given data (and the charter's examples) alone.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same data and seed give the same model.")] = 0,
    holdout: Annotated[float, typer.Option("--holdout", help="Share of the feedback held out for metrics.")] = 0.2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    db: DbOpt = None,
    from_store: Annotated[bool, typer.Option("--from-store", help="Retrain from the audit store's reviews, with the promotion gate.")] = False,
    name: Annotated[str, typer.Option("--name", help="With --from-store: the registered model to retrain (default, or strong "
                                                     "for the stronger tier that --judges rules,model,strong uses).")] = "default",
    teacher: Annotated[str | None, typer.Option("--teacher", help="Label the --data cases (unlabelled) with this judge (llm) "
                                                "and learn from its probabilities as soft labels; resumable.")] = None,
    labels: Annotated[Path | None, typer.Option("--labels", help="With --teacher: the soft-labels file it writes and resumes.")] = None,
    suite: Annotated[list[Path] | None, typer.Option("--suite", help="With --from-store: a reference suite, labelled cases "
                                                     "(JSONL) the team trusts; the new version, value and decision model, "
                                                     "must not be worse on it. Repeatable.")] = None,
    no_packaged_suite: Annotated[bool, typer.Option("--no-packaged-suite", help="With --from-store: do not hold the new "
                                                    "version to accord's packaged reference suite (260 minimal pairs of "
                                                    "everyday and objective-driven work beside a twin that crosses the "
                                                    "line), e.g. for a charter that does not stop such cases.")] = False,
) -> None:
    """Teach the value model with human feedback; builds on the current model by default.

    With --from-store, retrains from every review and feedback record in the audit store and
    promotes the new version only if it is not worse than the current one (exit 1 when refused).
    A cascade with the stronger tier should have both tiers taught: run it once more with
    --name strong.
    """
    from accord.charter import load_charter
    from accord.learning.feedback import read_feedback
    from accord.learning.models import current_model_dir, load_decision_model, load_model
    from accord.learning.trainer import learn as learn_model

    if teacher is not None:  # the LLM as teacher: accord/judges/llm_teacher.py
        from accord.cli.teacher_cmd import learn_with_teacher

        learn_with_teacher(teacher, data, out, labels, charter, model, from_scratch, seed, as_json)
        return
    if from_store:
        _learn_from_store(charter, model, out, from_scratch, seed, holdout, as_json, db, name, suite or [],
                          not no_packaged_suite)
        return
    if suite or no_packaged_suite:
        raise InputError("--suite and --no-packaged-suite apply to --from-store",
                         hint="reference suites guard the promotion of a retrain from reviews")
    if name != "default":
        raise InputError("--name applies to --from-store", hint="to teach another model from a file, pass it with --model DIR")
    if data is None:
        raise InputError("no feedback given", hint="pass --data FEEDBACK.jsonl, or --from-store (see docs/quickstart.md)")
    if not 0 <= holdout < 1:
        raise InputError(f"--holdout must be in [0, 1) (got {holdout})")
    ch = load_charter(charter)
    records = read_feedback(data, ch)
    if not records:
        raise InputError(f"{data}: no feedback records in the file")
    from accord.cli.models_in_use import model_in_use

    model = model_in_use(model)  # building on the version in use
    base = None if from_scratch else load_model(model)
    with _stages(f"learn ({len(records)} records)") as progress:
        decision_base = None if from_scratch else load_decision_model(model)
        result = learn_model(records, ch, base=base, from_scratch=from_scratch, random_state=seed, source=f"feedback:{data.name}",
                             decision_base=decision_base, progress=progress)
        progress("saving and registering the model", 0, 0)
        path = result.save(out, name=out.name)
        known = _register_model(db, out, result)
    if as_json:
        sys.stdout.write(json.dumps({"model": str(path), "version": result.model.version, "counts": result.counts,
                                     "metrics": result.metrics, "unchanged": known is not None,
                                     "decision_version": result.decision.version if result.decision is not None else None}) + "\n")
        return
    mode = "from scratch" if from_scratch else f"building on {current_model_dir(model)}"
    console.print(f"learned from {result.counts['label']} labels, {result.counts['preference']} preferences, "
                  f"{result.counts['demonstration']} demonstrations ({mode})")
    if result.decision is not None:
        card = result.decision.card_
        console.print(f"the decision model (the default gate's judge) has been taught {card.get('taught', 0)} verdicts and "
                      f"{card.get('taught_preferences', 0)} preferences in all: {result.decision.version}", markup=False)
    _print_metrics(result.metrics)
    if known is not None:
        console.print(f"model unchanged: {result.model.version} is what this data gave before (registered as "
                      f"{known.name} #{known.id}, {known.path})", markup=False)
    console.print(f"saved [bold]{result.model.version}[/] to {path} — use it with: accord check --model {path}")


@contextlib.contextmanager
def _stages(title: str) -> Iterator[Callable[[str, int, int], None]]:
    """Show a long job's stages on stderr: a spinner, a bar of the stages done, the stage
    (``2/4``) and the time in all; each finished stage stays on screen with its duration. On a
    terminal only (a log or a pipe gets no progress lines)."""
    from rich.progress import SpinnerColumn, TimeElapsedColumn

    show = err_console.is_terminal
    with Progress(SpinnerColumn(), BarColumn(bar_width=16), TimeElapsedColumn(),
                  TextColumn("[bold]{task.fields[title]}[/] · {task.description}"),
                  console=err_console, disable=not show, transient=True) as bar:
        task = bar.add_task("starting", title=title, total=None)
        last: dict[str, Any] = {}

        def progress(stage: str, i: int, n: int) -> None:
            if last and show:  # the finished stage stays on screen with its time
                err_console.print(f"  ✓ {last['stage']} ({time.perf_counter() - last['t0']:.1f} s)", markup=False,
                                  highlight=False)
            last.update(stage=stage, t0=time.perf_counter())
            bar.update(task, description=f"{i}/{n} {stage}" if n else stage, completed=max(i - 1, 0), total=n or None)

        yield progress
        if last and show:
            err_console.print(f"  ✓ {last['stage']} ({time.perf_counter() - last['t0']:.1f} s)", markup=False,
                              highlight=False)


def _learn_from_store(charter: Path | None, model: Path | None, out: Path, from_scratch: bool, seed: int,
                      holdout: float, as_json: bool, db: str | None, name: str, suites: list[Path],
                      packaged: bool) -> None:
    from accord.charter import load_charter
    from accord.review.retrain import retrain_from_store
    from accord.store import Store

    store = Store.open(db)
    parent = out.parent if out == Path(".accord/models/latest") else out  # versions go in <out>/<version>
    with _stages(f"retrain {name} from the audit store") as progress:
        result = retrain_from_store(store, load_charter(charter), base_model_dir=model, out_dir=parent, name=name,
                                    from_scratch=from_scratch, random_state=seed, holdout=holdout or 0.2, actor="cli",
                                    suites=suites, packaged=packaged, progress=progress)
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict(), default=str) + "\n")
    else:
        from accord.cli.promotion_view import print_promotion

        print_promotion(result, console)
    if not result.promoted:
        raise typer.Exit(1)


def _register_model(db: str | None, out: Path, result: Any) -> Any:
    """Register the learned model; returns the registry row that already had this version, else None.

    Training is deterministic, so the same data, base and seed give the same version id: a rerun
    finds its model registered already, and that is success ("model unchanged"), not an error.
    """
    from accord.store import Store

    with Store.open(db) as store:
        same = [m for m in store.model_versions(out.name) if m.version == result.model.version]
        if same:
            return same[0]
        store.add_model_version(name=out.name, version=result.model.version, path=str(out.resolve()),
                                card=result.model.card_, metrics=result.metrics)
    return None


def _print_metrics(metrics: dict[str, Any]) -> None:
    if not metrics:
        console.print("[dim]too little feedback for a hold-out (fewer than 10 records): no metrics[/]")
        return
    table = Table(title=f"held-out metrics ({metrics.get('holdout', 0)} records)", header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in (metrics.get("labels") or {}).items():
        table.add_row(f"labels {k}", "—" if v is None else f"{v}")
    for k in ("pairwise_accuracy", "pairs", "demonstrations_acceptable"):
        if k in metrics:
            table.add_row(k.replace("_", " "), str(metrics[k]))
    console.print(table)


def evaluate(
    path: Annotated[Path, typer.Argument(help="Labelled cases JSONL: {context?, action, verdict, principle?} per line.")],
    charter: CharterOpt = None,
    model: ModelOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    judges: JudgesOpt = DEFAULT_JUDGES,
    band: BandOpt = "0.2,0.8",
) -> None:
    """Measure how well the gate agrees with human labels: precision, recall, F1, AUPRC per principle."""
    from accord.learning.feedback import read_labels
    from accord.learning.metrics import binary_metrics
    from accord.types import Case

    labels = read_labels(path)
    gate = make_gate(charter, model, judges=judges, band=band)
    cases = [Case(context=r.context, action=r.action) for r in labels]
    verdicts: list[Verdict] = []
    with Progress(TextColumn("evaluating"), BarColumn(), MofNCompleteColumn(), console=err_console,
                  disable=not err_console.is_terminal, transient=True) as bar:
        task = bar.add_task("eval", total=len(cases))
        for i in range(0, len(cases), 512):
            verdicts.extend(gate.check_many(cases[i:i + 512], record=False))
            bar.advance(task, min(512, len(cases) - i))
    y = [int(r.verdict == "unacceptable") for r in labels]
    rows: dict[str, Any] = {"overall": binary_metrics(y, [v.risk for v in verdicts],
                                                      flagged=[v.decision != "allow" for v in verdicts]).as_dict()}
    for pid in gate.charter.principle_ids:
        tagged = [i for i, r in enumerate(labels) if r.principle == pid and r.verdict == "unacceptable"]
        if not tagged:
            continue
        yp = [int(r.verdict == "unacceptable" and r.principle == pid) for r in labels]
        sp = [next((p.score for p in v.principles if p.id == pid), 0.0) for v in verdicts]
        fl = [any(p.id == pid and p.violated for p in v.principles) for v in verdicts]
        rows[pid] = binary_metrics(yp, sp, flagged=fl).as_dict()
    if as_json:
        sys.stdout.write(json.dumps({"file": str(path), "judge": gate.version, "metrics": rows}) + "\n")
        return
    table = Table(title=f"{path} — {len(labels)} labelled cases, judge {gate.version}", header_style="bold")
    for col in ("scope", "n", "positives", "precision", "recall", "F1", "AUPRC", "FPR"):
        table.add_column(col, justify="right" if col != "scope" else "left")
    for name, m in rows.items():
        table.add_row(name, str(m["n"]), str(m["positives"]), f"{m['precision']:.3f}", f"{m['recall']:.3f}",
                      f"{m['f1']:.3f}", "—" if m["auprc"] is None else f"{m['auprc']:.3f}",
                      "—" if m["fpr"] is None else f"{m['fpr']:.3f}")
    console.print(table)
    console.print("[dim]overall: flagged = decision other than allow; AUPRC ranks by risk. "
                  "Per principle: flagged = principle violated; AUPRC ranks by its score.[/]")


def demo(
    model: ModelOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the summary tables.")] = False,
) -> None:
    """Run the whole loop on built-in cases: judge, explain, learn from reviewers, judge again."""
    from accord.cli.demo import run_demo

    run_demo(model=model, quiet=quiet)


def register(app: typer.Typer) -> None:
    app.command()(cli_errors(init))
    charter_app.command("lint")(cli_errors(lint))
    app.add_typer(charter_app, name="charter")
    app.command()(cli_errors(check))
    app.command()(cli_errors(learn))
    app.command("eval")(cli_errors(evaluate))
    app.command()(cli_errors(demo))
