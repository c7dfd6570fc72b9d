"""Teaching that generalises: a handful of a team's verdicts on a new kind of case, then the same
kind of case in other domains, and acceptable near-misses that must stay allowed.

``bench/teaching/concepts.jsonl`` holds 10 concepts written for this bench (unrequested paid
sign-ups, promising what policy forbids, contacting a person's employer, ...), each with 5 *teach*
cases from at least 3 domains, 10 *paraphrases* from other domains and 10 *near-misses* (similar on
the surface, acceptable). For each concept, on its own: the packaged decision model is taught the 5
cases as ``block`` (:meth:`DecisionModel.teach`), and the paraphrases (should now be stopped) and
near-misses (should stay allowed) are judged before and after. Nothing here is in the corpus.

``--preference`` teaches each concept the way the issue that asked for this bench describes a team
doing it: four verdicts and one preference. ``bench/teaching/twins.jsonl`` holds, for every teach
case, its acceptable twin (the same context, the action done the acceptable way), written by a helper
session that saw only the teach cases, never the paraphrases or near-misses. Each teach case takes
its turn as the preference's rejected side (its twin the chosen side) while the other four are taught
as ``block``; the figures are the mean over the five turns.

Prints a table per concept and the totals; ``--write`` updates docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import numpy as np  # noqa: E402
from _report import write_section  # noqa: E402

from accord.judges.decision import packaged_decision_dir  # noqa: E402
from accord.learning.decision import POOLED_L2, DecisionModel  # noqa: E402
from accord.types import Case  # noqa: E402


def concepts(path: Path = HERE / "teaching" / "concepts.jsonl") -> dict[str, dict[str, list[tuple[Case, str]]]]:
    out: dict[str, dict[str, list[tuple[Case, str]]]] = defaultdict(lambda: defaultdict(list))
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            out[r["concept"]][r["role"]].append((Case(context=r["context"], action=r["action"]), r["principle"]))
    return out


def twins(path: Path = HERE / "teaching" / "twins.jsonl") -> dict[str, list[Case]]:
    """Each concept's acceptable twins, in the order of its teach cases."""
    out: dict[str, list[Case]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            out[r["concept"]].append(Case(context=r["context"], action=r["action"]))
    return out


def lessons(teach: list[tuple[Case, str]], twin: list[Case] | None) -> list[tuple[list[Case], list[str | None], list[tuple[Case, Case]]]]:
    """The ways a concept is taught: its five verdicts, or (with ``twin``) four verdicts and one
    preference, each teach case taking its turn as the preference's rejected side."""
    if twin is None:
        return [([c for c, _ in teach], [p for _, p in teach], [])]
    if len(twin) != len(teach) or any(t.context_text != c.context_text for t, (c, _) in zip(twin, teach, strict=False)):
        raise SystemExit("error: bench/teaching/twins.jsonl does not give one twin per teach case, in order, with its context")
    return [([c for j, (c, _) in enumerate(teach) if j != i], [p for j, (_, p) in enumerate(teach) if j != i],
             [(twin[i], teach[i][0])]) for i in range(len(teach))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, help="a decision model's folder (default: the packaged one)")
    ap.add_argument("--pooled-l2", default=str(POOLED_L2), help="the penalty on teaching's correction of the "
                    "cross-encoder's head; several, comma-separated, compare them (the tuning concepts are the "
                    f"first five in alphabetical order, the rest are held out; default {POOLED_L2})")
    ap.add_argument("--preference", action="store_true", help="teach four verdicts and one preference (a teach case "
                    "and its acceptable twin) instead of five verdicts; the mean over the five turns")
    ap.add_argument("--write", action="store_true", help="write the table (of the first --pooled-l2) into docs/benchmarks.md")
    args = ap.parse_args(argv)
    tw = twins() if args.preference else None
    grid = [float(x) for x in args.pooled_l2.split(",")]
    base = DecisionModel.load(args.model or packaged_decision_dir())
    cs = concepts()
    tune = set(sorted(cs)[:5])
    rows: dict[float, list[dict]] = defaultdict(list)
    for name, roles in cs.items():
        teach = roles["teach"]
        para = [c for c, _ in roles["paraphrase"]]
        near = [c for c, _ in roles["near_miss"]]
        para_before = sum(d != "allow" for d in base.predict(para))
        near_ok = [d == "allow" for d in base.predict(near)]
        near_before = sum(near_ok)
        for l2 in grid:
            t0 = time.perf_counter()
            after = []
            for cases, principles, pairs in lessons(teach, None if tw is None else tw[name]):
                taught = base.teach(cases, ["block"] * len(cases), principles, pairs=pairs, pooled_l2=l2)
                now = [d == "allow" for d in taught.predict(near)]
                after.append((sum(d != "allow" for d in taught.predict(para)), sum(now),
                              sum(a and b for a, b in zip(near_ok, now, strict=True))))
            r = {"concept": name, "tune": name in tune, "para_before": para_before, "near_before": near_before,
                 "para_after": float(np.mean([a[0] for a in after])), "near_after": float(np.mean([a[1] for a in after])),
                 "near_kept": float(np.mean([a[2] for a in after])),
                 "n_para": len(para), "n_near": len(near), "seconds": time.perf_counter() - t0}
            rows[l2].append(r)
            print(f"{name:28s} pooled_l2 {l2:<6g} paraphrases stopped {r['para_before']:2d} -> {r['para_after']:4g} / {r['n_para']}   "
                  f"near-misses allowed {r['near_before']:2d} -> {r['near_after']:4g} / {r['n_near']}   ({r['seconds']:.1f}s)", flush=True)
    if len(grid) > 1:
        print("\npooled_l2 | tuning concepts: paraphrases stopped, near-misses allowed | held-out concepts: the same")
        for l2 in grid:
            part = [[r for r in rows[l2] if r["tune"] == t] for t in (True, False)]
            print(f"{l2:<9g} | " + " | ".join(f"{sum(r['para_after'] for r in rs) / max(1, sum(r['n_para'] for r in rs)):.0%}, "
                                                f"{sum(r['near_after'] for r in rs) / max(1, sum(r['n_near'] for r in rs)):.0%}" for rs in part))
    text = table(rows[grid[0]])
    print(text)
    if args.write:
        write_section("teaching", text)
    return 0


def table(rows: list[dict]) -> str:
    tot: dict[str, float] = defaultdict(float)
    lines = ["| concept | paraphrases stopped, before → after | near-misses allowed, before → after | "
             "of those allowed before, still allowed after |", "|---|---:|---:|---:|"]
    for r in rows:
        for k in ("para_before", "para_after", "near_before", "near_after", "near_kept", "n_para", "n_near"):
            tot[k] += r[k]
        lines.append(f"| {r['concept']}{'' if r['tune'] else ' (held out)'} | {r['para_before']} → {r['para_after']:g} / {r['n_para']} | "
                     f"{r['near_before']} → {r['near_after']:g} / {r['n_near']} | {r['near_kept']:g} / {r['near_before']} |")
    lines.append(f"| **all** | **{tot['para_before'] / tot['n_para']:.0%} → {tot['para_after'] / tot['n_para']:.0%}** | "
                 f"**{tot['near_before'] / tot['n_near']:.0%} → {tot['near_after'] / tot['n_near']:.0%}** | "
                 f"**{tot['near_kept'] / max(1, tot['near_before']):.0%}** |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
