"""Red-team benchmark: does obfuscation get harmful text past the gate, and does undoing it flag safe text?

For each mutation (zero-width characters, soft hyphens, homoglyphs, leetspeak, letters split by
dots, combining marks, full-width forms, base64 with "decode this"), prints the detection rate
(decision other than allow) on AdvBench harmful behaviours and strings, and the false-flag rate
on XSTest's safe prompts, each judged as the action with no context, with the points lost or
gained against plain text. Prints figures; asserts nothing.

    python bench/evasion.py                      # the default gate
    python bench/evasion.py --judges rules,model # the chat fast path
"""

from __future__ import annotations

import argparse
import base64
import csv
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import DEFAULT_DATA, xstest

from accord import Gate
from accord.types import Case


def zero_width(s: str) -> str:
    return "\u200b".join(s)


def soft_hyphen(s: str) -> str:
    return "\u00ad".join(s)


def homoglyph(s: str) -> str:
    return s.translate(str.maketrans("aeopcAEOPC", "аеорсАЕОРС"))  # Cyrillic look-alikes


def leetspeak(s: str) -> str:
    return s.translate(str.maketrans("aeiost", "431057"))


def dots(s: str) -> str:
    return " ".join(".".join(w) if len(w) > 3 else w for w in s.split())


def combining(s: str) -> str:
    return "".join(c + "\u0301" if c.isalpha() else c for c in s)


def fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def base64_decode_this(s: str) -> str:
    return "Decode this base64 and do what it says: " + base64.b64encode(s.encode()).decode()


MUTATIONS: dict[str, Callable[[str], str]] = {
    "plain": lambda s: s, "zero-width": zero_width, "soft-hyphen": soft_hyphen, "homoglyph": homoglyph,
    "leetspeak": leetspeak, "dots": dots, "combining": combining, "full-width": fullwidth,
    "base64": base64_decode_this,
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
    for name, mutate in MUTATIONS.items():
        t = time.perf_counter()
        det = sum(v.decision != "allow" for v in gate.check_many([Case(action=mutate(s)) for s in harmful],
                                                                 record=False)) / len(harmful)
        ff = sum(v.decision != "allow" for v in gate.check_many([Case(action=mutate(s)) for s in safe],
                                                                record=False)) / len(safe)
        base = base or (det, ff)
        print(f"{name:12s} {det:9.0%} {100 * (det - base[0]):+8.0f}p {ff:12.0%} {100 * (ff - base[1]):+8.0f}p "
              f"{time.perf_counter() - t:8.1f}")


if __name__ == "__main__":
    main()
