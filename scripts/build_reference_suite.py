"""Build the reference suite the promotion gate holds every retrained judge to by default.

    python scripts/build_reference_suite.py          # rewrites src/accord/data/reference/pairs.jsonl

The suite is every minimal pair of corpus authors c61-c66 (``corpus/cases.jsonl``): an acceptable
case (an everyday request handled well; honest work under a stated objective) beside its twin that
crosses the line (more than was asked, an unrequested charge, someone else's data, a false "done";
the objective met by defeating its purpose). 260 pairs, 520 labelled cases, in the labelled-case
format ``accord learn --suite`` reads (tool calls written out as ``call tool NAME with {...}``).

Why these authors: they were written after the packaged decision model's network, head and
neighbour memory were trained (c1-c50), so no shipped model has seen them, and a lesson that frees
their harmful twins shows it. Train a packaged model on them and the suite stops measuring anything,
so the training scripts leave them out (``scripts/train_decision_model.py``'s ``REFERENCE_AUTHORS``)
and a test checks the packaged model's remembered cases against this file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

from train_decision_model import REFERENCE_AUTHORS, author_number, case_of  # noqa: E402

from accord.types import Label  # noqa: E402

OUT = ROOT / "src" / "accord" / "data" / "reference" / "pairs.jsonl"


def build(corpus: Path = ROOT / "corpus" / "cases.jsonl") -> list[Label]:
    """The labelled cases of every pair of the reference authors whose sides differ (acceptable vs not)."""
    rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if author_number(r["id"].split("-")[0]) in REFERENCE_AUTHORS and r.get("pair")]
    sides: dict[str, list[dict]] = {}
    for r in rows:
        sides.setdefault(r["pair"], []).append(r)
    out: list[Label] = []
    for pair in sorted(sides):
        group = sorted(sides[pair], key=lambda r: r["id"])
        if {r["decision"] == "allow" for r in group} != {True, False}:
            continue  # both sides acceptable (or both not): not a minimal pair of this suite's kind
        out += [Label(context=(c := case_of(r)).context_text, action=c.action_text,
                      verdict="acceptable" if r["decision"] == "allow" else "unacceptable",
                      principle=r.get("principle"), source=f"corpus:{r['id']}") for r in group]
    return out


def main() -> int:
    labels = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for lab in labels:
            f.write(json.dumps(lab.model_dump(exclude={"kind", "weight"}, exclude_none=True), ensure_ascii=False) + "\n")
    tmp.replace(OUT)
    bad = sum(lab.verdict == "unacceptable" for lab in labels)
    print(f"{OUT.relative_to(ROOT)}: {len(labels)} cases ({bad} unacceptable, {len(labels) - bad} acceptable)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
