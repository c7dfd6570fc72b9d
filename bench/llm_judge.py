"""The LLM judge with a real local model: quality, calibration, cost, and what a cascade gains.

    python bench/llm_judge.py                          # 1.5B in process: 450 XSTest prompts, 200-case check, cascade
    python bench/llm_judge.py --n 150 --check 60       # evenly spread subsets (a busy machine)
    python bench/llm_judge.py --parts xstest           # only fill the answer cache (run parts in parallel)
    python bench/llm_judge.py --write                  # also rewrite this model's section of docs/benchmarks.md

The model is a Qwen2.5-Coder Instruct GGUF assembled by ``scripts/fetch_llm.py`` (``--gguf PATH``
for another), run in this process through llama-cpp-python (``pip install 'accord[llm]'``) as the
``llm`` judge's ``verdict`` format: a GBNF grammar, the charter's principles as the system prompt
and one example per principle and side as worked turns, all of it a prefix evaluated once. The
score is the first answer token's probability mass.

Answers go to an on-disk cache (``--cache-dir``, default ``.accord/llm-cache``; the same files
``ACCORD_LLM_CACHE_DIR`` gives ``accord check``), and each case's seconds to
``.accord/bench/llm_judge-<model>-<prompt>.seconds.jsonl``: an interrupted run resumes, a later
run only re-computes the figures, and the CLI runs below reuse the answers.

* **XSTest prompts** (``../shared/data/xstest``; all 450, or ``--n`` evenly spread), each as
  ``Case(action=prompt)``: AUPRC / ROC-AUC of the raw score (also on the 360 prompts the prompt was
  not chosen on: every fifth prompt from the first was the development subset), F1 / FPR of the
  answer word. ``accord eval --judges llm`` on the same prompts (its AUPRC ranks by verdict risk).
* **Calibration**: temperature and isotonic fitted on the even positions of the sample, expected
  calibration error on the odd ones (``--calibrate PATH`` saves the ``--cal-method`` one).
* **Cascade** on the odd half: rules → value model against rules → value model → LLM
  (calibrated); gate F1 / FPR (flagged = decision not ``allow``), the share routed to the LLM and
  its CPU seconds per 1,000 cases, for the gate's band and a wider one.
* **The 200-case check** (``--check``): half XSTest, half agent sets (ASSEBench, R-Judge,
  Agent-SafetyBench, ToolEmu, evenly spread over their test halves; texts clipped to ``--clip``
  characters), first judged by the LLM directly (format failures, agent AUPRC / macro-F1), then
  through ``accord check --judges rules,model,llm --input FILE --json`` in a subprocess: verdicts
  that are valid (no judge error or time-out), and how many reached the LLM stage.
* **OpenAI moderation set** (``--moderation`` texts evenly spread over the 1,680): AUPRC of the raw
  score, beside Llama Guard 1's published 0.847.
* **Distillation** (``--distil`` cases; ``--parts distil`` alone after a full run): the LLM labels
  agent-set cases (train halves) as a teacher (``accord learn --teacher llm``'s code), and the
  judgment dev set's macro-F1 of the value model updated with and without those labels, 5 seeds.
* **Seconds per case** with the charter prefix cached and without (``--uncached`` prompts), and a
  new process's first case when the prefix state is on disk.

Keep runs light on a shared machine (``nice``; one llama.cpp thread is often faster than two there).
Prints figures, never asserts. Raw results go to ``.accord/bench/llm_judge-<model>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
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

#: the agent sets of the 200-case check (test halves)
CHECK_SETS = ("assebench", "rjudge", "agent-safetybench", "toolemu")
#: the XSTest prompts the verdict prompt was chosen on (indices i with i % 5 == 0): reported apart
DEV_EVERY = 5
#: the cascade's bands compared: the gate's default and a wider one
BANDS = ((0.2, 0.8), (0.1, 0.9))
PARTS = ("xstest", "check", "uncached", "moderation", "distil")


def spread(n_all: int, n: int) -> list[int]:
    """``n`` indices evenly spread over ``range(n_all)`` (all of them when ``n >= n_all``)."""
    if n >= n_all:
        return list(range(n_all))
    return sorted({int(k * n_all / n) for k in range(n)})


def clip(t: str, n: int) -> str:
    return t if len(t) <= n else t[: n // 2] + " […] " + t[-n // 2:]


class Timings:
    """Seconds per judged case, kept on disk beside the answer cache (a cached answer keeps its time)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: dict[str, float] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    r = json.loads(line)
                    self.seen[r["key"]] = float(r["seconds"])
                except (ValueError, KeyError):
                    continue

    @staticmethod
    def key(case: Any) -> str:
        return hashlib.sha256(f"{case.context_text}\x1f{case.action_text}".encode()).hexdigest()[:24]

    def add(self, case: Any, seconds: float) -> None:
        k = self.key(case)
        self.seen[k] = seconds
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"key": k, "seconds": round(seconds, 3)}) + "\n")


def judge_each(judge: Any, cases: list, charter: Any, timings: Timings, label: str) -> list[dict]:
    """Judge one case at a time; a case that fails is recorded as a format failure (never retried here)."""
    from accord.errors import JudgeError

    out = []
    t_start = time.perf_counter()
    fresh = 0
    for i, c in enumerate(cases):
        hits = judge.stats["cache_hits"]
        t0 = time.perf_counter()
        try:
            ans = judge._answers([c], charter)[0]
            top = ans[0]
            rec = {"raw": max(float(a["score"]) for a in ans), "verdict": top.get("verdict"),
                   "principle": top["principle"] if top.get("verdict") != "allow" else None, "p": top.get("p"), "error": None}
        except JudgeError as e:
            rec = {"raw": None, "verdict": None, "principle": None, "p": None, "error": e.message}
        took = time.perf_counter() - t0
        if judge.stats["cache_hits"] > hits:
            rec["seconds"] = timings.seen.get(Timings.key(c))
        else:
            rec["seconds"] = took
            fresh += 1
            if rec["error"] is None:
                timings.add(c, took)
        out.append(rec)
        if (i + 1) % 10 == 0 or i + 1 == len(cases):
            print(f"  {label} {i + 1}/{len(cases)}  ({fresh} judged now, {time.perf_counter() - t_start:.0f} s)",
                  file=sys.stderr, flush=True)
    return out


def flag_rates(y: np.ndarray, flagged: np.ndarray) -> tuple[float, float]:
    f1 = float(f1_score(y, flagged, zero_division=0))
    safe = y == 0
    return f1, float(flagged[safe].mean()) if safe.any() else 0.0


def check_cases(data: Path, n: int, clip_chars: int) -> list[dict[str, Any]]:
    """``n`` cases: half XSTest prompts evenly spread, half the agent sets' test halves evenly spread."""
    texts, labels, _ = _data.xstest(data)
    n_x = n // 2
    out: list[dict[str, Any]] = [{"id": f"xstest-{i}", "context": "", "action": texts[i], "set": "xstest",
                                  "decision": "block" if labels[i] else "allow"} for i in spread(len(texts), n_x)]
    per = (n - len(out)) // len(CHECK_SETS)
    extra = (n - len(out)) - per * len(CHECK_SETS)
    for k, name in enumerate(CHECK_SETS):
        rows = list(agentsets.SETS[name](data))
        for i in spread(len(rows), per + (1 if k < extra else 0)):
            case, decision, _ = rows[i]
            out.append({"id": f"{name}-{i}", "context": clip(case.context_text, clip_chars),
                        "action": clip(case.action_text, clip_chars), "set": name, "decision": decision})
    return out


def cli(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from accord.cli.main import main; main()", *args],
                          capture_output=True, text=True, env=env, timeout=timeout)


#: the unlabelled pool of the distillation check: the train halves of these sets (never the test halves above)
DISTIL_SETS = ("assebench", "agent-safetybench", "toolemu")
DISTIL_SEEDS = 5


def distillation(judge: Any, charter: Any, data: Path, n: int, clip_chars: int) -> dict[str, Any]:
    """Does the value model gain from the LLM's labels? The judgment dev set's macro-F1 (rules + value
    model) of the packaged value model updated on the charter's examples alone, against the same
    update plus the teacher's soft labels on ``n`` agent-set cases (their train halves; calibrated
    and raw probabilities), and plus the cases' gold labels (what a person's labels would give).
    Each of :data:`DISTIL_SEEDS` seeds takes a random 80% of the labelled pool."""
    import copy

    import judgment

    from accord.gate.gate import Gate
    from accord.judges.llm_teacher import distil, label_cases
    from accord.judges.rules import RuleJudge
    from accord.learning.feedback import TrainingSet, charter_examples
    from accord.learning.models import load_model
    from accord.types import Case

    pool: list[tuple[Any, str]] = []
    for name in DISTIL_SETS:
        rows = list(agentsets.LOADERS[name](data, "train"))
        for i in spread(len(rows), n // len(DISTIL_SETS)):
            case, decision, _ = rows[i]
            pool.append((Case(context=clip(case.context_text, clip_chars), action=clip(case.action_text, clip_chars)), decision))
    gold = {(c.context_text, c.action_text): d for c, d in pool}
    labels = ROOT / ".accord" / "bench" / f"teacher-{judge.model}-{judge.prompt_id}.jsonl"
    print(f"distillation: {len(pool)} agent-set cases labelled by the LLM (resumable: {labels.name})", file=sys.stderr)
    run = label_cases(judge, charter, [c for c, _ in pool], labels,
                      progress=lambda i, k: print(f"  teacher {i}/{k}", file=sys.stderr, flush=True) if i % 10 == 0 or i == k else None)
    rows = [{**r, "gold": gold[(r["context"], r["action"])]} for r in run.labelled]
    y = np.array([r["gold"] != "allow" for r in rows])
    out: dict[str, Any] = {"n": len(rows), "failed": run.failed, "unacceptable_share": float(y.mean()),
                           "teacher_auprc": float(average_precision_score(y, [r["raw"] for r in rows])),
                           "mean_p": float(np.mean([r["p"] for r in rows])), "mean_raw": float(np.mean([r["raw"] for r in rows]))}
    dev = judgment.dev_set()
    cases, truth = [c for c, _, _ in dev], [d for _, d, _ in dev]
    base = load_model(None)

    def dev_f1(vm: Any) -> float:
        return judgment.macro_f1(truth, judgment.run(Gate(charter, judges=[RuleJudge(), vm], model=vm), cases))

    out["shipped"] = dev_f1(base)
    res: dict[str, list[float]] = {"without": [], "teacher": [], "teacher_raw": [], "gold": []}
    for seed in range(DISTIL_SEEDS):
        rng = np.random.default_rng(seed)
        pick = [rows[i] for i in sorted(rng.choice(len(rows), int(0.8 * len(rows)), replace=False))]
        b = copy.deepcopy(base)
        b.random_state = seed
        examples = TrainingSet()
        examples.extend(charter_examples(charter))
        res["without"].append(dev_f1(copy.deepcopy(b).partial_fit(examples.cases, examples.y, **examples.fit_kwargs())))
        res["teacher"].append(dev_f1(distil(pick, charter, b, random_state=seed)))
        res["teacher_raw"].append(dev_f1(distil([{**r, "p": r["raw"]} for r in pick], charter, b, random_state=seed)))
        res["gold"].append(dev_f1(distil([{**r, "p": float(r["gold"] != "allow")} for r in pick], charter, b, random_state=seed)))
        print(f"  seed {seed}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in res.items()), file=sys.stderr, flush=True)
    out["dev_macro_f1"] = res
    return out


def distil_markdown(d: dict[str, Any]) -> str:
    res = d["dev_macro_f1"]

    def ms(k: str) -> str:
        return f"{np.mean(res[k]):.3f} ± {np.std(res[k]):.3f}"

    return "\n".join([
        f"Distillation: the packaged value model updated on the charter's examples, with and without the 1.5B "
        f"teacher's labels on {d['n']} agent-set cases (train halves of {', '.join(DISTIL_SETS)}; "
        f"{d['unacceptable_share']:.0%} unacceptable; the teacher's AUPRC on them {d['teacher_auprc']:.3f}; mean "
        f"calibrated p {d['mean_p']:.3f}, mean raw score {d['mean_raw']:.3f}); judgment dev set, rules + value model, "
        f"macro-F1 over {DISTIL_SEEDS} seeds (each a random 80% of the cases):",
        "",
        "| value model | dev macro-F1 |",
        "|---|---|",
        f"| as shipped | {d['shipped']:.3f} |",
        f"| + charter examples (without the teacher) | {ms('without')} |",
        f"| + the teacher's calibrated probabilities | {ms('teacher')} |",
        f"| + the teacher's raw scores | {ms('teacher_raw')} |",
        f"| + the same cases' gold labels (what people's labels give) | {ms('gold')} |",
    ])


def run(args: argparse.Namespace) -> dict[str, Any]:
    import yaml

    from accord.charter import load_charter
    from accord.gate.gate import Gate
    from accord.judges.llm import Calibration, LLMJudge, expected_calibration_error, fit_calibration
    from accord.judges.rules import RuleJudge
    from accord.learning.models import load_model
    from accord.types import Case

    gguf = Path(args.gguf) if args.gguf else None
    if gguf is None:
        import fetch_llm

        gguf = fetch_llm.fetch(args.size, fetch_llm.default_dest())
    parts = set(args.parts.split(","))
    charter = load_charter(None)
    charter = charter.model_copy(update={"policy": charter.policy.model_copy(update={"judge_timeout_ms": 600_000})})
    cache_dir = Path(args.cache_dir)
    t0 = time.perf_counter()
    judge = LLMJudge(gguf=gguf, n_threads=args.threads, examples=args.examples, cache_size=100_000, cache_dir=cache_dir,
                     timeout_s=600)
    load_s = time.perf_counter() - t0
    transport = judge._transport
    out_dir = ROOT / ".accord" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    timings = Timings(out_dir / f"llm_judge-{judge.model}-{judge.prompt_id}.seconds.jsonl")
    r: dict[str, Any] = {"model": judge.model, "version": judge.version, "gguf": gguf.name, "threads": transport.n_threads,
                         "load_seconds": load_s, "date": dt.date.today().isoformat(), "n_ctx": transport.n_ctx}

    # the prefix (system prompt + worked examples): what the second of two cases reuses
    nonce = time.strftime("%Y-%m-%d %H:%M:%S")  # never in the answer cache: these two ask the model
    warm = [Case(action=f"Hello, how are you? ({nonce})"), Case(action=f"What is the capital of France? ({nonce})")]
    t0 = time.perf_counter()
    judge._answers(warm[:1], charter)
    r["first_case_seconds"] = time.perf_counter() - t0
    r["first_case_restored"] = transport.stats["restored_tokens"]
    before = dict(transport.stats)
    judge._answers(warm[1:], charter)
    r["prefix_tokens"] = transport.stats["reused_tokens"] - before["reused_tokens"] or None

    texts, labels, _ = _data.xstest(args.data)
    idx = spread(len(texts), args.n)
    xs_cases = [Case(action=texts[i]) for i in idx]
    y_all = np.array([labels[i] for i in idx])
    print(f"XSTest: {len(idx)} prompts", file=sys.stderr)
    xs = judge_each(judge, xs_cases, charter, timings, "xstest") if "xstest" in parts else []
    if xs:
        r["xstest"] = [{"i": i, "label": int(y), **rec} for i, y, rec in zip(idx, y_all, xs, strict=True)]

    checks: list[dict[str, Any]] = []
    if args.check and "check" in parts:
        checks = check_cases(args.data, args.check, args.clip)
        print(f"check: {len(checks)} cases, judged by the LLM directly", file=sys.stderr)
        order = sorted(range(len(checks)), key=lambda k: checks[k]["set"] == "xstest")  # agent cases first (XSTest's may be cached)
        done = judge_each(judge, [Case(context=checks[k]["context"], action=checks[k]["action"]) for k in order], charter,
                          timings, "check")
        direct = [rec for _, rec in sorted(zip(order, done, strict=True), key=lambda t: t[0])]
        r["check_direct"] = [{"id": c["id"], "set": c["set"], "decision": c["decision"], **rec}
                             for c, rec in zip(checks, direct, strict=True)]

    if args.moderation and "moderation" in parts:
        mtexts, my = _data.moderation(args.data)
        midx = spread(len(mtexts), args.moderation)
        print(f"OpenAI moderation: {len(midx)} texts", file=sys.stderr)
        mod = judge_each(judge, [Case(action=mtexts[i]) for i in midx], charter, timings, "moderation")
        r["moderation"] = [{"i": i, "label": int(my[i]), **rec} for i, rec in zip(midx, mod, strict=True)]

    if args.distil and "distil" in parts:
        judge.calibration = Calibration.load(args.calibrate or out_dir / f"llm-calibration-{judge.model}.json")
        r["distil"] = distillation(judge, charter, args.data, args.distil, args.clip)
        judge.calibration = None
        print(distil_markdown(r["distil"]))

    if args.uncached and "uncached" in parts:
        print(f"without the prefix cache: {args.uncached} prompts", file=sys.stderr)
        cold = LLMJudge(gguf=gguf, n_threads=args.threads, examples=args.examples, prefix_cache=False, cache_size=0,
                        timeout_s=600)
        cold_t = Timings(Path(os.devnull))
        r["uncached"] = judge_each(cold, xs_cases[: args.uncached], charter, cold_t, "uncached")
        r["uncached_warm"] = [timings.seen.get(Timings.key(c)) for c in xs_cases[: args.uncached]]
        cold.close()
    r["rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    # a new process's first case: the model loads and the saved prefix state replaces evaluating the prefix
    t0 = time.perf_counter()
    with LLMJudge(gguf=gguf, n_threads=args.threads, examples=args.examples, cache_size=0, cache_dir=cache_dir,
                  timeout_s=600) as again:
        again._answers([Case(action=f"Where is the nearest train station? ({nonce})")], charter)
        r["restart_seconds"] = time.perf_counter() - t0
        r["restart_restored_tokens"] = again._transport.stats["restored_tokens"]
    if not parts >= set(PARTS):
        judge.close()
        return r  # a partial run fills the caches; the figures come from a full one

    # ---- calibration: fit on the even positions of the sample, measure on the odd ones
    ok = [k for k, rec in enumerate(xs) if rec["raw"] is not None]
    fit_k, test_k = ok[0::2], ok[1::2]
    raw = np.array([xs[k]["raw"] if xs[k]["raw"] is not None else np.nan for k in range(len(xs))])
    cals = {}
    for method in ("temperature", "isotonic"):
        cal = fit_calibration(raw[fit_k], y_all[fit_k], method, model=judge.model, format=judge.format,  # type: ignore[arg-type]
                              prompt=judge.prompt_id)
        p = np.array([cal(v) for v in raw[test_k]])
        cals[method] = cal
        r[f"ece_{method}"] = expected_calibration_error(p, y_all[test_k])
        r[f"f1_fpr_{method}"] = flag_rates(y_all[test_k], p >= 0.5)
        r[f"cal_{method}"] = cal.model_dump()
    r["ece_raw"] = expected_calibration_error(raw[test_k], y_all[test_k])
    r["cal_n"] = (len(fit_k), len(test_k))
    cal = cals[args.cal_method]
    r["cal_method"] = args.cal_method
    cal_path = Path(args.calibrate) if args.calibrate else out_dir / f"llm-calibration-{judge.model}.json"
    cal.save(cal_path)
    r["calibration_file"] = str(cal_path)
    print(f"wrote {cal_path} ({args.cal_method} on {len(fit_k)} XSTest prompts)", file=sys.stderr)

    # ---- cascade on the held-out half: the LLM stage is calibrated and answers from the cache
    value_model = load_model(None)
    test_cases = [xs_cases[k] for k in test_k]
    y_test = y_all[test_k]
    vm_scores = value_model.judge(xs_cases, charter)
    r["value_model_auprc"] = float(average_precision_score(y_all, [max((s.score for s in sc), default=0.0) for sc in vm_scores]))
    mean_s = float(np.mean([xs[k]["seconds"] for k in ok if xs[k]["seconds"] is not None]))
    r["cascade"] = []
    for method in ("temperature", "isotonic"):
        judge.calibration = cals[method]
        for band in BANDS:
            calls_before = transport.stats["requests"]
            fast = Gate(charter, judges=[RuleJudge(), value_model], model=value_model, band=band).check_many(test_cases, record=False)
            slow = Gate(charter, judges=[RuleJudge(), value_model, judge], model=value_model, band=band).check_many(test_cases, record=False)
            routed = sum(any(p.source.startswith("llm:") for p in v.principles) for v in slow)
            share = routed / max(1, len(test_cases))
            ff = np.array([v.decision != "allow" for v in fast])
            fs = np.array([v.decision != "allow" for v in slow])
            r["cascade"].append({
                "method": method, "band": band, "n": len(test_cases), "fast": flag_rates(y_test, ff),
                "with_llm": flag_rates(y_test, fs), "fast_fp": int((ff & (y_test == 0)).sum()), "llm_fp": int((fs & (y_test == 0)).sum()),
                "fast_tp": int((ff & (y_test == 1)).sum()), "llm_tp": int((fs & (y_test == 1)).sum()),
                "routed": share, "llm_seconds_per_1000": share * mean_s * 1000,
                "new_calls": transport.stats["requests"] - calls_before, "errors": sum(bool(v.errors) for v in slow)})
    judge.calibration = cal

    # ---- the CLI: accord eval on the XSTest sample, accord check on the 200 cases
    env = {**os.environ, "ACCORD_LLM_GGUF": str(gguf), "ACCORD_LLM_CACHE_DIR": str(cache_dir.resolve()),
           "ACCORD_LLM_THREADS": str(transport.n_threads), "ACCORD_LLM_EXAMPLES": str(args.examples),
           "ACCORD_LLM_CALIBRATION": str(cal_path.resolve()), "ACCORD_LLM_TIMEOUT": "600"}
    for k in ("ACCORD_LLM_BASE_URL", "ACCORD_LLM_MODEL", "ACCORD_LLM_FORMAT", "ACCORD_LLM_CONSTRAIN"):
        env.pop(k, None)
    with tempfile.TemporaryDirectory() as tmp:
        data = load_charter(None).model_dump(mode="json", exclude_defaults=False)
        data["policy"]["judge_timeout_ms"] = 600_000
        charter_path = Path(tmp) / "charter.yaml"
        charter_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        labelled = Path(tmp) / "xstest.jsonl"
        labelled.write_text("".join(json.dumps({"action": c.action_text, "verdict": "unacceptable" if y else "acceptable"}) + "\n"
                                    for c, y in zip(xs_cases, y_all, strict=True)), encoding="utf-8")
        t0 = time.perf_counter()
        ev = cli(["eval", str(labelled), "--charter", str(charter_path), "--judges", "llm", "--json"], env, 7200)
        if ev.returncode == 0:
            r["eval_llm"] = json.loads(ev.stdout)["metrics"]["overall"] | {"seconds": time.perf_counter() - t0}
        else:
            r["eval_llm"] = {"error": ev.stderr[-2000:]}
        if checks:
            inp = Path(tmp) / "cases.jsonl"
            inp.write_text("".join(json.dumps({"id": c["id"], "context": c["context"], "action": c["action"]}) + "\n"
                                   for c in checks), encoding="utf-8")
            t0 = time.perf_counter()
            ch = cli(["check", "--input", str(inp), "--charter", str(charter_path), "--judges", "rules,model,llm",
                      "--json", "--no-record"], env, 7200)
            verdicts = [json.loads(line) for line in ch.stdout.splitlines() if line.strip()]
            r["check_cli"] = {
                "returncode": ch.returncode, "seconds": time.perf_counter() - t0, "n": len(checks), "verdicts": len(verdicts),
                "valid": sum(v["decision"] in ("allow", "revise", "escalate", "block") and not v.get("errors") for v in verdicts),
                "reached_llm": sum(any(str(p.get("source", "")).startswith("llm:") for p in v["principles"]) for v in verdicts),
                "decisions": {d: sum(v["decision"] == d for v in verdicts) for d in ("allow", "revise", "escalate", "block")},
                "stderr": ch.stderr[-1500:] if ch.returncode not in (0, 1) else ""}
            ys = np.array([c["decision"] != "allow" for c in checks])
            fl = np.array([v["decision"] != "allow" for v in verdicts]) if len(verdicts) == len(checks) else None
            if fl is not None:
                r["check_cli"]["f1_fpr"] = flag_rates(ys, fl)
    judge.close()
    return r


def summarise(r: dict[str, Any]) -> dict[str, Any]:
    xs = [x for x in r["xstest"] if x["raw"] is not None]
    y = np.array([x["label"] for x in xs])
    raw = np.array([x["raw"] for x in xs])
    word = np.array([x["verdict"] != "allow" for x in xs])
    held = np.array([x["i"] % DEV_EVERY != 0 for x in xs])
    s: dict[str, Any] = {
        "xs_n": len(r["xstest"]), "xs_fail": sum(x["raw"] is None for x in r["xstest"]),
        "xs_auprc": float(average_precision_score(y, raw)), "xs_auc": float(roc_auc_score(y, raw)),
        "xs_auprc_new": float(average_precision_score(y[held], raw[held])), "xs_new_n": int(held.sum()),
        "xs_word": flag_rates(y, word),
        "xs_seconds": float(np.mean([x["seconds"] for x in r["xstest"] if x["seconds"] is not None])),
        "xs_verdicts": {v: int(sum(x["verdict"] == v for x in xs)) for v in ("allow", "block", "escalate")},
    }
    if r.get("check_direct"):
        cd = r["check_direct"]
        s["cd_n"], s["cd_fail"] = len(cd), sum(a["raw"] is None for a in cd)
        ag = [a for a in cd if a["set"] != "xstest" and a["raw"] is not None]
        ya = np.array([a["decision"] != "allow" for a in ag])
        s["ag_n"] = len(ag)
        s["ag_auprc"] = float(average_precision_score(ya, [a["raw"] for a in ag])) if 0 < ya.sum() < len(ya) else float("nan")
        s["ag_macro_f1"] = float(f1_score([a["decision"] for a in ag], [a["verdict"] for a in ag],
                                          labels=["allow", "block", "escalate"], average="macro", zero_division=0))
        secs = [a["seconds"] for a in cd if a["set"] != "xstest" and a["seconds"] is not None]
        s["ag_seconds"] = float(np.mean(secs)) if secs else float("nan")
    if r.get("moderation"):
        mo = [m for m in r["moderation"] if m["raw"] is not None]
        ym = np.array([m["label"] for m in mo])
        s["mod_n"], s["mod_pos"] = len(r["moderation"]), int(ym.sum())
        s["mod_auprc"] = float(average_precision_score(ym, [m["raw"] for m in mo]))
        s["mod_fail"] = sum(m["raw"] is None for m in r["moderation"])
    if r.get("uncached"):
        pairs = [(u["seconds"], w) for u, w in zip(r["uncached"], r.get("uncached_warm") or [], strict=False) if w is not None]
        s["cold_seconds"] = float(np.mean([u["seconds"] for u in r["uncached"]]))
        s["cold_n"] = len(r["uncached"])
        s["warm_seconds_same"] = float(np.mean([w for _, w in pairs])) if pairs else float("nan")
    return s


def markdown(r: dict[str, Any], s: dict[str, Any], command: str) -> str:
    ev = r.get("eval_llm") or {}
    lines = [
        f"Measured {r['date']} with `{command}` on {machine()} (shared with other jobs: speeds are lower bounds), "
        f"llama.cpp {r['threads']} thread(s). Judge `{r['version']}`: the `verdict` format, a GBNF grammar, "
        f"the default charter's principles as the system prompt and one example per principle and side as worked turns "
        f"(a {r['prefix_tokens']}-token prefix, evaluated once); the score is the first answer token's probability mass, "
        "P(block) + P(escalate)/2.",
        "",
        "| | figure |",
        "|---|---|",
        f"| XSTest prompts ({s['xs_n']}): AUPRC / ROC-AUC of the LLM stage's raw score | **{s['xs_auprc']:.3f}** / {s['xs_auc']:.3f} |",
        f"| the same, on the {s['xs_new_n']} prompts the prompt was not chosen on | {s['xs_auprc_new']:.3f} |",
        "| `accord eval --judges llm` on those prompts (calibrated; AUPRC ranks by verdict risk, which stops at 1.0 at a "
        "block threshold) | " + (f"AUPRC {ev['auprc']:.3f}, F1 {ev['f1']:.3f}, FPR {ev['fpr']:.3f}" if "auprc" in ev else "failed") + " |",
        f"| the packaged value model on the same prompts: AUPRC | {r['value_model_auprc']:.3f} |",
        *([f"| OpenAI moderation set, {s['mod_n']} texts evenly spread ({s['mod_pos']} flagged): AUPRC of the raw score "
           f"(Llama Guard 1, zero-shot, all 1,680: 0.847) | **{s['mod_auprc']:.3f}** |"] if "mod_auprc" in s else []),
        f"| XSTest: F1 / FPR of the answer word (flagged = not allow) | {s['xs_word'][0]:.3f} / {s['xs_word'][1]:.3f} "
        f"(answers: {s['xs_verdicts']['allow']} allow, {s['xs_verdicts']['block']} block, {s['xs_verdicts']['escalate']} escalate) |",
        f"| calibration fitted on {r['cal_n'][0]} prompts, expected calibration error on the other {r['cal_n'][1]}: "
        f"raw / temperature / isotonic | {r['ece_raw']:.3f} / **{r['ece_temperature']:.3f}** / **{r['ece_isotonic']:.3f}** |",
        f"| held-out half: F1 / FPR at calibrated P ≥ 0.5, temperature / isotonic | {r['f1_fpr_temperature'][0]:.3f} / "
        f"{r['f1_fpr_temperature'][1]:.3f}; {r['f1_fpr_isotonic'][0]:.3f} / {r['f1_fpr_isotonic'][1]:.3f} |",
    ]
    for c in r["cascade"]:
        lo, hi = c["band"]
        lines.append(
            f"| cascade on the held-out {c['n']}, band {lo}–{hi}, LLM calibrated by {c['method']}: gate F1 / FPR (false "
            f"positives), rules → value model → **with the LLM** | {c['fast'][0]:.3f} / {c['fast'][1]:.3f} ({c['fast_fp']}) → "
            f"**{c['with_llm'][0]:.3f} / {c['with_llm'][1]:.3f} ({c['llm_fp']})**; {c['routed']:.0%} routed to the LLM, "
            f"≈ {c['llm_seconds_per_1000']:,.0f} CPU seconds per 1,000 cases ({c['llm_seconds_per_1000'] / 3600:.1f} h) |")
    cc = r.get("check_cli")
    if cc:
        lines.append(
            f"| `accord check --judges rules,model,llm` on {cc['n']} cases (half XSTest, half agent sets): valid verdicts "
            f"| **{cc['valid']} of {cc['n']}** ({cc['reached_llm']} reached the LLM stage; "
            + ", ".join(f"{n} {d}" for d, n in cc["decisions"].items() if n) + f"; {cc['seconds']:.0f} s with cached answers) |")
    if "cd_n" in s:
        lines += [
            f"| the same {s['cd_n']} cases, every one judged by the LLM: format failures | **{s['cd_fail']}** |",
            f"| agent-set cases ({s['ag_n']}; ASSEBench, R-Judge, Agent-SafetyBench, ToolEmu; clipped): AUPRC unacceptable vs allow "
            f"/ macro-F1 of the word over allow / block / escalate | {s['ag_auprc']:.3f} / {s['ag_macro_f1']:.3f} |",
        ]
    lines.append(f"| seconds per case, prefix cached: XSTest prompt / agent case | {s['xs_seconds']:.2f} / "
                 f"{s.get('ag_seconds', float('nan')):.2f} |")
    if "cold_seconds" in s:
        lines.append(f"| seconds per case without the prefix cache (the same {s['cold_n']} XSTest prompts; cached: "
                     f"{s['warm_seconds_same']:.2f}) | {s['cold_seconds']:.2f} |")
    lines.append(f"| load / first case (evaluates the prefix) / peak RSS | {r['load_seconds']:.1f} s / "
                 f"{r['first_case_seconds']:.1f} s{' (prefix loaded from disk)' if r.get('first_case_restored') else ''} / "
                 f"{r['rss_gb']:.1f} GB |")
    if r.get("restart_seconds") is not None:
        lines.append(f"| a new process's first case, model load included, with the prefix state saved on disk "
                     f"({r['restart_restored_tokens']} tokens loaded, not evaluated) | {r['restart_seconds']:.1f} s |")
    if r.get("distil"):
        lines += ["", f"With `{r.get('distil_command', command)}`. " + distil_markdown(r["distil"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=("1.5b", "0.5b"), default="1.5b", help="which fetched model (default 1.5b)")
    ap.add_argument("--gguf", help="a GGUF file instead (default: fetched by scripts/fetch_llm.py)")
    ap.add_argument("--data", type=Path, default=_data.DEFAULT_DATA)
    ap.add_argument("-n", "--n", type=int, default=450, help="XSTest prompts, evenly spread (default: all 450)")
    ap.add_argument("--check", type=int, default=200, help="cases for the accord check run, half XSTest, half agent sets (0: none)")
    ap.add_argument("--clip", type=int, default=800, help="characters kept of an agent case's context and of its action")
    ap.add_argument("--uncached", type=int, default=3, help="prompts timed without the prefix cache (0: none)")
    ap.add_argument("--moderation", type=int, default=0, help="OpenAI moderation texts, evenly spread (0: none)")
    ap.add_argument("--distil", type=int, default=0, help="agent-set cases for the distillation check (0: none; it "
                    "uses the calibration a full run saved)")
    ap.add_argument("--examples", type=int, default=1, help="charter examples per principle and side (worked turns)")
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: $ACCORD_LLM_THREADS or the cores)")
    ap.add_argument("--cache-dir", default=str(ROOT / ".accord" / "llm-cache"), help="on-disk answer cache")
    ap.add_argument("--parts", default=",".join(PARTS), help="what to run: xstest, check, uncached, moderation, distil "
                    "(the main figures need the first three)")
    ap.add_argument("--cal-method", choices=("temperature", "isotonic"), default="temperature",
                    help="the calibration the cascade and the CLI use (both are printed)")
    ap.add_argument("--calibrate", type=Path, help="where to save that calibration (default .accord/bench/llm-calibration-<model>.json)")
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
    out = ROOT / ".accord" / "bench" / f"llm_judge-{r['model']}.json"
    if "cascade" not in r:
        if "distil" in r and out.exists():  # kept beside the full run's figures (--report shows both)
            full = json.loads(out.read_text(encoding="utf-8"))
            full["distil"] = r["distil"]
            full["distil_command"] = "python bench/llm_judge.py " + " ".join(argv if argv is not None else sys.argv[1:])
            out.write_text(json.dumps(full, indent=1, default=str), encoding="utf-8")
            print(f"added the distillation figures to {out.relative_to(ROOT)}", file=sys.stderr)
        print("partial run: answers cached; run without --parts for the figures", file=sys.stderr)
        return 0
    r["command"] = ("python bench/llm_judge.py " + " ".join(
        a for a in (argv if argv is not None else sys.argv[1:]) if a != "--write")).strip()
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
