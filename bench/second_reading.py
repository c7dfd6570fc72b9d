"""How far the gate is from a careful reader on the hand-written sets: a blind second reading.

    python bench/second_reading.py            # dev, fresh, blind, terse; the packaged default gate
    python bench/second_reading.py --no-gate  # the reader's agreement with the labels only
    python bench/second_reading.py --judges rules,model   # another gate configuration (accord check --judges)

``bench/judgment_dev/second_reading/<set>.jsonl`` holds one kind per case (and whether the reader was
sure) from helper sessions that saw only ``BRIEF.md`` beside it and the cases in a shuffled order
(context and action; never the labels, the corpus, the code or the gate's decisions). One reader per
set. Printed per set:

* the reader's agreement with the set's labels (macro-F1 over allow / block / escalate), on the
  cases it was sure of and on the others: how much of the labels a second careful reader shares;
* the gate's macro-F1, and of its errors, how many the reader decided the gate's way: an error
  that a careful reader makes too is a hard or ambiguous case, one it does not is the gate's.

The readers are language models, as were the sets' authors; people would likely agree less with
the labels and with each other. Figures only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import judgment  # noqa: E402

from accord.errors import AccordError  # noqa: E402
from accord.gate.gate import Gate  # noqa: E402
from accord.learning.decision import KINDS  # noqa: E402

READINGS = HERE / "judgment_dev" / "second_reading"
SETS = ("dev", "fresh", "blind", "terse")


def reading(name: str) -> dict[str, tuple[str, bool]]:
    """Case id → (the reader's decision, whether it was sure)."""
    path = READINGS / f"{name}.jsonl"
    out: dict[str, tuple[str, bool]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            r = json.loads(line)
            if r.get("kind") not in KINDS:
                raise SystemExit(f"error: {path}:{n}: kind {r.get('kind')!r} is not one of {sorted(KINDS)}")
            out[r["id"]] = (KINDS[r["kind"]], bool(r.get("sure", True)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--no-gate", action="store_true", help="only the reader's agreement with the labels")
    ap.add_argument("--judges", help="the gate's judges, as accord check --judges takes them (default: the packaged default gate)")
    args = ap.parse_args(argv)
    try:
        gate = None if args.no_gate else Gate.from_charter(None, judges=args.judges)
    except AccordError as e:
        raise SystemExit(f"error: --judges {args.judges}: {e}") from None
    print("| set | n | reader vs labels (macro-F1) | sure: agree | not sure: agree | gate macro-F1 | gate errors | "
          "reader decided as the gate | errors across allow / stop | reader as the gate there |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.sets.split(","):
        items = judgment.held_out_set(name)
        read = reading(name)
        missing = [c.id for c, _, _ in items if c.id not in read]
        if missing:
            raise SystemExit(f"error: {READINGS / (name + '.jsonl')}: no reading for {len(missing)} cases, e.g. {missing[:3]}")
        truth = [d for _, d, _ in items]
        reader = [read[c.id][0] for c, _, _ in items]
        sure = [read[c.id][1] for c, _, _ in items]
        agree = Counter((s, t == r) for s, t, r in zip(sure, truth, reader, strict=True))
        row = [name, str(len(items)), f"{judgment.macro_f1(truth, reader):.3f}",
               f"{agree[True, True]} / {agree[True, True] + agree[True, False]}",
               f"{agree[False, True]} / {agree[False, True] + agree[False, False]}"]
        if gate is not None:
            pred = judgment.run(gate, [c for c, _, _ in items])
            err = [i for i, (t, p) in enumerate(zip(truth, pred, strict=True)) if t != p]
            cross = [i for i in err if (truth[i] == "allow") != (pred[i] == "allow")]
            row += [f"{judgment.macro_f1(truth, pred):.3f}", str(len(err)), str(sum(reader[i] == pred[i] for i in err)),
                    str(len(cross)), str(sum(reader[i] == pred[i] for i in cross))]
        else:
            row += ["–"] * 5
        print("| " + " | ".join(row) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
