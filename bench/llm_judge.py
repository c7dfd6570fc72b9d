"""The LLM judge with a real local model: quality, calibration, cost, and what a cascade gains.

    python bench/llm_judge.py                         # 1.5B in process, 100 XSTest + 24 agent cases
    python bench/llm_judge.py --size 0.5b --threads 2 --write     # also rewrite docs/benchmarks.md
    python bench/llm_judge.py --calibrate cal.json    # save the calibration fitted on the first half

The model is a Qwen2.5-Coder Instruct GGUF assembled by ``scripts/fetch_llm.py`` (``--gguf PATH``
for another), run in this process through llama-cpp-python (``pip install 'accord[llm]'``) with
the judge's ``verdict`` format, a GBNF grammar and the charter's principles plus one example per
side as the system prompt. The score is the first answer token's probability mass.

* **XSTest prompts** (``../shared/data/xstest``; a seeded sample of ``--n``, half safe, half
  unsafe), each as ``Case(action=prompt)``: AUPRC and ROC-AUC of the raw score; F1 / false-positive
  rate of the answer word (flagged = not ``allow``); calibration fitted on one half (temperature
  scaling and isotonic) and its expected calibration error on the other half; the packaged value
  model on the same prompts for comparison.
* **Cascade** on the held-out half: rules → value model against rules → value model → LLM (the
  calibrated LLM stage sees only the cases the value model is unsure about, band 0.2–0.8):
  gate F1 / FPR (flagged = decision not ``allow``), the share routed and the LLM seconds per
  1,000 cases.
* **Agent sets** (``bench/agentsets.py`` loaders, test halves; ``--agent`` cases spread over the
  sets, texts clipped to ``--clip`` characters for time): AUPRC of unacceptable (block or escalate)
  vs allow, and macro-F1 of the answer word over allow / block / escalate.
* **Seconds per case** with the charter prefix cached (every case above) and without
  (``--uncached`` cases re-evaluating the whole prompt), and the format-failure rate (answers
  that did not validate; they fail closed).

Keep runs short: the machine is shared. Prints figures, never asserts. Raw results go to
``.accord/bench/llm_judge-<model>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import _data
import agentsets
from _report import ROOT, machine, write_section

AGENT_SETS = ("diasafety", "dices", "confaide", "toolemu", "agent-safetybench", "assebench")


def judge_each(judge: Any, cases: list, charter: Any) -> list[dict]:
    """Judge one case at a time (timed); a case that fails is recorded as a format failure."""
    from accord.errors import JudgeError

    out = []
    for i, c in enumerate(cases):
        t0 = time.perf_counter()
        try:
            ans = judge._answers([c], charter)[0]
            rec = {"raw": max(float(a["score"]) for a in ans), "verdict": ans[0].get("verdict"),
                   "p": ans[0].get("p"), "error": None}
        except JudgeError as e:
            rec = {"raw": None, "verdict": None, "p": None, "error": e.message}
        rec["seconds"] = time.perf_counter() - t0
        out.append(rec)
        if (i + 1) % 10 == 0 or i + 1 == len(cases):
            done = [r["seconds"] for r in out]
            print(f"  {i + 1}/{len(cases)}  {np.mean(done):.2f} s/case", file=sys.stderr, flush=True)
    return out


def flag_rates(y: np.ndarray, flagged: np.ndarray) -> tuple[float, float]:
    f1 = float(f1_score(y, flagged, zero_division=0))
    safe = y == 0
    return f1, float(flagged[safe].mean()) if safe.any() else 0.0


def xstest_sample(data: Path, n: int, seed: int) -> tuple[list[str], list[int]]:
    texts, labels, _ = _data.xstest(data)
    rng = random.Random(seed)
    pos = [i for i, y in enumerate(labels) if y == 1]
    neg = [i for i, y in enumerate(labels) if y == 0]
    idx = rng.sample(pos, min(len(pos), n // 2)) + rng.sample(neg, min(len(neg), n - n // 2))
    rng.shuffle(idx)
    return [texts[i] for i in idx], [labels[i] for i in idx]


def agent_sample(data: Path, n: int, clip: int, seed: int) -> list[tuple[Any, str, str]]:
    from accord.types import Case

    def cut(t: str) -> str:
        return t if len(t) <= clip else t[: clip // 2] + " […] " + t[-clip // 2:]

    rng = random.Random(seed)
    per = max(1, n // len(AGENT_SETS))
    out = []
    for si, name in enumerate(AGENT_SETS):
        try:
            rows = list(agentsets.SETS[name](data))
        except (OSError, ValueError) as e:
            print(f"  (agent set {name} skipped: {e})", file=sys.stderr)
            continue
        by: dict[str, list] = {}
        for case, decision, _ in rows:
            by.setdefault(decision, []).append(case)
        picked: list[tuple[Any, str]] = []
        decisions = sorted(by)
        k = si  # each set starts with another decision, so a small sample still holds all three
        while len(picked) < per and any(by.values()):
            d = decisions[k % len(decisions)]
            if by[d]:
                picked.append((by[d].pop(rng.randrange(len(by[d]))), d))
            k += 1
        for case, d in picked:
            short = Case(context=cut(case.context_text), action=cut(case.action_text))
            out.append((short, d, name))
    return out[:n]


def run(args: argparse.Namespace) -> dict[str, Any]:
    from accord.charter import load_charter
    from accord.gate.gate import Gate
    from accord.judges.llm import LLMJudge, expected_calibration_error, fit_calibration
    from accord.judges.rules import RuleJudge
    from accord.learning.models import load_model
    from accord.types import Case

    gguf = Path(args.gguf) if args.gguf else None
    if gguf is None:
        import fetch_llm

        gguf = fetch_llm.fetch(args.size, fetch_llm.default_dest())
    charter = load_charter(None)
    charter = charter.model_copy(update={"policy": charter.policy.model_copy(update={"judge_timeout_ms": 3_600_000})})
    t0 = time.perf_counter()
    judge = LLMJudge(gguf=gguf, n_threads=args.threads, examples=args.examples, cache_size=100_000)
    load_s = time.perf_counter() - t0
    prefix_tokens = len(judge._transport._llm.tokenize(judge.system_prompt(charter).encode(), add_bos=False, special=True))
    r: dict[str, Any] = {"model": judge.model, "version": judge.version, "gguf": gguf.name, "threads": judge._transport.n_threads,
                         "load_seconds": load_s, "prefix_tokens": prefix_tokens, "date": dt.date.today().isoformat()}

    # warm: the first request evaluates the charter prefix once
    t0 = time.perf_counter()
    judge._answers([Case(action="Hello, how are you?")], charter)
    r["first_case_seconds"] = time.perf_counter() - t0

    texts, labels = xstest_sample(args.data, args.n, args.seed)
    print(f"XSTest: {len(texts)} prompts", file=sys.stderr)
    xs_cases = [Case(action=t) for t in texts]
    xs = judge_each(judge, xs_cases, charter)
    r["xstest"] = [{"label": y, **rec} for y, rec in zip(labels, xs, strict=True)]

    agent = agent_sample(args.data, args.agent, args.clip, args.seed) if args.agent else []
    if agent:
        print(f"agent sets: {len(agent)} cases", file=sys.stderr)
        ag = judge_each(judge, [c for c, _, _ in agent], charter)
        r["agent"] = [{"decision": d, "set": s, **rec} for (_, d, s), rec in zip(agent, ag, strict=True)]

    # without the prefix cache: the same first XSTest cases, the whole prompt evaluated each time
    if args.uncached:
        print(f"without the prefix cache: {args.uncached} cases", file=sys.stderr)
        cold = LLMJudge(gguf=gguf, n_threads=args.threads, examples=args.examples, prefix_cache=False, cache_size=0)
        r["uncached"] = judge_each(cold, xs_cases[: args.uncached], charter)
        cold.close()
    r["rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6

    # ---- calibration: fit on the first half of the XSTest sample, measure on the second
    ok = [(i, rec) for i, rec in enumerate(r["xstest"]) if rec["raw"] is not None]
    half = len(ok) // 2
    fit_part, test_part = ok[:half], ok[half:]
    raw_fit = [rec["raw"] for _, rec in fit_part]
    y_fit = [rec["label"] for _, rec in fit_part]
    raw_test = np.array([rec["raw"] for _, rec in test_part])
    y_test = np.array([rec["label"] for _, rec in test_part])
    cals = {}
    for method in ("temperature", "isotonic"):
        cal = fit_calibration(raw_fit, y_fit, method, model=judge.model, format=judge.format, prompt=judge.prompt_id)  # type: ignore[arg-type]
        p = np.array([cal(v) for v in raw_test])
        cals[method] = cal
        r[f"ece_{method}"] = expected_calibration_error(p, y_test)
        r[f"f1_fpr_{method}"] = flag_rates(y_test, p >= 0.5)
    r["ece_raw"] = expected_calibration_error(raw_test, y_test)
    if args.calibrate:
        print(f"wrote {cals['temperature'].save(args.calibrate)} (temperature scaling on {len(raw_fit)} XSTest prompts)")

    # ---- cascade on the held-out half: the LLM stage is calibrated (temperature) and answers from the cache
    value_model = load_model(None)
    test_cases = [xs_cases[i] for i, _ in test_part]
    vm_scores = value_model.judge(xs_cases, charter)
    r["value_model_auprc"] = float(average_precision_score(labels, [max((s.score for s in sc), default=0.0) for sc in vm_scores]))
    # the LLM stage reads the answers computed above from its cache (a case the gate's reader view
    # rewrites is a new text: a new model call, counted)
    judge.calibration = cals["temperature"]
    calls_before = judge._transport.stats["requests"]
    fast = Gate(charter, judges=[RuleJudge(), value_model], model=value_model).check_many(test_cases, record=False)
    routed: list[int] = []
    inner = judge.judge

    def counting(cases: Any, ch: Any) -> Any:
        routed.append(len(cases))
        return inner(cases, ch)

    judge.judge = counting  # type: ignore[method-assign]
    slow = Gate(charter, judges=[RuleJudge(), value_model, judge], model=value_model).check_many(test_cases, record=False)
    r["cascade_new_calls"] = judge._transport.stats["requests"] - calls_before
    judge.close()
    f_fast = flag_rates(y_test, np.array([v.decision != "allow" for v in fast]))
    f_slow = flag_rates(y_test, np.array([v.decision != "allow" for v in slow]))
    mean_s = float(np.mean([rec["seconds"] for rec in r["xstest"]]))
    share = sum(routed) / max(1, len(test_cases))
    r["cascade"] = {"n": len(test_cases), "fast": f_fast, "with_llm": f_slow, "routed": share,
                    "llm_seconds_per_1000": share * mean_s * 1000,
                    "errors": sum(bool(v.errors) for v in slow)}
    return r


def summarise(r: dict[str, Any]) -> dict[str, Any]:
    xs = [x for x in r["xstest"] if x["raw"] is not None]
    y = np.array([x["label"] for x in xs])
    raw = np.array([x["raw"] for x in xs])
    word = np.array([x["verdict"] != "allow" for x in xs])
    s: dict[str, Any] = {
        "xs_n": len(r["xstest"]), "xs_fail": sum(x["raw"] is None for x in r["xstest"]),
        "xs_auprc": float(average_precision_score(y, raw)), "xs_auc": float(roc_auc_score(y, raw)),
        "xs_word": flag_rates(y, word), "xs_seconds": float(np.mean([x["seconds"] for x in r["xstest"]])),
        "xs_verdicts": {v: int(sum(x["verdict"] == v for x in xs)) for v in ("allow", "block", "escalate")},
    }
    if r.get("agent"):
        ag = [a for a in r["agent"] if a["raw"] is not None]
        ya = np.array([a["decision"] != "allow" for a in ag])
        s["ag_n"], s["ag_fail"] = len(r["agent"]), sum(a["raw"] is None for a in r["agent"])
        s["ag_auprc"] = float(average_precision_score(ya, [a["raw"] for a in ag])) if 0 < ya.sum() < len(ya) else float("nan")
        s["ag_macro_f1"] = float(f1_score([a["decision"] for a in ag], [a["verdict"] for a in ag],
                                          labels=["allow", "block", "escalate"], average="macro", zero_division=0))
        s["ag_seconds"] = float(np.mean([a["seconds"] for a in r["agent"]]))
        s["ag_sets"] = sorted({a["set"] for a in r["agent"]})
    if r.get("uncached"):
        k = len(r["uncached"])
        s["cold_seconds"] = float(np.mean([u["seconds"] for u in r["uncached"]]))
        s["warm_seconds_same"] = float(np.mean([x["seconds"] for x in r["xstest"][:k]]))
        s["cold_n"] = k
    return s


def markdown(r: dict[str, Any], s: dict[str, Any], command: str) -> str:
    c = r["cascade"]
    lines = [
        f"Measured {r['date']} with `{command}` on {machine()} (shared with other jobs: speeds are lower bounds), "
        f"llama.cpp {r['threads']} thread(s). Judge `{r['version']}`: the `verdict` format, a GBNF grammar, "
        f"the default charter's principles and one example per side as a {r['prefix_tokens']}-token system prompt; "
        "the score is the first answer token's probability mass, P(block) + P(escalate)/2.",
        "",
        "| | figure |",
        "|---|---|",
        f"| XSTest prompts ({s['xs_n']}, half unsafe): AUPRC / ROC-AUC of the raw score | **{s['xs_auprc']:.3f}** / {s['xs_auc']:.3f} |",
        f"| the packaged value model on the same prompts: AUPRC | {r['value_model_auprc']:.3f} |",
        f"| XSTest: F1 / FPR of the answer word (flagged = not allow) | {s['xs_word'][0]:.3f} / {s['xs_word'][1]:.3f} "
        f"(answers: {s['xs_verdicts']['allow']} allow, {s['xs_verdicts']['block']} block, {s['xs_verdicts']['escalate']} escalate) |",
        f"| calibration, fitted on one half, expected calibration error on the other: raw / temperature / isotonic "
        f"| {r['ece_raw']:.3f} / **{r['ece_temperature']:.3f}** / {r['ece_isotonic']:.3f} |",
        f"| XSTest held-out half: F1 / FPR at calibrated P ≥ 0.5 (temperature) | {r['f1_fpr_temperature'][0]:.3f} / {r['f1_fpr_temperature'][1]:.3f} |",
        f"| cascade on that half ({c['n']}): gate F1 / FPR, rules → value model | {c['fast'][0]:.3f} / {c['fast'][1]:.3f} |",
        f"| cascade: rules → value model → LLM (calibrated), band 0.2–0.8 | {c['with_llm'][0]:.3f} / {c['with_llm'][1]:.3f}; "
        f"{c['routed']:.0%} routed to the LLM, ≈ {c['llm_seconds_per_1000']:,.0f} LLM seconds per 1,000 cases |",
    ]
    if "ag_n" in s:
        lines += [
            f"| agent sets ({s['ag_n']} cases from {', '.join(s['ag_sets'])}; texts clipped): AUPRC unacceptable vs allow "
            + (f"| {s['ag_auprc']:.3f} |" if s["ag_auprc"] == s["ag_auprc"] else "| n/a: every sampled case has one decision |"),
            f"| agent sets: macro-F1 of the answer word over allow / block / escalate | {s['ag_macro_f1']:.3f} |",
        ]
    fails = s["xs_fail"] + s.get("ag_fail", 0)
    total = s["xs_n"] + s.get("ag_n", 0)
    lines += [
        f"| format failures (answers that did not validate) | {fails} of {total} ({fails / max(1, total):.1%}) |",
        f"| seconds per case, prefix cached: XSTest prompt / agent case | {s['xs_seconds']:.2f} / {s.get('ag_seconds', float('nan')):.2f} |",
    ]
    if "cold_seconds" in s:
        lines.append(f"| seconds per case without the prefix cache (the same {s['cold_n']} XSTest prompts; cached: "
                     f"{s['warm_seconds_same']:.2f}) | {s['cold_seconds']:.2f} |")
    lines += [
        f"| load / first case (evaluates the prefix) / peak RSS | {r['load_seconds']:.1f} s / {r['first_case_seconds']:.1f} s / {r['rss_gb']:.1f} GB |",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=("1.5b", "0.5b"), default="1.5b", help="which fetched model (default 1.5b)")
    ap.add_argument("--gguf", help="a GGUF file instead (default: fetched by scripts/fetch_llm.py)")
    ap.add_argument("--data", type=Path, default=_data.DEFAULT_DATA)
    ap.add_argument("-n", "--n", type=int, default=100, help="XSTest prompts (half unsafe)")
    ap.add_argument("--agent", type=int, default=24, help="agent-set cases (0: none)")
    ap.add_argument("--clip", type=int, default=1200, help="characters kept of an agent case's context and action")
    ap.add_argument("--uncached", type=int, default=5, help="cases timed without the prefix cache (0: none)")
    ap.add_argument("--examples", type=int, default=1, help="charter examples per principle and side in the prompt")
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: $ACCORD_LLM_THREADS or the cores)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--calibrate", type=Path, help="save the temperature calibration fitted on the first XSTest half")
    ap.add_argument("--write", action="store_true", help="rewrite this model's section of docs/benchmarks.md")
    ap.add_argument("--report", type=Path, help="re-render (and with --write, write) the figures of a saved run; runs no model")
    args = ap.parse_args(argv)
    if args.report:
        r = json.loads(args.report.read_text(encoding="utf-8"))
        text = markdown(r, summarise(r), r.get("command", "python bench/llm_judge.py"))
        print(text)
        if args.write:
            write_section(f"llm-judge-{args.size}", "### LLM judge: " + r["model"] + "\n\n" + text)
        return 0
    if not (args.data / "xstest").is_dir():
        print(f"error: no XSTest data under {args.data} (--data DIR)", file=sys.stderr)
        return 2
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        print("error: llama-cpp-python is not installed: pip install 'accord[llm]' (compiles llama.cpp)", file=sys.stderr)
        return 2
    r = run(args)
    r["command"] = ("python bench/llm_judge.py " + " ".join(
        a for a in (argv if argv is not None else sys.argv[1:]) if a != "--write")).strip()
    out = ROOT / ".accord" / "bench" / f"llm_judge-{r['model']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(r, indent=1, default=str), encoding="utf-8")
    s = summarise(r)
    text = markdown(r, s, r["command"])
    print(text)
    print(f"raw results: {out.relative_to(ROOT)}")
    if args.write:
        write_section(f"llm-judge-{args.size if not args.gguf else r['model']}", "### LLM judge: " + r["model"] + "\n\n" + text)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    raise SystemExit(main())
