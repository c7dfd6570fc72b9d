"""The end-of-job summary: decisions per principle, changes against the original decisions, top changes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from accord.batch.inputs import Item

__all__ = ["Summary", "render_summary", "summarise"]

DECISIONS = ("allow", "revise", "escalate", "block")
_ORDER = {d: i for i, d in enumerate(DECISIONS)}


@dataclass
class Summary:
    """Counts over a batch's verdicts.

    Attributes:
        decisions: verdicts per decision.
        principles: per principle, the decisions of the cases that violate it.
        failed: verdicts with a judge error or time-out (decided by the policy's on_error /
            on_timeout, never allow); a time-out depends on the machine's load, so these are the
            verdicts that can differ between two runs.
        compared: cases whose original decision is known.
        changes: ``(original, new) -> count`` over those cases, the unchanged included.
        top_changes: the most important changes first (the largest step in strictness, then the
            highest risk): index, case id, original, new, risk, principle, action.
    """

    cases: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    principles: dict[str, dict[str, int]] = field(default_factory=dict)
    compared: int = 0
    changes: dict[tuple[str, str], int] = field(default_factory=dict)
    top_changes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changed(self) -> int:
        """Cases whose decision differs from the original."""
        return sum(n for (a, b), n in self.changes.items() if a != b)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"cases": self.cases, "decisions": self.decisions, "failed": self.failed, "principles": self.principles,
                "compared": self.compared, "changed": self.changed,
                "changes": [{"from": a, "to": b, "count": n} for (a, b), n in sorted(self.changes.items())],
                "top_changes": self.top_changes}


def summarise(items: Sequence[Item], cases: Sequence[Any], verdicts: Sequence[dict[str, Any]], *,
              top: int = 10) -> Summary:
    """The summary of ``verdicts`` (parsed Verdict JSON) against the items' original decisions."""
    s = Summary(cases=len(verdicts))
    dec = Counter(v["decision"] for v in verdicts)
    s.decisions = {d: dec.get(d, 0) for d in DECISIONS}
    s.failed = sum(1 for v in verdicts if v.get("errors"))
    per: dict[str, Counter[str]] = {}
    changed: list[tuple[int, float, int]] = []
    changes: Counter[tuple[str, str]] = Counter()
    for i, (it, v) in enumerate(zip(items, verdicts, strict=True)):
        for p in v["principles"]:
            if p.get("violated"):
                per.setdefault(p["id"], Counter())[v["decision"]] += 1
        if it.original_decision is not None:
            changes[(it.original_decision, v["decision"])] += 1
            if it.original_decision != v["decision"]:
                step = abs(_ORDER[v["decision"]] - _ORDER[it.original_decision])
                changed.append((step, float(v["risk"]), i))
    s.principles = {pid: {d: c.get(d, 0) for d in DECISIONS}
                    for pid, c in sorted(per.items(), key=lambda kv: -sum(kv[1].values()))}
    s.compared = sum(changes.values())
    s.changes = dict(changes)
    changed.sort(key=lambda t: (-t[0], -t[1], t[2]))
    for _, _, i in changed[:top]:
        v, c = verdicts[i], cases[i]
        s.top_changes.append({"index": i, "case_id": c.id, "original": items[i].original_decision,
                              "decision": v["decision"], "risk": round(float(v["risk"]), 4),
                              "principle": next((p["id"] for p in v["principles"] if p.get("violated")), None),
                              "action": c.action_text[:200]})
    return s


def render_summary(s: Summary, console: Any, *, title: str = "") -> None:
    """Print the summary as tables (untrusted text shown as data)."""
    from rich.table import Table
    from rich.text import Text

    t = Table(title=title or f"{s.cases} cases", header_style="bold", title_justify="left")
    t.add_column("principle violated")
    for d in DECISIONS:
        t.add_column(d, justify="right")
    t.add_column("cases", justify="right")
    for pid, row in s.principles.items():
        t.add_row(Text(pid), *(str(row[d]) for d in DECISIONS), str(sum(row.values())))
    t.add_row(Text("all cases", style="bold"), *(str(s.decisions.get(d, 0)) for d in DECISIONS), str(s.cases),
              end_section=True)
    console.print(t)
    if s.failed:
        console.print(f"{s.failed} verdict(s) had a judge error or time-out (decided by the charter's policy, never "
                      "allow); they are the ones a rerun on a less busy machine may decide differently", style="yellow")
    if not s.compared:
        console.print("no original decisions in the input: nothing to compare "
                      "(read the store with --from-store, or give an original_decision column)", style="dim")
        return
    m = Table(title=f"changes against the original decisions: {s.changed} of {s.compared} changed",
              header_style="bold", title_justify="left")
    m.add_column("original → new")
    for d in DECISIONS:
        m.add_column(d, justify="right")
    for a in DECISIONS:
        counts = [s.changes.get((a, b), 0) for b in DECISIONS]
        if any(counts):
            m.add_row(a, *(f"[bold]{n}[/]" if n and a != b else str(n) for b, n in zip(DECISIONS, counts, strict=True)))
    console.print(m)
    if s.top_changes:
        c = Table(title="top changed cases", header_style="bold", title_justify="left")
        for col in ("#", "case id", "was", "now", "risk", "principle", "action"):
            c.add_column(col, overflow="fold" if col == "action" else "ellipsis")
        for r in s.top_changes:
            c.add_row(str(r["index"]), Text(r["case_id"] or ""), r["original"], r["decision"], f"{r['risk']:.2f}",
                      Text(r["principle"] or ""), Text(" ".join(r["action"].split())[:80]))
        console.print(c)
