"""Are two source trees' verdicts identical? The chat fast path's verdicts on ``bench/speed.py``'s cases.

    python bench/identity.py dump TREE OUT.jsonl [-n 10000]   # verdicts of the tree at TREE
    python bench/identity.py diff BEFORE.jsonl AFTER.jsonl    # rows, decisions, fields that differ

``dump`` imports accord and ``bench/speed.py`` from ``TREE`` (a checkout, e.g. ``git worktree add
/tmp/old 7a31832``), builds ``Gate.from_charter(None, judges="rules,model")`` and writes one verdict
per line: decision, risk, every principle with its score and evidence, the explanation with its
precedents (the trace id and timings left out). Run it with a Python whose installed accord does
not shadow ``TREE/src`` in a way the old tree cannot load (an old commit that predates the plugin
entry points needs an environment without accord installed). ``diff`` prints the count of rows
that differ, of decisions that differ, and which fields differ how often.

Used for issue 15 ("verdicts, evidence and precedents identical before and after"): docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import DEFAULT_DATA

DROP = ("trace_id", "latency_ms", "created_at", "timestamp")


def dump(tree: Path, out: Path, n: int, data: Path) -> None:
    sys.path[:0] = [str(tree / "src"), str(tree / "bench")]
    for name in ("_data", "_report"):  # the tree's own helpers, not this checkout's
        sys.modules.pop(name, None)
    import speed  # the tree's own case builder

    from accord.gate.gate import Gate

    gate = Gate.from_charter(None, judges="rules,model")
    gate.check_many(speed.build_cases(data, 64, seed=99))  # the same warm-up as bench/speed.py
    verdicts = gate.check_many(speed.build_cases(data, n, seed=0), record=False)
    with open(out, "w", encoding="utf-8") as f:
        for v in verdicts:
            row = json.loads(v.model_dump_json())
            for k in DROP:
                row.pop(k, None)
            f.write(json.dumps(row, sort_keys=True) + "\n")
    counts = collections.Counter(v.decision for v in verdicts)
    print(f"{tree}: {len(verdicts):,} verdicts, {dict(sorted(counts.items()))} -> {out}")


def diff(before: Path, after: Path) -> int:
    a = [json.loads(x) for x in before.read_text(encoding="utf-8").splitlines()]
    b = [json.loads(x) for x in after.read_text(encoding="utf-8").splitlines()]
    if len(a) != len(b):
        print(f"different lengths: {len(a):,} and {len(b):,} rows", file=sys.stderr)
        return 2
    rows, decisions, fields = 0, 0, collections.Counter[str]()
    for x, y in zip(a, b, strict=True):
        keys = set(x) & set(y)  # fields added by a later version are not a difference
        changed = [k for k in sorted(keys) if x[k] != y[k]]
        rows += bool(changed)
        decisions += x["decision"] != y["decision"]
        fields.update(changed)
    with_precedents = sum(bool((r.get("explanation") or {}).get("precedents")) for r in b)
    with_evidence = sum(any(p.get("evidence") for p in r.get("principles", [])) for r in b)
    print(f"{len(a):,} verdicts ({with_evidence:,} with evidence, {with_precedents:,} with precedents): "
          f"{rows:,} rows differ, {decisions:,} decisions differ" + (f"; fields: {dict(fields)}" if fields else ""))
    return 1 if rows else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump", help="write the verdicts of the source tree TREE")
    d.add_argument("tree", type=Path)
    d.add_argument("out", type=Path)
    d.add_argument("-n", type=int, default=10_000, help="cases (default 10,000)")
    d.add_argument("--data", type=Path, default=DEFAULT_DATA)
    c = sub.add_parser("diff", help="compare two dumps")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = ap.parse_args()
    if args.cmd == "dump":
        dump(args.tree.resolve(), args.out, args.n, args.data)
        return 0
    return diff(args.before, args.after)


if __name__ == "__main__":
    raise SystemExit(main())
