"""``accord demo``: the whole loop on built-in cases, in under a minute.

1. judge spec-gaming, harmful, privacy and benign-but-edgy cases with the packaged defaults;
2. show the verdicts and their explanations;
3. apply a packaged set of reviewer verdicts (a customer-service team that counts "you cannot
   cancel" as a lie, and a security-education team that wants attack explanations answered);
4. retrain (building on the default model) and show which verdicts changed and why.
"""

from __future__ import annotations

import tempfile
import time
from importlib import resources
from pathlib import Path

from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from accord.charter import load_charter
from accord.cli.common import console
from accord.explain import render_verdict
from accord.gate import Gate
from accord.learning.feedback import read_cases, read_feedback
from accord.learning.models import load_model
from accord.learning.trainer import learn
from accord.types import Case, Demonstration, Label, Preference, Verdict

_STYLE = {"allow": "green", "revise": "cyan", "escalate": "yellow", "block": "red"}
SHOWN = ("traffic-ban-cars", "happiness-hide-news", "calendar-delete-all", "ticket-email", "kill-process")
#: what each demo kind should get (``tests/test_demo_outcomes.py`` holds steps 1-4 to it)
EXPECTED = {"spec-gaming": ("block", "escalate"), "harmful": ("block",), "privacy": ("revise",), "benign-edgy": ("allow",)}


def _demo_file(name: str) -> Path:
    return Path(str(resources.files("accord.data").joinpath("demo", name)))


def _table(title: str, cases: list[Case], verdicts: list[Verdict], before: list[Verdict] | None = None) -> Table:
    t = Table(title=title, header_style="bold", title_justify="left")
    t.add_column("case")
    if before is None:
        t.add_column("kind", style="dim")
    else:
        t.add_column("before")
    t.add_column("decision")
    t.add_column("risk", justify="right")
    t.add_column("why")
    for i, (c, v) in enumerate(zip(cases, verdicts, strict=True)):
        row: list[Text | str] = [c.id or ""]
        if before is None:
            row.append(str(c.meta.get("kind", "")))
        else:
            row.append(Text(before[i].decision, style=_STYLE[before[i].decision]))
        changed = before is not None and before[i].decision != v.decision
        row.append(Text(v.decision + (" ←" if changed else ""), style="bold " + _STYLE[v.decision] if changed else _STYLE[v.decision]))
        row.append(f"{v.risk:.2f}")
        row.append(Text(_why(v)))
        t.add_row(*row)
    return t


def _why(v: Verdict) -> str:
    """A short reason: the rule, or the decisive principles with their scores."""
    if v.errors:
        return "judge failed: " + v.errors[0][:40]
    if v.explanation.rule and v.decision != "allow":
        return f"rule {v.explanation.rule}"
    scored = {p.id: p.score for p in v.principles}
    pids = v.explanation.decisive or [p.id for p in v.principles[:1]]
    return ", ".join(f"{pid} {scored.get(pid, 0):.2f}" for pid in pids[:2])


def change_reason(case: Case, before: Verdict, after: Verdict) -> Text:
    """Why a verdict changed after learning: the reviewer's precedent it now cites, or else the
    decisive principles' scores before and after (every changed verdict gets a reason)."""
    line = Text(f"{case.id}: {before.decision} → {after.decision}. ", style="bold")
    cited = [p for p in after.explanation.precedents if p.source.startswith("reviewer:")]
    if cited:
        p = cited[0]
        line.append(Text(f"Now cites a reviewer's precedent ({p.source}, similarity {p.similarity:.2f}): "
                         f"“{p.action[:80]}” was judged {p.verdict}.", style=""))
        return line
    old = {p.id: p.score for p in before.principles}
    new = {p.id: p.score for p in after.principles}
    pids = after.explanation.decisive or before.explanation.decisive or [p.id for p in after.principles[:1]]
    moved = ", ".join(f"'{pid}' {old.get(pid, 0.0):.2f} → {new.get(pid, 0.0):.2f}" for pid in pids[:2])
    line.append(Text(f"No reviewed case is close enough to cite; what the reviews taught moved the scores: {moved} "
                     f"(risk {before.risk:.2f} → {after.risk:.2f}).", style=""))
    return line


def demo_cases() -> list[Case]:
    """The built-in cases; ``meta["kind"]`` is spec-gaming, harmful, privacy, benign-edgy or team values
    (cases a team teaches its own answer to: they move after the reviews)."""
    return read_cases(_demo_file("cases.jsonl"))


def demo_reviews() -> list[Label | Preference | Demonstration]:
    return read_feedback(_demo_file("reviews.jsonl"))


def run_demo(model: Path | None = None, quiet: bool = False) -> None:
    t0 = time.perf_counter()
    charter = load_charter(None)
    from accord.cli.models_in_use import model_in_use

    base = load_model(model_in_use(model))
    # the demo's story is the value model's teaching loop, on the chat fast path (rules + value model);
    # with the decision model in front, one benign-edgy case is escalated and one reviewed case stays
    # allowed (see the session note): the demo shows the decision model's verdicts in step 5
    gate = Gate(charter, model=base)
    cases = demo_cases()
    console.print(Rule("accord demo: charter → judges → gate → verdict → review → learning"))
    console.print(f"charter [bold]{charter.name}[/]: {len(charter.principles)} principles, {len(charter.rules)} rules; "
                  f"value model {base.version} ({base.card_.get('name') or 'default'})")
    before = gate.check_many(cases)
    console.print(_table(f"1. The chat fast path (rules, value model) judges {len(cases)} cases", cases, before))
    if not quiet:
        console.print(Rule("2. Why: explanations for a few verdicts"))
        for c, v in zip(cases, before, strict=True):
            if c.id in SHOWN:
                render_verdict(c, v, console, title=c.id)

    feedback = demo_reviews()
    console.print(Rule("3. Reviewers teach the judge"))
    kinds = {k: sum(r.kind == k for r in feedback) for k in ("label", "preference", "demonstration")}
    console.print(f"{kinds['label']} labels, {kinds['preference']} preference, {kinds['demonstration']} demonstration from "
                  "a customer-service team (telling a customer they cannot cancel is a lie) and a security-education "
                  "team (explaining attacks so people can defend is wanted).")
    result = learn(feedback, charter, base=base, holdout=0, source="demo-reviews", teach=False)  # steps 1-4: the value model
    with tempfile.TemporaryDirectory() as tmp:
        result.save(Path(tmp) / "demo-model", name="demo-model")
    new_gate = Gate(charter, model=result.model)
    after = new_gate.check_many(cases)
    console.print(_table(f"4. After learning (model {result.model.version}): what changed", cases, after, before))
    changed = [(c, b, a) for c, b, a in zip(cases, before, after, strict=True) if b.decision != a.decision]
    for c, b, a in changed:
        console.print(change_reason(c, b, a))
    if not changed:
        console.print("no decision changed; the scores moved (see risk).")
    agents = Gate.default()
    default = agents.check_many(cases)
    console.print(_table("5. The default gate (rules, decision model, value model) on the same cases; the reviews "
                         "above taught the value model, not it (accord learn teaches both, in minutes)", cases,
                         default, before))
    misses = [f"{c.id} ({c.meta['kind']}: {v.decision})" for c, v in zip(cases, default, strict=True)
              if v.decision not in EXPECTED.get(c.meta.get("kind", ""), (v.decision,))]
    if misses:  # said, not hidden: the decision model's known misses (docs/benchmarks.md)
        console.print(f"[yellow]The default gate decides {len(misses)} of these cases otherwise than the demo's own "
                      "labels say[/] (known misses of the decision model, docs/benchmarks.md): " + ", ".join(misses)
                      + ". Reviewers' verdicts teach it: accord review, then accord learn.")
    console.print(Rule(f"done in {time.perf_counter() - t0:.1f} s — try: accord check --context … --action …"))
