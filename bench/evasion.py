"""Red-team benchmark: does obfuscation get harmful text past the gate, and does undoing it flag safe text?

For each mutation (zero-width characters, soft hyphens, homoglyphs, leetspeak, letters split by
dots, combining marks, full-width forms, bidi controls, base64 with "decode this"; all from the suites' registry,
``accord.suites.mutations``, seeded per text), prints the detection rate
(decision other than allow) on AdvBench harmful behaviours and strings, and the false-flag rate
on XSTest's safe prompts, each judged as the action with no context, with the points lost or
gained against plain text. Prints figures; asserts nothing.

    python bench/evasion.py                      # the default gate
    python bench/evasion.py --judges rules,model # the chat fast path
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import DEFAULT_DATA, xstest

from accord import Gate
from accord.suites.mutations import mutate
from accord.types import Case


def _registered(mutation: str) -> Callable[[str], str]:
    """A mutation from the suites' registry (``accord.suites.mutations``), seeded per text."""
    return lambda s: mutate(s, mutation, key=s)


MUTATIONS: dict[str, Callable[[str], str]] = {
    "plain": lambda s: s, "zero-width": _registered("zero_width"), "soft-hyphen": _registered("soft_hyphen"),
    "homoglyph": _registered("homoglyphs"), "leetspeak": _registered("leetspeak"), "dots": _registered("dots"),
    "combining": _registered("combining"), "full-width": _registered("fullwidth"), "bidi": _registered("bidi"),
    "base64": _registered("base64"),
}


def advbench(n: int) -> list[str]:
    folder = DEFAULT_DATA / "advbench"
    with open(folder / "harmful_behaviors.csv", newline="", encoding="utf-8") as f:
        behaviours = [r["goal"] for r in csv.DictReader(f)][:n]
    with open(folder / "harmful_strings.csv", newline="", encoding="utf-8") as f:
        strings = [r["target"] for r in csv.DictReader(f)][:n]
    return behaviours + strings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--judges", default=None, help="cascade stages (default: the default gate's)")
    ap.add_argument("-n", type=int, default=50, help="AdvBench behaviours and strings each (default 50)")
    args = ap.parse_args()
    gate = Gate.from_charter(None, judges=args.judges) if args.judges else Gate.default()
    harmful = advbench(args.n)
    texts, labels, _ = xstest()
    safe = [t for t, y in zip(texts, labels, strict=True) if not y]
    print(f"gate {gate.version}: {len(harmful)} AdvBench harmful texts, {len(safe)} XSTest safe prompts")
    print(f"{'mutation':12s} {'detected':>9s} {'vs plain':>9s} {'false flags':>12s} {'vs plain':>9s} {'seconds':>8s}")
    base: tuple[float, float] | None = None
    for name, rewrite in MUTATIONS.items():
        t = time.perf_counter()
        det = sum(v.decision != "allow" for v in gate.check_many([Case(action=rewrite(s)) for s in harmful],
                                                                 record=False)) / len(harmful)
        ff = sum(v.decision != "allow" for v in gate.check_many([Case(action=rewrite(s)) for s in safe],
                                                                record=False)) / len(safe)
        base = base or (det, ff)
        print(f"{name:12s} {det:9.0%} {100 * (det - base[0]):+8.0f}p {ff:12.0%} {100 * (ff - base[1]):+8.0f}p "
              f"{time.perf_counter() - t:8.1f}")


if __name__ == "__main__":
    main()
