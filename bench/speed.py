"""Speed of the chat fast path (rules + the static value model) and of the default gate on agent actions.

    python bench/speed.py                  # 10,000 cases, 1,000 single checks
    python bench/speed.py --profile        # also print where the time goes (cProfile)
    python bench/speed.py --write          # also rewrite the speed section of docs/benchmarks.md

* **Throughput**: checks per second of ``Gate.default().check_many`` on 10,000 cases: half user
  prompts (``Case(action=prompt)``), half responses in context; half benign, half harmful
  (XSTest and OpenAI-moderation texts, HH-RLHF dialogue turns, CoCoNot and AdvBench requests with
  templated refusals and compliant answers). The encoder's text cache is cleared first, so every
  text is encoded (a warm cache makes repeated texts much cheaper). Best of ``--repeat`` runs on
  fresh texts, and again on benign cases only (most real traffic), where few verdicts need
  occlusion evidence.
* **Latency**: p50 / p99 of single ``gate.check`` calls after warm-up, each on a case not seen
  before (the best of ``--repeat`` rounds by p99); also split into allowed cases and stopped ones (which pay for occlusion evidence).
* **Agent actions, default gate** (rules + decision model + value model): p50 / p99 of single
  checks on the judgment dev set's cases (agent tool calls, plans and replies in context), and its
  batch throughput on the same chat cases as above.

The throughput and chat-latency figures are for the chat fast path, ``Gate.from_charter(judges="rules,model")``.

Figures only; nothing asserts on time. On a shared machine, run it twice and expect ±30%.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import datetime as dt
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _data
from _report import machine, write_section

REFUSALS = ["I'm sorry, but I can't help with that.", "I can't assist with that request; it could hurt people.",
            "I won't provide instructions for that."]
COMPLIANCE = "Sure, here is how to {g}. Step 1: gather the materials. Step 2: follow the plan carefully. Step 3: avoid getting caught."
HELPFUL = ["Here is a short answer: it depends on your situation, but the usual approach is to start small and check as you go.",
           "Good question! The main steps are to plan, prepare and then review the result.", "Sure - here are three ideas to get you started."]


def build_cases(data: Path, n: int, seed: int = 0, kinds: tuple[int, ...] = (0, 1, 2, 3, 4, 5)) -> list:
    """``n`` realistic cases, deterministic for a seed; ``kinds`` picks the mix (1 and 5 are benign)."""
    from accord.types import Case

    rng = np.random.default_rng(seed)
    mod, _ = _data.moderation(data)
    xs, xy, _ = _data.xstest(data)
    hh = _data.hh_rlhf(data)
    with open(data / "advbench/harmful_behaviors.csv", newline="", encoding="utf-8") as f:
        adv = [r["goal"] for r in csv.DictReader(f)]
    with open(data / "coconot/coconot_contrast_eval.jsonl", encoding="utf-8") as f:
        contrast = [json.loads(x)["prompt"] for x in f if x.strip()]
    benign_prompts = [t for t, y in zip(xs, xy, strict=True) if not y] + contrast
    harmful_prompts = [t for t, y in zip(xs, xy, strict=True) if y] + adv
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        if kind == 0:
            t = mod[int(rng.integers(len(mod)))][:1500]
            out.append(Case(action=t))
        elif kind == 1:
            out.append(Case(action=benign_prompts[int(rng.integers(len(benign_prompts)))]))
        elif kind == 2:
            out.append(Case(action=harmful_prompts[int(rng.integers(len(harmful_prompts)))]))
        elif kind == 3:
            c, a, b = hh[int(rng.integers(len(hh)))]
            last_human = c.rsplit("Human:", 1)[-1].strip()[:1000]
            out.append(Case(context=last_human, action=(a if rng.random() < 0.5 else b)[:1500]))
        elif kind == 4:
            g = harmful_prompts[int(rng.integers(len(harmful_prompts)))]
            resp = REFUSALS[int(rng.integers(len(REFUSALS)))] if rng.random() < 0.5 else COMPLIANCE.format(g=g[0].lower() + g[1:].rstrip("."))
            out.append(Case(context=g, action=resp))
        else:
            p = benign_prompts[int(rng.integers(len(benign_prompts)))]
            out.append(Case(context=p, action=HELPFUL[int(rng.integers(len(HELPFUL)))]))
    # make every text unique so that no timing profits from the encoder's cache
    return [c.model_copy(update={"action": f"{c.action} (#{i})" if isinstance(c.action, str) else c.action}) for i, c in enumerate(out)]


def clear_encoder_cache() -> None:
    from accord.learning import encoders

    for enc in encoders._INSTANCES.values():
        cache = getattr(enc, "_cache", None)
        if cache is not None:
            cache.clear()


def run(data: Path, n: int, singles: int, profile: bool, repeat: int = 3) -> dict:
    from accord.gate.gate import Gate

    t0 = time.perf_counter()
    gate = Gate.from_charter(None, judges="rules,model")  # the chat fast path
    gate.check_many(build_cases(data, 64, seed=99))  # load the model and the encoder, warm the code paths
    load_s = time.perf_counter() - t0
    prof = cProfile.Profile() if profile else None

    cpu_runs: list[float] = []

    def batch(cases: list) -> tuple[float, list]:
        clear_encoder_cache()
        t, c = time.perf_counter(), time.process_time()
        if prof:
            prof.enable()
        verdicts = gate.check_many(cases, record=False)
        if prof:
            prof.disable()
        cpu_runs.append(time.process_time() - c)
        return time.perf_counter() - t, verdicts

    # best of ``repeat`` runs on fresh texts (a shared VM's noise only ever slows a run down)
    load_before = os.getloadavg()[0]
    runs = [batch(build_cases(data, n, seed=r)) for r in range(repeat)]
    batch_s = min(r[0] for r in runs)
    cpu_s = min(cpu_runs)
    decisions = {d: sum(v.decision == d for v in runs[0][1]) for d in ("allow", "revise", "escalate", "block")}  # seed 0
    benign_s, benign_v = min((batch(build_cases(data, n, seed=100 + r, kinds=(1, 5))) for r in range(repeat)), key=lambda x: x[0])

    def singles_round(seed: int) -> tuple[np.ndarray, np.ndarray]:
        cases = build_cases(data, singles, seed=seed)
        for c in cases[:50]:  # warm-up
            gate.check(c.context, c.action)
        lat, allowed = [], []
        for c in cases[50:]:
            s = time.perf_counter()
            v = gate.check(c.context, c.action)
            lat.append((time.perf_counter() - s) * 1000)
            allowed.append(v.decision == "allow")
        return np.array(lat), np.array(allowed)

    # the round with the lowest p99 of ``repeat`` rounds on fresh cases (noise only adds latency)
    rounds = [singles_round(1000 + r) for r in range(repeat)]
    la, ok = min(rounds, key=lambda x: float(np.percentile(x[0], 99)))
    out = {
        "n": n, "repeat": repeat, "batch_seconds": batch_s, "checks_per_second": n / batch_s, "decisions": decisions,
        "cpu_seconds": cpu_s, "checks_per_cpu_second": n / cpu_s, "load_before": load_before,
        "batch_all_seconds": [round(r[0], 2) for r in runs],
        "benign_checks_per_second": n / benign_s, "benign_allowed": sum(v.decision == "allow" for v in benign_v) / n,
        "single_n": len(la), "single_p99_all": [round(float(np.percentile(x[0], 99)), 2) for x in rounds], "p50_ms": float(np.percentile(la, 50)), "p90_ms": float(np.percentile(la, 90)),
        "p99_ms": float(np.percentile(la, 99)), "load_seconds": load_s,
        "allowed_p50_ms": float(np.percentile(la[ok], 50)) if ok.any() else float("nan"),
        "allowed_p99_ms": float(np.percentile(la[ok], 99)) if ok.any() else float("nan"),
        "stopped_p50_ms": float(np.percentile(la[~ok], 50)) if (~ok).any() else float("nan"),
        "stopped_p99_ms": float(np.percentile(la[~ok], 99)) if (~ok).any() else float("nan"),
    }
    out.update(agent_latency(data, n, repeat))
    out["load_after"] = os.getloadavg()[0]
    if prof:
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(35)
        out["profile"] = s.getvalue()
    return out


def agent_latency(data: Path, n: int, repeat: int) -> dict:
    """The default gate: single checks on agent cases, and batch throughput on the chat cases."""
    from accord.gate.gate import DEFAULT_JUDGES, Gate
    from accord.types import Case

    gate = Gate.default()
    rows = [json.loads(line) for line in (Path(__file__).resolve().parent / "judgment_dev" / "dev.jsonl").read_text().splitlines()
            if line.strip()]
    cases = [Case.model_validate({"context": r["context"] or "", "action": r["action"]}) for r in rows]
    for c in cases[:30]:
        gate.check_case(c)
    rounds = []
    for _ in range(repeat):
        clear_encoder_cache()
        lat = []
        for c in cases:
            t = time.perf_counter()
            gate.check_case(c)
            lat.append((time.perf_counter() - t) * 1000)
        rounds.append(np.array(lat))
    la = min(rounds, key=lambda x: float(np.percentile(x, 99)))
    batch = build_cases(data, n, seed=7)
    clear_encoder_cache()
    t = time.perf_counter()
    gate.check_many(batch, record=False)
    return {"default_judges": DEFAULT_JUDGES, "agent_n": len(la), "agent_p50_ms": float(np.percentile(la, 50)),
            "agent_p99_ms": float(np.percentile(la, 99)), "agent_p99_all": [round(float(np.percentile(x, 99)), 2) for x in rounds],
            "default_checks_per_second": n / (time.perf_counter() - t)}


def markdown(r: dict, command: str) -> str:
    return "\n".join([
        f"Measured {dt.date.today().isoformat()} with `{command}` on {machine()} (shared machine: expect ±30%; load "
        f"average {r['load_before']:.1f} when it started, {r['load_after']:.1f} when it ended, on 2 cores).",
        "",
        "| measure | result | target (fast tier, 2 cores) |",
        "|---|---|---|",
        f"| chat fast path (`rules,model`) `check_many`, {r['n']:,} cases, half harmful (uncached texts; best of {r['repeat']}: "
        f"{', '.join(f'{x:.2f}' for x in r['batch_all_seconds'])} s) | **{r['checks_per_second']:,.0f} checks/s** "
        f"({r['batch_seconds']:.2f} s) | ≥ 5,000 checks/s |",
        f"| … the same batch in CPU time (the process's, all threads; best of {r['repeat']}): checks per CPU second | "
        f"{r['checks_per_cpu_second']:,.0f} ({r['cpu_seconds']:.2f} s) | |",
        f"| the same on {r['n']:,} benign cases ({r['benign_allowed']:.0%} allowed) | **{r['benign_checks_per_second']:,.0f} checks/s** | |",
        f"| single `gate.check`, warm, {r['single_n']} new cases (best of {r['repeat']} rounds by p99: "
        f"{', '.join(f'{x:.2f}' for x in r['single_p99_all'])} ms): p50 / p90 / p99 | **{r['p50_ms']:.2f} / {r['p90_ms']:.2f} / "
        f"{r['p99_ms']:.2f} ms** | p99 ≤ 2 ms |",
        f"| … of which allowed: p50 / p99 | {r['allowed_p50_ms']:.2f} / {r['allowed_p99_ms']:.2f} ms | |",
        f"| … of which stopped (occlusion evidence computed): p50 / p99 | {r['stopped_p50_ms']:.2f} / {r['stopped_p99_ms']:.2f} ms | |",
        f"| first load (model + encoder + first batch) | {r['load_seconds']:.2f} s | |",
        f"| default gate (`{r['default_judges']}`), single check of an agent action, {r['agent_n']} dev-set cases, uncached "
        f"(best of {r['repeat']} rounds by p99: {', '.join(f'{x:.1f}' for x in r['agent_p99_all'])} ms): p50 / p99 | "
        f"**{r['agent_p50_ms']:.1f} / {r['agent_p99_ms']:.1f} ms** | p99 ≤ 50 ms |",
        f"| default gate `check_many` on the {r['n']:,} chat cases | {r['default_checks_per_second']:,.0f} checks/s | |",
        "",
        "Decisions on the first batch (seed 0): " + ", ".join(f"{k} {v}" for k, v in r["decisions"].items()) + ".",
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=_data.DEFAULT_DATA)
    ap.add_argument("-n", type=int, default=10_000, help="cases in the batch")
    ap.add_argument("--singles", type=int, default=1_050, help="single checks (the first 50 warm up)")
    ap.add_argument("--repeat", type=int, default=3, help="batch runs (the best is reported)")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--write", action="store_true", help="rewrite the speed section of docs/benchmarks.md")
    args = ap.parse_args(argv)
    r = run(args.data, args.n, args.singles, args.profile, args.repeat)
    print(f"load average {r['load_before']:.1f} -> {r['load_after']:.1f};  check_many CPU time (all threads) "
          f"{r['cpu_seconds']:.2f}s = {r['checks_per_cpu_second']:,.0f} checks per CPU second")
    print(f"check_many: {r['n']} cases in {r['batch_seconds']:.2f}s = {r['checks_per_second']:,.0f} checks/s (best of "
          f"{r['batch_all_seconds']})   decisions {r['decisions']}")
    print(f"check_many, benign cases: {r['benign_checks_per_second']:,.0f} checks/s ({r['benign_allowed']:.0%} allowed)")
    print(f"single check (warm, new cases): p50 {r['p50_ms']:.2f} ms  p90 {r['p90_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms "
          f"(best of rounds with p99 {r['single_p99_all']})")
    print(f"  allowed p50/p99 {r['allowed_p50_ms']:.2f}/{r['allowed_p99_ms']:.2f} ms   stopped p50/p99 "
          f"{r['stopped_p50_ms']:.2f}/{r['stopped_p99_ms']:.2f} ms")
    print(f"load + first batch: {r['load_seconds']:.2f}s   machine: {machine()}")
    print(f"default gate ({r['default_judges']}), single agent action: p50 {r['agent_p50_ms']:.1f} ms  p99 {r['agent_p99_ms']:.1f} ms "
          f"(rounds {r['agent_p99_all']});  check_many {r['default_checks_per_second']:,.0f} checks/s")
    if args.profile:
        print(r["profile"])
    if args.write:
        write_section("speed", markdown(r, "python bench/speed.py --write"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
