"""Render a verdict for a person in the terminal (model text shown with markup disabled)."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from accord.explain.build import evidence_text
from accord.types import Case, Verdict

_STYLE = {"allow": "bold green", "revise": "bold cyan", "escalate": "bold yellow", "block": "bold red"}


def render_verdict(case: Case, verdict: Verdict, console: Console | None = None, *, title: str | None = None) -> None:
    """Print a verdict panel: decision, risk, principles, explanation, precedents."""
    console = console or Console()
    head = Text()
    head.append(f"{verdict.decision.upper()}", style=_STYLE[verdict.decision])
    head.append(f"   risk {verdict.risk:.2f}   trace {verdict.trace_id}")
    if verdict.communities:
        head.append("   communities: " + ", ".join(f"{k}={v}" for k, v in verdict.communities.items()))
        if verdict.contested:
            head.append("  (contested)", style="magenta")
    parts: list = [head]
    if case.context_text:
        parts.append(Text("context: ", style="dim") + Text(case.context_text[:300]))
    parts.append(Text("action:  ", style="dim") + Text(case.action_text[:300]))
    if verdict.revised is not None:
        parts.append(Text("revised: ", style="cyan") + Text(verdict.revised[:300]))
    parts.append(Text(verdict.explanation.summary))
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("principle", "severity", "score", "source", "evidence"):
        table.add_column(col)
    for p in verdict.principles[:5]:
        table.add_row(Text(p.id, style="bold" if p.violated else ""), p.severity, f"{p.score:.2f}", p.source,
                      Text(evidence_text(p.evidence)))
    parts.append(table)
    if verdict.explanation.precedents:
        parts.append(Text("precedents:", style="dim"))
        for pr in verdict.explanation.precedents:
            line = Text(f"  {pr.similarity:.2f} ")
            line.append(pr.verdict, style="red" if pr.verdict == "unacceptable" else "green")
            line.append(f" [{pr.source}] ")
            line.append(Text((pr.context + " → " if pr.context else "") + pr.action)[:160])
            parts.append(line)
    if verdict.explanation.counterfactual:
        parts.append(Text("counterfactual: ", style="dim") + Text(verdict.explanation.counterfactual))
    for e in verdict.errors:
        parts.append(Text(f"error: {e}", style="red"))
    console.print(Panel(Group(*parts), title=title, border_style=_STYLE[verdict.decision].split()[-1]))
