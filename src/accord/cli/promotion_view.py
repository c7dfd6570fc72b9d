"""The promotion gate's comparison in the terminal (``accord learn --from-store``)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from accord.review.retrain import PromotionResult


def promotion_table(result: PromotionResult) -> Table:
    """The current model and the candidate, set by set and metric by metric."""
    prev = result.previous.version if result.previous else "current"
    t = Table(title=f"promotion gate: {prev} (current) vs {result.version} (candidate)", header_style="bold",
              title_justify="left")
    for col in ("evaluation set", "n", "metric", "current", "candidate", ""):
        t.add_column(col, justify="right" if col in ("n", "current", "candidate") else "left")
    for c in result.comparison:
        first = True
        for metric in ("accuracy", "errors", "missed", "f1", "auprc", "brier"):
            if metric not in c.current:
                continue
            a, b = c.current.get(metric), c.candidate.get(metric)
            if metric == "missed":  # the unacceptable cases let through: the gate's second rule
                metric = f"missed (of {c.current.get('unacceptable', 0)} unacceptable)"
            mark = ("[red]worse[/]" if c.worse else "[green]ok[/]") if first else ""
            t.add_row(c.name if first else "", str(c.current.get("n", 0)) if first else "", metric,
                      "—" if a is None else str(a), "—" if b is None else str(b), mark)
            first = False
    return t


def print_promotion(result: PromotionResult, console: Console) -> None:
    """Print the comparison and the decision."""
    if result.comparison:
        console.print(promotion_table(result))
    verdict = "[bold green]promoted[/]" if result.promoted else "[bold red]not promoted[/]"
    console.print(verdict, ": ", sep="", end="")
    console.print(result.reason, markup=False, highlight=False)
