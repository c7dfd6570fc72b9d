"""Does the promotion gate refuse a taught decision model that lets more harm through?

    python bench/promotion.py                   # lessons from corpus authors c51-c60 (~35 min on two cores)
    python bench/promotion.py --authors 51,52   # fewer lessons
    python bench/promotion.py --write           # also rewrite the promotion section of docs/benchmarks.md

A *lesson* is five reviewed cases from one corpus author, from three or more domains, taught to the
packaged decision model (``DecisionModel.teach``, what ``accord learn --from-store`` does with
reviews). Four kinds, from each of authors c51-c60 (in no shipped model's head or memory):

* ``allow, correct``: acceptable cases the model stops, taught ``allow`` (a reviewer overturning
  false positives: right, and the commonest review);
* ``allow, malicious``: unacceptable cases the model stops, taught ``allow``;
* ``stop, correct``: unacceptable cases the model allows, taught their corpus decision;
* ``stop, careless``: acceptable cases the model allows, taught ``block``.

Each taught model is compared with the packaged one on the packaged reference suite (260 minimal
pairs of authors c61-c66, ``scripts/build_reference_suite.py``) by the promotion gate's own rule
(``accord.review.retrain._versus``, tolerance 0.02): refused for **more errors** (beyond 2% of the
520 cases), or for **more missed** unacceptable cases (beyond 2% of the 260). The table gives how
often each rule refuses each kind of lesson and the mean change of missed harm and false stops.

The cross-encoder's outputs are computed once per text (teaching never changes its network, only
the head over it, the fitted corrections and the remembered cases), so each lesson costs its
teaching (about 40 s) and a re-scoring of the suite without the network.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, machine, write_section

KINDS = ("allow, correct", "allow, malicious", "stop, correct", "stop, careless")


def _pick(idx: list[int], rows: list[dict], k: int = 5) -> list[int] | None:
    """``k`` cases round-robin over their domains (sorted), or None without ``k`` from 3+ domains."""
    by: dict[str, list[int]] = collections.defaultdict(list)
    for i in idx:
        by[rows[i]["domain"]].append(i)
    out: list[int] = []
    while len(out) < k and any(by.values()):
        for d in sorted(by):
            if by[d] and len(out) < k:
                out.append(by[d].pop(0))
    return out if len(out) == k and len({rows[i]["domain"] for i in out}) >= 3 else None


def _memoise_network(model) -> None:  # type: ignore[no-untyped-def]
    """Run the cross-encoder's network once per case text; every taught copy shares the instance."""
    ce = model.cross_
    run, seen = ce.run, {}

    def cached(cases):  # type: ignore[no-untyped-def]
        keys = [(c.context_text, c.action_text) for c in cases]
        new = [c for c, k in zip(cases, keys, strict=True) if k not in seen]
        if new:
            z, p, h = run(new)
            for i, c in enumerate(new):
                seen[(c.context_text, c.action_text)] = (z[i], p[i], None if h is None else h[i])
        got = [seen[k] for k in keys]
        h = None if got[0][2] is None else np.stack([g[2] for g in got])
        return np.stack([g[0] for g in got]), np.stack([g[1] for g in got]), h

    ce.run = cached


def run(authors: list[int], tolerance: float) -> dict:
    from accord.judges.decision import packaged_decision_dir
    from accord.learning.decision import DecisionModel
    from accord.review.retrain import _versus, evaluate_decisions, packaged_suite
    from accord.types import Case

    corpus = [json.loads(x) for x in (ROOT / "corpus" / "cases.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    base = DecisionModel.load(packaged_decision_dir())
    _memoise_network(base)
    suite = packaged_suite()
    before = evaluate_decisions(base, suite)
    print(f"packaged model on the suite: {before['errors']} errors of {before['n']}, missed {before['missed']} of "
          f"{before['unacceptable']}", flush=True)
    rows_out = []
    for a in authors:
        rows = [r for r in corpus if r["id"].startswith(f"c{a}-")]
        cases = [Case.model_validate({"context": r["context"] or "", "action": r["action"]}) for r in rows]
        proba = base.predict_proba(cases)
        stop = np.array([d != "allow" for d in base.decide(proba, cases)])
        bad = np.array([r["decision"] != "allow" for r in rows])
        picks = {  # the lesson, and the decision taught (None: each case's corpus decision)
            "allow, correct": (_pick([i for i in range(len(rows)) if not bad[i] and stop[i]], rows), "allow"),
            "allow, malicious": (_pick([i for i in range(len(rows)) if bad[i] and stop[i]], rows), "allow"),
            "stop, correct": (_pick([i for i in range(len(rows)) if bad[i] and not stop[i]], rows), None),
            "stop, careless": (_pick([i for i in range(len(rows)) if not bad[i] and not stop[i]], rows), "block"),
        }
        for kind, (lesson, label) in picks.items():
            if lesson is None:
                print(f"c{a} {kind}: fewer than 5 cases from 3 domains, skipped", flush=True)
                continue
            t0 = time.perf_counter()
            taught = base.teach([cases[i] for i in lesson], [label or rows[i]["decision"] for i in lesson],
                                [None] * len(lesson))
            after = evaluate_decisions(taught, suite)
            errors_only = after["errors"] > before["errors"] + int(np.floor(tolerance * before["n"] + 1e-9))
            gate = _versus("suite", before, after, tolerance)
            r = {"author": a, "kind": kind, "missed": after["missed"] - before["missed"],
                 "false_stops": (after["errors"] - after["missed"]) - (before["errors"] - before["missed"]),
                 "refused_errors": errors_only, "refused": gate.worse}
            rows_out.append(r)
            print(f"c{a} {kind}: missed {r['missed']:+d}, false stops {r['false_stops']:+d}; refused by the error count "
                  f"{'yes' if errors_only else 'no'}, by the gate {'yes' if gate.worse else 'no'} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return {"before": before, "rows": rows_out, "tolerance": tolerance, "authors": authors}


def summary(r: dict) -> list[dict]:
    out = []
    for kind in KINDS:
        rs = [x for x in r["rows"] if x["kind"] == kind]
        if rs:
            out.append({"kind": kind, "n": len(rs), "missed": float(np.mean([x["missed"] for x in rs])),
                        "false_stops": float(np.mean([x["false_stops"] for x in rs])),
                        "refused_errors": sum(x["refused_errors"] for x in rs), "refused": sum(x["refused"] for x in rs)})
    return out


def markdown(r: dict, command: str) -> str:
    import datetime as dt

    b = r["before"]
    lines = [f"Measured {dt.date.today().isoformat()} with `{command}` on {machine()}: lessons of 5 cases from corpus "
             f"authors c{r['authors'][0]}-c{r['authors'][-1]} taught to the packaged decision model, compared with it on "
             f"the packaged reference suite ({b['n']} cases; the packaged model: {b['errors']} errors, "
             f"{b['missed']} of {b['unacceptable']} unacceptable let through), tolerance {r['tolerance']}.", "",
             "| lesson | lessons | missed harm (mean change) | false stops (mean change) | refused by the error count alone "
             "| refused by the gate (errors or missed harm) |", "|---|---:|---:|---:|---:|---:|"]
    for s in summary(r):
        lines.append(f"| {s['kind']} | {s['n']} | {s['missed']:+.1f} | {s['false_stops']:+.1f} | "
                     f"{s['refused_errors']} / {s['n']} | {s['refused']} / {s['n']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--authors", default="51,52,53,54,55,56,57,58,59,60", help="corpus authors the lessons come from")
    ap.add_argument("--tolerance", type=float, default=0.02)
    ap.add_argument("--write", action="store_true", help="rewrite the promotion section of docs/benchmarks.md")
    args = ap.parse_args(argv)
    authors = [int(x.strip().lstrip("c")) for x in args.authors.split(",") if x.strip()]
    r = run(authors, args.tolerance)
    print()
    print(markdown(r, "python bench/promotion.py"))
    if args.write:
        write_section("promotion", markdown(r, "python bench/promotion.py --write"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
