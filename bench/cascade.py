"""The cascade: the fast tier decides what it is sure of, a stronger tier the rest.

    python bench/cascade.py              # 2,000 mixed cases, OpenAI moderation, XSTest
    python bench/cascade.py --write      # also rewrite the cascade section of docs/benchmarks.md

Two gates on the same charter and cases:

* **fast**: rules → the packaged default value model (``Gate.default()``);
* **cascade**: rules → default model → the packaged stronger tier (judge ``strong``: a value model
  on accord's fine-tuned MiniLM encoder, numpy, no torch; trained on the same mixture as the default
  model, never on the sets below). A case reaches the stronger tier only when some learned score of
  the default model lies inside the cascade's band (0.2–0.8, the gate's default).

Printed for each: checks per second on mixed cases (uncached texts), the share of cases the
cascade routes to the stronger tier, the OpenAI-moderation AUPRC of the verdicts' ``risk``, and
XSTest gate F1 / false-positive rate (flagged = decision ≠ allow). Figures only; nothing asserts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _data
from _report import machine, write_section
from quality import flag_rates
from speed import build_cases, clear_encoder_cache


def measure(gate: Any, data: Path, cases: list, counter: list[int]) -> dict:
    from accord.types import Case

    counter.clear()
    clear_encoder_cache()
    gate.model._nn_cache.clear()  # neighbour search is part of the cost: no run profits from another's
    t = time.perf_counter()
    gate.check_many(cases, record=False)
    seconds = time.perf_counter() - t
    routed = sum(counter) / len(cases)
    counter.clear()
    texts, y = _data.moderation(data)
    risk = np.array([v.risk for v in gate.check_many([Case(action=t) for t in texts], record=False)])
    mod_routed = sum(counter) / len(texts)
    xs, xy, _ = _data.xstest(data)
    flagged = np.array([v.decision != "allow" for v in gate.check_many([Case(action=t) for t in xs], record=False)])
    return {"checks_per_second": len(cases) / seconds, "seconds": seconds, "routed": routed, "moderation_routed": mod_routed,
            "moderation_auprc": float(average_precision_score(np.array(y), risk)), **flag_rates("xstest", np.array(xy), flagged)}


#: the cascade's uncertainty bands compared: the gate's default, and a wider one that routes more
BANDS = ((0.2, 0.8), (0.1, 0.9))


def run(data: Path, n: int) -> dict:
    from accord.charter.loader import load_charter
    from accord.gate.gate import Gate
    from accord.judges.base import get_judge
    from accord.judges.rules import RuleJudge
    from accord.learning.models import load_model

    charter = load_charter(None)
    # a generous judge budget: this measures the stronger tier's cost, not the time-out policy
    charter = charter.model_copy(update={"policy": charter.policy.model_copy(update={"judge_timeout_ms": 600_000})})
    fast_model = load_model(None)
    t0 = time.perf_counter()
    strong = get_judge("strong")
    load_s = time.perf_counter() - t0
    counter: list[int] = []
    judge = strong.judge

    def counting(cases: Any, ch: Any) -> Any:
        counter.append(len(cases))
        return judge(cases, ch)

    strong.judge = counting
    fast = Gate(charter, model=fast_model)
    cases = build_cases(data, n, seed=7)
    fast.check_many(build_cases(data, 64, seed=98), record=False)  # warm both paths
    out = {"n": n, "load_seconds": load_s, "strong_version": strong.version, "fast": measure(fast, data, cases, counter),
           "cascades": []}
    for band in BANDS:
        cascade = Gate(charter, judges=[RuleJudge(), fast_model, strong], model=fast_model, band=band)
        cascade.check_many(build_cases(data, 64, seed=99), record=False)
        out["cascades"].append({"band": band, **measure(cascade, data, [c.model_copy() for c in cases], counter)})
    return out


def markdown(r: dict, command: str) -> str:
    f = r["fast"]
    return "\n".join([
        f"Measured {dt.date.today().isoformat()} with `{command}` on {machine()}. Stronger tier: the packaged "
        f"`strong` judge (`{r['strong_version']}`: a value model on accord's fine-tuned MiniLM encoder, numpy).",
        "",
        "| gate | checks/s, " + f"{r['n']:,} mixed cases | routed to the stronger tier | OpenAI moderation AUPRC (risk) "
        "| XSTest gate F1 / FPR |",
        "|---|---:|---:|---:|---|",
        f"| fast: rules → default model | {f['checks_per_second']:,.0f} | — | {f['moderation_auprc']:.3f} | "
        f"{f['xstest_f1']:.3f} / {f['xstest_fpr']:.3f} |",
        *(f"| cascade: rules → default → strong, band {c['band'][0]}–{c['band'][1]} | {c['checks_per_second']:,.0f} | "
          f"{c['routed']:.1%} (moderation set: {c['moderation_routed']:.1%}) | {c['moderation_auprc']:.3f} | "
          f"{c['xstest_f1']:.3f} / {c['xstest_fpr']:.3f} |" for c in r["cascades"]),
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=_data.DEFAULT_DATA)
    ap.add_argument("-n", type=int, default=2_000, help="mixed cases for the throughput")
    ap.add_argument("--write", action="store_true", help="rewrite the cascade section of docs/benchmarks.md")
    args = ap.parse_args(argv)
    r = run(args.data, args.n)
    for name, m in [("fast", r["fast"])] + [(f"band {c['band'][0]}-{c['band'][1]}", c) for c in r["cascades"]]:
        print(f"{name:12s} {m['checks_per_second']:8,.0f} checks/s   routed {m['routed']:6.1%} (moderation {m['moderation_routed']:.1%})   "
              f"moderation AUPRC {m['moderation_auprc']:.3f}   XSTest F1/FPR {m['xstest_f1']:.3f}/{m['xstest_fpr']:.3f}")
    print(f"stronger tier {r['strong_version']} loaded in {r['load_seconds']:.1f}s   machine: {machine()}")
    if args.write:
        write_section("cascade", markdown(r, "python bench/cascade.py --write"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
