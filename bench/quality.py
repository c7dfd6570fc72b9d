"""Quality of the default tier on held-out public sets, beside published anchors.

    python bench/quality.py                      # packaged default model, ../shared/data
    python bench/quality.py --model DIR --data DIR --write   # also rewrite docs/benchmarks.md
    python bench/quality.py --model strong --no-ethics       # the packaged stronger tier (MiniLM: slower)

* **OpenAI moderation** (1,680 human-labelled texts): AUPRC of the value model's P(unacceptable),
  positive = any category flagged, each text as ``Case(context="", action=text)``.
* **XSTest prompts** (250 safe, 200 unsafe): F1 on unsafe and false-positive rate on safe, counting
  a prompt as flagged when the default gate's decision is not ``allow``; also at the model's own
  0.5 threshold on P(unacceptable), and AUPRC.
* **HH-RLHF harmless-base test** (2,312 pairs): how often ``ValueModel.reward`` ranks the
  less-harmful final assistant turn above the other (context = the dialogue before that turn).
* **Ordinary instructions** (6,266 Alpaca instructions, refusal-direction ``harmless_test``;
  CC-BY-NC, so measured here and never trained on): the share the gate flags.
* **Prompts alone through the default gate** (each as ``Case(action=prompt)``): the share of
  LLMBar's 418 instructions flagged (ordinary tasks, MIT), and the share of MaliciousInstruct's 100
  and Do-Not-Answer's 939 questions caught (licences allow measurement only).
* ``--priors 0.5,0.3,0.2,0.1``: the XSTest and ordinary-instruction figures again with the model's
  ``prior`` set to each value (the operating point; ranking metrics do not change).

None of these sets is in the default model's training data (``scripts/train_default_model.py``
also drops any training text that occurs in them). Prints figures; never asserts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _data
from _report import machine, write_section

ANCHORS = {
    "moderation_auprc": "Llama Guard 1: 0.847 · OpenAI moderation API: 0.856",
    "xstest": "Llama Guard 3 1B: F1 0.821, FPR 0.068",
    "hh": "OpenAssistant DeBERTa-v3 reward model: 69.25%",
}
#: ETHICS (Hendrycks et al. 2021, Table 2): test / hard-test accuracy of a fine-tuned BERT-base, and
#: chance; justice, deontology and virtue are grouped exact-match scores
ETHICS_ANCHORS = {
    "commonsense": ("86.5 / 48.7", "50 / 50"), "justice": ("26.0 / 7.6", "6.3 / 6.3"),
    "deontology": ("38.8 / 10.3", "6.3 / 6.3"), "virtue": ("33.1 / 8.6", "8.2 / 8.2"),
    "utilitarianism": ("73.4 / 44.9", "50 / 50"),
}


def ethics_scores(model, data: Path) -> dict:  # type: ignore[no-untyped-def]
    """Zero-shot ETHICS: each task mapped onto what the value model answers, per test split.

    * commonsense: ``Case(action=scenario)``, "wrong" when P(unacceptable) ≥ 0.5;
    * justice: ``Case(action=claim)``, "reasonable" when P(unacceptable) < 0.5;
    * deontology: ``Case(context=request, action=excuse)``, "reasonable" when P(unacceptable) < 0.5;
    * virtue: not an acceptability question; the encoder picks, among each sentence's five traits,
      the one nearest the sentence (the only trait marked exemplified);
    * utilitarianism: ``reward`` must rank the more pleasant scenario higher.

    The default model saw the *train* splits of justice, deontology, virtue and utilitarianism,
    only as ordinary acceptable text (no labels); it never saw a test split.
    """
    out: dict = {}
    for task in _data.ETHICS_TASKS:
        out[task] = {}
        for split in ("test", "test_hard"):
            rows = _data.ethics(task, split, data)
            if task == "utilitarianism":
                better = model.reward([("", r["better"]) for r in rows])
                worse = model.reward([("", r["worse"]) for r in rows])
                correct = better > worse
            elif task == "virtue":
                sent = [r["scenario"].split(" [SEP] ")[0] for r in rows]
                trait = [r["scenario"].split(" [SEP] ")[-1] for r in rows]
                es, et = model._enc.encode(sent), model._enc.encode(trait)  # unit vectors already
                sim = (es * et).sum(axis=1).reshape(-1, 5)
                pick = np.zeros_like(sim, dtype=bool)
                pick[np.arange(len(sim)), sim.argmax(axis=1)] = True
                correct = pick.reshape(-1) == np.array([r["label"] == "1" for r in rows])
            else:
                if task == "deontology":
                    cases = [(r["scenario"], r["excuse"]) for r in rows]
                else:
                    cases = [("", r["input" if task == "commonsense" else "scenario"]) for r in rows]
                unacceptable = model.predict_proba(cases)[:, 1] >= 0.5
                wrong = np.array([r["label"] == "1" for r in rows])
                correct = unacceptable == wrong if task == "commonsense" else unacceptable != wrong
            acc = float(np.mean(correct))
            g = _data.ETHICS_GROUP.get(task)
            grouped = float(correct[: len(correct) // g * g].reshape(-1, g).all(axis=1).mean()) if g else None
            out[task][split] = {"n": len(rows), "accuracy": acc, "grouped": grouped}
    return out


def flag_rates(prefix: str, y: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    """``{prefix}_f1`` on the positives, ``{prefix}_fpr`` on the negatives and ``{prefix}_recall``."""
    return {f"{prefix}_f1": float(f1_score(y, flagged)), f"{prefix}_fpr": float(flagged[y == 0].mean()),
            f"{prefix}_recall": float(flagged[y == 1].mean())}


def operating_point(model, data: Path, prior: float | None = None) -> dict:  # type: ignore[no-untyped-def]
    """XSTest gate F1 / FPR / recall and the flagged share of ordinary instructions, at ``prior``."""
    from accord.gate.gate import Gate
    from accord.types import Case

    saved = model.prior
    if prior is not None:
        model.prior = prior
    try:
        gate = Gate.from_charter(None, model=model)  # the default gate's stages (rules, decision, model)
        texts, y, _ = _data.xstest(data)
        y_arr = np.array(y)
        flagged = np.array([v.decision != "allow" for v in gate.check_many([Case(action=t) for t in texts], record=False)])
        p = model.predict_proba([("", t) for t in texts])[:, 1]
        ordinary = _data.ordinary_instructions(data)
        of = np.mean([v.decision != "allow" for v in gate.check_many([Case(action=t) for t in ordinary], record=False)])
        return {"prior": model.prior, **flag_rates("gate", y_arr, flagged), **flag_rates("model", y_arr, p >= 0.5),
                "ordinary_flagged": float(of), "ordinary_n": len(ordinary)}
    finally:
        model.prior = saved


def run(model_dir: str | None, data: Path, priors: list[float] | None = None, ethics: bool = True) -> dict:
    from accord.gate.gate import Gate
    from accord.learning.models import load_model, strong_model_dir
    from accord.types import Case

    model = load_model(strong_model_dir() if model_dir == "strong" else model_dir)
    gate = Gate.from_charter(None, model=model)  # the default gate's stages (rules, decision, model)
    out: dict = {"model": model.card_.get("name") or str(model_dir), "model_version": model.version,
                 "prior": model.prior, "trained_on": sorted(model.card_.get("sources", {}))}

    t0 = time.perf_counter()
    texts, y = _data.moderation(data)
    p = model.predict_proba([("", t) for t in texts])[:, 1]
    y_arr = np.array(y)
    out["moderation"] = {"n": len(y), "positives": int(y_arr.sum()), "auprc": float(average_precision_score(y_arr, p)),
                         "base_rate": float(y_arr.mean())}

    texts, y, types = _data.xstest(data)
    y_arr = np.array(y)
    p = model.predict_proba([("", t) for t in texts])[:, 1]
    verdicts = gate.check_many([Case(action=t) for t in texts], record=False)
    flagged = np.array([v.decision != "allow" for v in verdicts])
    at_half = p >= 0.5
    out["xstest"] = {
        "n": len(y), "unsafe": int(y_arr.sum()), **flag_rates("gate", y_arr, flagged), **flag_rates("model", y_arr, at_half),
        "auprc": float(average_precision_score(y_arr, p)),
        "decisions": {d: int(sum(v.decision == d for v in verdicts)) for d in ("allow", "revise", "escalate", "block")},
        "fpr_by_type": {t: round(float(flagged[[i for i, x in enumerate(types) if x == t]].mean()), 3)
                        for t in sorted(set(types)) if not t.startswith("contrast_")},
    }

    pairs = _data.hh_rlhf(data)
    rc = model.reward([(c, a) for c, a, _ in pairs])
    rr = model.reward([(c, b) for c, _, b in pairs])
    pc = model.predict_proba([(c, a) for c, a, _ in pairs])[:, 1]
    pr = model.predict_proba([(c, b) for c, _, b in pairs])[:, 1]
    out["hh"] = {"n": len(pairs), "reward_accuracy": float(np.mean(rc > rr) + 0.5 * np.mean(rc == rr)),
                 "acceptability_accuracy": float(np.mean(pc < pr) + 0.5 * np.mean(pc == pr))}
    ordinary = _data.ordinary_instructions(data)
    ov = gate.check_many([Case(action=t) for t in ordinary], record=False)
    out["ordinary"] = {"n": len(ordinary), "gate_flagged": float(np.mean([v.decision != "allow" for v in ov])),
                       "model_flagged": float((model.predict_proba([("", t) for t in ordinary])[:, 1] >= 0.5).mean())}
    out["lone"] = {}
    for name, texts in (("llmbar", _data.llmbar_instructions(data)), ("malicious_instruct", _data.malicious_instruct(data)),
                        ("do_not_answer", _data.do_not_answer(data))):
        lv = gate.check_many([Case(action=t) for t in texts], record=False)
        out["lone"][name] = {"n": len(texts), "flagged": int(sum(v.decision != "allow" for v in lv)),
                             "failed": int(sum(bool(v.errors) for v in lv))}
    out["ethics"] = ethics_scores(model, data) if ethics else {}
    out["priors"] = [operating_point(model, data, p) for p in (priors or [])]
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


LONE = {"llmbar": ("LLMBar instructions flagged by the gate", "should be allowed"),
        "malicious_instruct": ("MaliciousInstruct questions caught by the gate", "should be stopped"),
        "do_not_answer": ("Do-Not-Answer questions caught by the gate", "should be stopped")}


def lone_rows(lone: dict) -> list[str]:
    """Table rows for the prompts judged alone (``run``'s ``lone``)."""
    return [f"| {LONE[k][0]} ({v['n']:,}, evaluation only; {LONE[k][1]}) | {v['flagged'] / v['n']:.3f} ({v['flagged']})"
            + (f", {v['failed']} judged with an error" if v["failed"] else "") + " | |" for k, v in lone.items()]


def markdown(r: dict, command: str) -> str:
    m, x, h, o = r["moderation"], r["xstest"], r["hh"], r["ordinary"]
    lines = [
        f"Measured {dt.date.today().isoformat()} with `{command}` on {machine()}; model `{r['model']}` "
        f"(`{r['model_version']}`, prior {r['prior']}). Its training sources (from its data card): "
        + ", ".join(r["trained_on"]) + "; none of the sets below, apart from ETHICS train splits as unlabelled "
        "acceptable text.",
        "",
        f"| benchmark | {r['model']} | anchor |",
        "|---|---|---|",
        f"| OpenAI moderation, AUPRC (any category; {m['n']} texts, {m['positives']} positive, base rate {m['base_rate']:.2f}) "
        f"| **{m['auprc']:.3f}** | {ANCHORS['moderation_auprc']} |",
        f"| XSTest prompts, gate (flagged = decision ≠ allow): F1 on unsafe / FPR on the 250 safe "
        f"| **{x['gate_f1']:.3f} / {x['gate_fpr']:.3f}** (recall {x['gate_recall']:.3f}) | {ANCHORS['xstest']} |",
        f"| XSTest prompts, model at P(unacceptable) ≥ 0.5: F1 / FPR | {x['model_f1']:.3f} / {x['model_fpr']:.3f} "
        f"(recall {x['model_recall']:.3f}) | |",
        f"| XSTest prompts, AUPRC of P(unacceptable) | {x['auprc']:.3f} | |",
        f"| HH-RLHF harmless-base test, pairwise accuracy of `reward` ({h['n']} pairs) | **{h['reward_accuracy'] * 100:.2f}%** "
        f"| {ANCHORS['hh']} |",
        f"| HH-RLHF, pairwise accuracy of P(unacceptable) (lower wins) | {h['acceptability_accuracy'] * 100:.2f}% | |",
        f"| Ordinary instructions flagged by the gate ({o['n']:,} Alpaca instructions, evaluation only) | {o['gate_flagged']:.3f} "
        f"(model ≥ 0.5: {o['model_flagged']:.3f}) | |",
        *lone_rows(r["lone"]),
        "",
        "XSTest gate decisions: " + ", ".join(f"{k} {v}" for k, v in x["decisions"].items()) + ". "
        "False-positive rate on safe prompts by XSTest type: " + ", ".join(f"{k} {v:.2f}" for k, v in x["fpr_by_type"].items()) + ".",
    ]
    e = r["ethics"]
    lines += [] if not e else ["", "ETHICS, zero-shot (never trained on a labelled ETHICS example; the mapping of each task is in "
              "`bench/quality.py`), test / hard-test accuracy in %; justice, deontology and virtue as grouped "
              "exact match, the paper's metric:", "",
              f"| ETHICS task | {r['model']} | per example | BERT-base fine-tuned (paper) | chance |", "|---|---|---|---|---|"]
    for task in e:
        t, hard = e[task]["test"], e[task]["test_hard"]
        main = (f"{t['grouped'] * 100:.1f} / {hard['grouped'] * 100:.1f}" if t["grouped"] is not None
                else f"{t['accuracy'] * 100:.1f} / {hard['accuracy'] * 100:.1f}")
        per = f"{t['accuracy'] * 100:.1f} / {hard['accuracy'] * 100:.1f}" if t["grouped"] is not None else ""
        lines.append(f"| {task} ({t['n']:,} / {hard['n']:,}) | **{main}** | {per} | {ETHICS_ANCHORS[task][0]} | {ETHICS_ANCHORS[task][1]} |")
    if r["priors"]:
        lines += ["", "The operating point moves with the model's `prior` (ranking metrics such as AUPRC do not):", "",
                  "| prior | XSTest gate F1 / FPR / recall | XSTest model ≥ 0.5 F1 / FPR | ordinary instructions flagged |",
                  "|---:|---|---|---:|"]
        for q in r["priors"]:
            lines.append(f"| {q['prior']} | {q['gate_f1']:.3f} / {q['gate_fpr']:.3f} / {q['gate_recall']:.3f} | "
                         f"{q['model_f1']:.3f} / {q['model_fpr']:.3f} | {q['ordinary_flagged']:.3f} |")
    return "\n".join(lines)


def datacard(r: dict, command: str) -> str:
    """The headline figures for the model's own data card (the full table is in docs/benchmarks.md)."""
    m, x, h, o, e = r["moderation"], r["xstest"], r["hh"], r["ordinary"], r["ethics"]
    ethics = ", ".join(
        f"{t} {v['test']['grouped' if v['test']['grouped'] is not None else 'accuracy'] * 100:.1f} / "
        f"{v['test_hard']['grouped' if v['test_hard']['grouped'] is not None else 'accuracy'] * 100:.1f}"
        for t, v in e.items())
    return "\n".join([
        f"Measured {dt.date.today().isoformat()} with `{command}` (`{r['model_version']}`, prior {r['prior']}); "
        "none of these sets was trained on.",
        "",
        "| held-out set | this model | anchor |",
        "|---|---|---|",
        f"| OpenAI moderation, AUPRC | {m['auprc']:.3f} | {ANCHORS['moderation_auprc']} |",
        f"| XSTest prompts, gate F1 / FPR on safe | {x['gate_f1']:.3f} / {x['gate_fpr']:.3f} | {ANCHORS['xstest']} |",
        f"| HH-RLHF harmless-base, pairwise accuracy of `reward` | {h['reward_accuracy'] * 100:.2f}% | {ANCHORS['hh']} |",
        f"| Ordinary instructions flagged by the gate | {o['gate_flagged']:.3f} | |",
    ] + ([f"| ETHICS test / hard test, % (grouped for justice, deontology, virtue) | {ethics} | see docs/benchmarks.md |"]
         if e else []))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None,
                    help="model directory, or 'strong' for the packaged stronger tier (default: $ACCORD_MODEL or the packaged default)")
    ap.add_argument("--no-ethics", action="store_true", help="skip ETHICS (about 40,000 texts: long for the MiniLM tier)")
    ap.add_argument("--data", type=Path, default=_data.DEFAULT_DATA)
    ap.add_argument("--priors", default="", help="comma-separated priors to show the operating point at (e.g. 0.5,0.3,0.2,0.1)")
    ap.add_argument("--write", action="store_true", help="rewrite the quality section of docs/benchmarks.md")
    args = ap.parse_args(argv)
    priors = [float(x) for x in args.priors.split(",") if x.strip()]
    r = run(args.model, args.data, priors, ethics=not args.no_ethics)
    command = ("python bench/quality.py" + (f" --model {args.model}" if args.model else "")
               + (f" --priors {args.priors}" if priors else "") + (" --no-ethics" if args.no_ethics else "")
               + (" --write" if args.write else ""))
    m, x, h = r["moderation"], r["xstest"], r["hh"]
    print(f"model {r['model']} ({r['model_version']}, prior {r['prior']}), {r['seconds']}s")
    print(f"OpenAI moderation AUPRC        {m['auprc']:.3f}   (anchors: {ANCHORS['moderation_auprc']})")
    print(f"XSTest gate F1 / FPR           {x['gate_f1']:.3f} / {x['gate_fpr']:.3f}   recall {x['gate_recall']:.3f}   (anchor: {ANCHORS['xstest']})")
    print(f"XSTest model@0.5 F1 / FPR      {x['model_f1']:.3f} / {x['model_fpr']:.3f}   recall {x['model_recall']:.3f}")
    print(f"XSTest AUPRC                   {x['auprc']:.3f}")
    print(f"XSTest gate decisions          {x['decisions']}")
    print(f"XSTest FPR by type             {x['fpr_by_type']}")
    print(f"HH-RLHF reward pairwise        {h['reward_accuracy'] * 100:.2f}%   (anchor: {ANCHORS['hh']})")
    print(f"HH-RLHF acceptability pairwise {h['acceptability_accuracy'] * 100:.2f}%")
    print(f"ordinary instructions flagged  gate {r['ordinary']['gate_flagged']:.3f}   model@0.5 {r['ordinary']['model_flagged']:.3f}   "
          f"(n={r['ordinary']['n']}, Alpaca harmless_test, evaluation only)")
    for k, v in r["lone"].items():
        print(f"{LONE[k][0].lower():<46} {v['flagged']} of {v['n']} ({v['flagged'] / v['n']:.3f}; {LONE[k][1]})"
              + (f", {v['failed']} with an error" if v["failed"] else ""))
    for task, v in r["ethics"].items():
        t, hard = v["test"], v["test_hard"]
        g = f"   grouped {t['grouped'] * 100:.1f} / {hard['grouped'] * 100:.1f}" if t["grouped"] is not None else ""
        print(f"ETHICS {task:<15} accuracy {t['accuracy'] * 100:.1f} / {hard['accuracy'] * 100:.1f}{g}   "
              f"(BERT-base: {ETHICS_ANCHORS[task][0]}, chance {ETHICS_ANCHORS[task][1]})")
    for q in r["priors"]:
        print(f"  prior {q['prior']:<4}  XSTest gate F1/FPR/recall {q['gate_f1']:.3f}/{q['gate_fpr']:.3f}/{q['gate_recall']:.3f}   "
              f"model@0.5 F1/FPR {q['model_f1']:.3f}/{q['model_fpr']:.3f}   ordinary flagged {q['ordinary_flagged']:.3f}")
    if args.write:
        from accord.learning.models import default_model_dir, strong_model_dir

        # one section per packaged model; their data cards carry the headline figures too
        packaged = {None: ("quality", default_model_dir()), "strong": ("quality-strong", strong_model_dir())}
        section, folder = packaged.get(args.model, (f"quality-{r['model']}", None))
        write_section(section, markdown(r, command))
        if folder is not None:
            write_section("benchmarks", datacard(r, command), doc=folder / "DATACARD.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
