#!/usr/bin/env python
"""The learning curve: how well the judge agrees with people after N of their labels.

    python bench/learning_curve.py                       # both tiers, 5 seeds (~8 min on 2 busy cores;
                                                         # the first run adds ~4 min of MiniLM embedding)
    python bench/learning_curve.py --tiers default --seeds 2
    python bench/learning_curve.py --data ../shared/data --out docs

Simulated reviewers: the OpenAI moderation evaluation set (1,680 human-labelled texts; any
flagged category = unacceptable; ``Case(context="", action=text)``). For every seed the texts are
split once into a fixed **test** set (580 texts, never labelled, never selected) and a **pool**
(1,100 texts) that reviewers label from. For N = 0, 100, 200, 500, 1,000 labels from the pool the
judge is trained with accord's own learning path, ``learn(labels, charter, base=<tier's base
model>, holdout=0)`` (it builds on the base model with ``partial_fit``), and scored by AUPRC of
P(unacceptable) on the test set. Two ways of choosing what people label:

* **random**: N pool texts at random;
* **uncertainty**: in rounds (retraining at 100, 200, 350, 500, 750 and 1,000 labels), the pool
  texts whose current P(unacceptable) is nearest 0.5, retraining (from the base, on every label
  so far) after each round.

A fixed test set (rather than "all texts not labelled") keeps the two strategies comparable:
uncertainty selection takes the hard cases out of the pool, so the rest is easier than the
whole. The AUPRC on the rest is recorded too (``rest`` in the JSON) for comparison with numbers
reported that way.

Tiers:

* ``default``: the packaged default value model (``load_model(None)``: wordllama features).
* ``minilm``: a ``ValueModel(encoder="minilm")`` base trained here on a cheap, permissively
  licensed mixture (the default charter's examples; AdvBench, StrongREJECT and HarmBench harmful
  behaviours; Davidson tweets; ToxiGen seed statements; CoCoNot contrast prompts), none of which
  is the OpenAI set.
* ``strong``: the packaged stronger tier (``load_model(strong_model_dir())``: accord's fine-tuned
  MiniLM, ``minilm-accord``), trained on the default model's mixture.
* ``minilm-scratch`` (optional): no base; the charter's examples plus the N labels only.

Anchors (zero-shot, published): Llama Guard 1 0.847, OpenAI moderation API 0.856 AUPRC.
Embeddings are cached on disk (``$ACCORD_BENCH_CACHE``, default ``~/.cache/accord/bench``).

Writes ``docs/learning-curve.png``, ``docs/learning-curve.md`` and ``docs/learning-curve.json``.
"""

from __future__ import annotations

import argparse
import csv
import glob
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _data

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
ANCHORS = {"Llama Guard 1 (zero-shot)": 0.847, "OpenAI moderation API": 0.856}
TARGETS = {200: 0.80, 1000: 0.85}
NS = (0, 100, 200, 500, 1000)
TEST_SIZE = 580
#: uncertainty selection retrains after each of these label counts (rounds of 100, then 150 and 250)
SCHEDULE = (100, 200, 350, 500, 750, 1000)


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def cheap_mixture(data: Path, seed: int = 0) -> tuple[list[str], list[int], list[str]]:
    """A small permissively licensed training mixture for the MiniLM base (texts, y, sources).

    Never touches the OpenAI moderation set; texts that also occur in it are dropped.
    """
    rng = np.random.default_rng(seed)
    out: list[tuple[str, int, str]] = []
    for r in _csv(data / "advbench/harmful_behaviors.csv"):
        out.append((r["goal"], 1, "advbench"))
    for r in _csv(data / "strongreject/strongreject_dataset.csv"):
        out.append((r["forbidden_prompt"], 1, "strongreject"))
    for r in _csv(data / "harmbench/harmbench_behaviors_text_all.csv"):
        if r["FunctionalCategory"] == "standard":
            out.append((r["Behavior"], 1, "harmbench"))
    by: dict[str, list[str]] = {"0": [], "1": [], "2": []}
    for r in _csv(data / "davidson-hate-offensive/labeled_data.csv"):
        t = re.sub(r"@\w+:?", "@user", r["tweet"]).replace("&amp;", "&").replace("RT ", "").strip()
        by[r["class"]].append(re.sub(r"https?://\S+", "", t).strip())
    for cls, n, lab in (("0", 700, 1), ("1", 700, 1), ("2", 1400, 0)):
        for i in rng.permutation(len(by[cls]))[:n]:
            out.append((by[cls][i], lab, "davidson"))
    tox: dict[int, list[str]] = {0: [], 1: []}
    for f in sorted(glob.glob(str(data / "toxigen/demonstrations/**/*.txt"), recursive=True)):
        lab = int(Path(f).name.startswith("hate"))
        tox[lab] += [ln.strip().lstrip("-").strip() for ln in Path(f).read_text(encoding="utf-8").splitlines() if ln.strip()]
    for lab, items in tox.items():
        for t in dict.fromkeys(items):
            out.append((t, lab, "toxigen"))
    with open(data / "coconot/coconot_contrast_eval.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                out.append((json.loads(line)["prompt"], 0, "coconot"))
    held, _ = _data.moderation(data)
    banned = {" ".join(t.lower().split()) for t in held}
    seen: set[str] = set()
    texts, y, src = [], [], []
    for t, lab, s in out:
        k = " ".join(t.lower().split())
        if t and k not in banned and k not in seen:
            seen.add(k)
            texts.append(t)
            y.append(lab)
            src.append(s)
    return texts, y, src


# ---------------------------------------------------------------------------------------------
# embeddings cached on disk
# ---------------------------------------------------------------------------------------------
class DiskCachedEncoder:
    """Wraps an encoder with a persistent ``{text hash: vector}`` store (one ``.npz`` per encoder)."""

    def __init__(self, inner: Any, path: Path) -> None:
        self.inner, self.name, self.dim, self.path = inner, inner.name, inner.dim, path
        self._store: dict[bytes, np.ndarray] = {}
        self._dirty = False
        if path.exists():
            z = np.load(path, allow_pickle=False)
            self._store = {bytes(k): v for k, v in zip(z["keys"], z["vecs"], strict=True)}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        keys = [hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=16).digest() for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._store))
        if missing:
            first = {k: i for i, k in reversed(list(enumerate(keys)))}
            vecs = self.inner.encode([texts[first[k]] for k in missing])
            self._store.update(zip(missing, vecs, strict=True))
            self._dirty = True
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._store[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self._store)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(keys, dtype="S16"), vecs=np.stack([self._store[k] for k in keys]).astype(np.float32))
        tmp.replace(self.path)
        self._dirty = False


# ---------------------------------------------------------------------------------------------
# the experiment
# ---------------------------------------------------------------------------------------------
def auprc(y: np.ndarray, p: np.ndarray) -> float:
    return float(average_precision_score(y, p))


def run_tier(name: str, base_factory: Callable[[], Any], texts: list[str], y: np.ndarray, charter: Any,
             seeds: Sequence[int], ns: Sequence[int], from_scratch: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    """AUPRC on the fixed test set for every (strategy, N, seed), plus the AUPRC on the rest."""
    from accord.learning.trainer import learn
    from accord.types import Label

    def labels(idx: Sequence[int]) -> list[Label]:
        return [Label(context="", action=texts[i], verdict="unacceptable" if y[i] else "acceptable", source="reviewer")
                for i in idx]

    def train(idx: Sequence[int], seed: int) -> Any:
        return learn(labels(idx), charter, base=None if from_scratch else base, from_scratch=from_scratch,
                     holdout=0, random_state=seed).model

    def score(model: Any, idx: np.ndarray) -> np.ndarray:
        return model.predict_proba([texts[i] for i in idx])[:, 1]

    base = base_factory()
    all_idx = np.arange(len(texts))
    res: dict[str, Any] = {"test": {"random": {}, "uncertainty": {}}, "rest": {"random": {}, "uncertainty": {}}}
    for strat in ("random", "uncertainty"):
        for n in ns:
            res["test"][strat][n] = []
            res["rest"][strat][n] = []
    t_tier = time.perf_counter()
    for seed in seeds:
        rng = np.random.default_rng(1000 + seed)
        perm = rng.permutation(len(texts))
        test, pool = perm[:TEST_SIZE], perm[TEST_SIZE:]
        # N = 0: the base model as shipped (or charter examples only, from scratch)
        m0 = train([], seed) if from_scratch else base
        a0 = auprc(y[test], score(m0, test))
        for strat in ("random", "uncertainty"):
            res["test"][strat][0].append(a0)
            res["rest"][strat][0].append(auprc(y, score(m0, all_idx)))
        # random
        order = rng.permutation(pool)
        for n in ns:
            if n == 0:
                continue
            chosen = order[:n]
            m = train(chosen.tolist(), seed)
            rest = np.setdiff1d(all_idx, chosen)
            res["test"]["random"][n].append(auprc(y[test], score(m, test)))
            res["rest"]["random"][n].append(auprc(y[rest], score(m, rest)))
        # uncertainty, in rounds: label the pool texts nearest 0.5, retrain, repeat
        chosen_list: list[int] = []
        current = m0
        wanted = {n for n in ns if n > 0}
        for upto in sorted(wanted | {k for k in SCHEDULE if k <= max(wanted, default=0)}):
            cand = np.setdiff1d(pool, np.asarray(chosen_list, dtype=np.int64))
            p = score(current, cand)
            pick = cand[np.argsort(np.abs(p - 0.5), kind="stable")[:upto - len(chosen_list)]]
            chosen_list += pick.tolist()
            current = train(chosen_list, seed)
            if upto in wanted:
                rest = np.setdiff1d(all_idx, np.asarray(chosen_list))
                res["test"]["uncertainty"][upto].append(auprc(y[test], score(current, test)))
                res["rest"]["uncertainty"][upto].append(auprc(y[rest], score(current, rest)))
        line = "  ".join(f"N={n}: r {res['test']['random'][n][-1]:.3f} u {res['test']['uncertainty'][n][-1]:.3f}" for n in ns)
        log(f"[{name}] seed {seed} ({time.perf_counter() - t_tier:.0f}s)  {line}")
    res["seconds"] = round(time.perf_counter() - t_tier, 1)
    return res


def probes(texts: list[str], y: np.ndarray, seeds: Sequence[int], ns: Sequence[int],
           feats: dict[str, np.ndarray]) -> dict[str, dict[int, list[float]]]:
    """The features' ceiling without accord's model: scikit-learn logistic regression from scratch on
    frozen embeddings of the N random labels (same splits and same random picks as ``run_tier``)."""
    from sklearn.linear_model import LogisticRegression

    out: dict[str, dict[int, list[float]]] = {k: {n: [] for n in ns if n > 0} for k in feats}
    for seed in seeds:
        rng = np.random.default_rng(1000 + seed)
        perm = rng.permutation(len(texts))
        test, pool = perm[:TEST_SIZE], perm[TEST_SIZE:]
        order = rng.permutation(pool)
        for n in ns:
            if n == 0:
                continue
            tr = order[:n]
            for k, X in feats.items():
                clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=3000).fit(X[tr], y[tr])
                out[k][n].append(auprc(y[test], clf.decision_function(X[test])))
    return out


def summary(vals: Sequence[float]) -> tuple[float, float]:
    a = np.asarray(vals, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


# ---------------------------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------------------------
def write_markdown(path: Path, results: dict[str, Any], meta: dict[str, Any], ns: Sequence[int]) -> str:
    lines = [
        "# Learning curve: agreement with people after N of their labels",
        "",
        "Regenerate with `python bench/learning_curve.py` (writes this page, `learning-curve.png` and",
        "`learning-curve.json`). Simulated reviewers: the OpenAI moderation evaluation set (1,680",
        "human-labelled texts, any flagged category = unacceptable). Per seed, a fixed test set of",
        f"{TEST_SIZE} texts is never labelled; labels come from the other {meta['n_texts'] - TEST_SIZE:,}. The judge learns",
        "through accord's own path, `learn(labels, charter, base=..., holdout=0)` (building on the base",
        "model); the metric is AUPRC of P(unacceptable) on the test set, mean ± sd over",
        f"{len(meta['seeds'])} seeds. *uncertainty*: rounds (retraining at N = {', '.join(map(str, SCHEDULE))}), each labelling the pool texts whose current",
        "P(unacceptable) is nearest 0.5; *random*: N texts at random.",
        "",
        "Anchors (zero-shot, never trained on this set): " + ", ".join(f"{k} {v:.3f}" for k, v in ANCHORS.items()) + ".",
        "Targets (issue 6): ≥ 0.80 with 200 labels, ≥ 0.85 with 1,000, uncertainty above random.",
        "",
        "![learning curve](learning-curve.png)",
        "",
    ]
    for tier, res in results.items():
        lines += [f"## {meta['tiers'][tier]['title']}", "", meta["tiers"][tier]["about"], "",
                  "| labels N | uncertainty | random | uncertainty − random |", "|---:|---:|---:|---:|"]
        for n in ns:
            mu, su = summary(res["test"]["uncertainty"][n])
            mr, sr = summary(res["test"]["random"][n])
            d = np.asarray(res["test"]["uncertainty"][n]) - np.asarray(res["test"]["random"][n])
            lines.append(f"| {n:,} | {mu:.3f} ± {su:.3f} | {mr:.3f} ± {sr:.3f} | {d.mean():+.3f} |")
        d_all = [u - r for n in ns if n > 0
                 for u, r in zip(res["test"]["uncertainty"][n], res["test"]["random"][n], strict=True)]
        if d_all:
            wins = sum(d > 0 for d in d_all)
            lines += ["", f"Uncertainty beats random in {wins} of {len(d_all)} (seed, N > 0) runs; mean difference "
                          f"{np.mean(d_all):+.3f} AUPRC."]
        hits = []
        for n, target in TARGETS.items():
            if n in ns:
                best = max(summary(res["test"][s][n])[0] for s in ("uncertainty", "random"))
                hits.append(f"{n:,} labels: best {best:.3f} vs target {target:.2f} → {'met' if best >= target else 'not met'}")
        lines += ["", "Targets: " + "; ".join(hits) + f". Run time {res['seconds']:.0f} s.", ""]
        chance = meta["positives"] / meta["n_texts"]
        below = [n for n in ns if summary(res["test"]["random"][n])[0] < chance]
        if below:
            cal = meta["tiers"][tier].get("calibration")
            why = (f" The base model's Platt calibration slope is {cal[0]:.2f}: a negative slope makes "
                   "`predict_proba` rank cases in reverse, and `learn(base=...)` (`partial_fit`) keeps the "
                   "base's calibration." if cal and cal[0] <= 0 else "")
            lines += [f"**Below chance** ({chance:.2f}) at N = {', '.join(map(str, below))}: the model ranks "
                      f"unacceptable texts *lower* than acceptable ones.{why}", ""]
    if meta.get("probes"):
        pr = meta["probes"]
        lines += ["## Ceiling of the features (no accord model)", "",
                  "Logistic regression (scikit-learn, C = 1, balanced) trained from scratch on the frozen embeddings of",
                  "the same N random labels, same test sets: what a linear probe on these features reaches at all.", "",
                  "| labels N | " + " | ".join(pr) + " |", "|---:|" + "---:|" * len(pr)]
        for n in ns:
            if n == 0:
                continue
            cells = [f"{summary(pr[k][n])[0]:.3f} ± {summary(pr[k][n])[1]:.3f}" for k in pr]
            lines.append(f"| {n:,} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "## Notes",
        "",
        "- AUPRC on *the rest* (every text not labelled, as some published curves report it) is in",
        "  `learning-curve.json` under `rest`; for uncertainty selection it is biased upwards, since",
        "  the hard cases were taken out of the rest.",
        "- Run times are with embeddings cached on disk; the first run spends ~4 minutes embedding the",
        "  MiniLM base mixture and the 1,680 texts (numpy MiniLM, one thread).",
        f"- Machine: {meta['machine']}, shared with other work. Python {meta['python']}. Started {meta['started']}.",
        "",
    ]
    text = "\n".join(lines)
    path.write_text(text, encoding="utf-8")
    return text


def plot(path: Path, results: dict[str, Any], meta: dict[str, Any], ns: Sequence[int]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5.6), dpi=120)
    colours = {"default": "#1f77b4", "minilm": "#d62728", "minilm-scratch": "#9467bd", "strong": "#2ca02c"}
    for tier, res in results.items():
        c = colours.get(tier, "#333333")
        for strat, style in (("uncertainty", "-"), ("random", "--")):
            mu = np.array([summary(res["test"][strat][n])[0] for n in ns])
            sd = np.array([summary(res["test"][strat][n])[1] for n in ns])
            ax.plot(ns, mu, style, color=c, marker="o" if strat == "uncertainty" else "s", ms=4,
                    label=f"{meta['tiers'][tier]['short']}: {strat}")
            ax.fill_between(ns, mu - sd, mu + sd, color=c, alpha=0.10 if strat == "uncertainty" else 0.05)
    for (label, v), ls, va in zip(sorted(ANCHORS.items(), key=lambda kv: kv[1]), (":", "-."), ("top", "bottom"), strict=True):
        ax.axhline(v, color="#555555", ls=ls, lw=1)
        ax.text(ns[0], v + (0.006 if va == "bottom" else -0.006), f"{label} {v:.3f}", ha="left", va=va,
                fontsize=8, color="#333333")
    chance = meta["positives"] / meta["n_texts"]
    ax.axhline(chance, color="#999999", ls="-", lw=0.8)
    ax.text(ns[0], chance - 0.006, f"chance (share unacceptable) {chance:.2f}", ha="left", va="top", fontsize=8, color="#666666")
    for n, t in TARGETS.items():
        ax.plot([n], [t], marker="*", color="#000000", ms=11, ls="none")
    ax.plot([], [], marker="*", color="#000000", ls="none", label="issue-6 targets")
    ax.set_xlabel("labels from the target distribution (N)")
    ax.set_ylabel(f"AUPRC on {TEST_SIZE} held-out texts")
    ax.set_title("OpenAI moderation set: agreement with people after N labels")
    ax.set_xticks(list(ns))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--tiers", default="default,minilm,strong", help="comma-separated: default, minilm, strong, minilm-scratch")
    ap.add_argument("--threads", type=int, default=None, help="BLAS threads for MiniLM (default: leave as is)")
    ap.add_argument("--model", type=Path, default=None, help="base model directory for the default tier (default: the packaged one)")
    ap.add_argument("--render-only", action="store_true", help="redraw the page and plot from learning-curve.json")
    args = ap.parse_args(argv)
    if args.render_only:
        saved = json.loads((args.out / "learning-curve.json").read_text(encoding="utf-8"))
        res_ = {t: {**r, **{k: {s_: {int(n): v for n, v in d.items()} for s_, d in r[k].items()} for k in ("test", "rest")}}
                for t, r in saved["results"].items()}
        meta_ = saved["meta"]
        if meta_.get("probes"):
            meta_["probes"] = {k: {int(n): v for n, v in d.items()} for k, d in meta_["probes"].items()}
        plot(args.out / "learning-curve.png", res_, meta_, NS)
        print(write_markdown(args.out / "learning-curve.md", res_, meta_, NS))
        return 0

    import datetime as dt
    import platform

    from accord.charter import load_charter
    from accord.learning import encoders as enc_mod
    from accord.learning.models import default_model_dir, load_model

    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    charter = load_charter(None)
    texts, labels = _data.moderation(args.data)
    y = np.asarray(labels, dtype=np.int64)
    seeds = list(range(args.seeds))
    tiers = [t.strip() for t in args.tiers.split(",") if t.strip()]
    cache_dir = Path(os.environ.get("ACCORD_BENCH_CACHE", Path.home() / ".cache" / "accord" / "bench"))
    cached: list[DiskCachedEncoder] = []

    def disk_cached(name: str, factory: Callable[[], Any]) -> None:
        def make() -> DiskCachedEncoder:
            e = DiskCachedEncoder(factory(), cache_dir / f"{name}.npz")
            cached.append(e)
            return e
        enc_mod.register_encoder(name, make)

    meta: dict[str, Any] = {"seeds": seeds, "n_texts": len(texts), "positives": int(y.sum()), "started": started,
                            "python": platform.python_version(), "machine": f"{os.cpu_count()} CPUs, {platform.machine()}",
                            "tiers": {}}
    results: dict[str, Any] = {}
    print(f"OpenAI moderation: {len(texts)} texts, {int(y.sum())} unacceptable; seeds {seeds}; tiers {tiers}", flush=True)
    for tier in tiers:
        t0 = time.perf_counter()
        if tier == "default":
            base = load_model(args.model)
            card = base.card_ or {}
            meta["tiers"][tier] = {
                "title": f"Default tier: the packaged value model ({base.encoder})",
                "short": f"default ({base.encoder})",
                "about": (f"Base: {'the packaged default model' if args.model is None else 'the model'} "
                          f"`{card.get('name') or (args.model or default_model_dir()).name}` "
                          f"({base.version}, encoder `{base.encoder}`, trained on "
                          f"{card.get('counts', {}).get('examples', '?')} examples; see its data card)."),
                "model": base.version, "encoder": base.encoder,
                "calibration": [float(x) for x in getattr(base, "calibration_", (1.0, 0.0))],
            }
            results[tier] = run_tier(tier, lambda b=base: b, texts, y, charter, seeds, NS)
        elif tier in ("minilm", "minilm-scratch"):
            from accord.judges.value_model import ValueModel
            from accord.learning import minilm
            from accord.learning.feedback import TrainingSet, charter_examples

            disk_cached("minilm", lambda: minilm.MiniLMEncoder(threads=args.threads))
            enc_mod._INSTANCES.pop("minilm", None)  # a fresh instance through the cached factory
            if tier == "minilm":
                mt, my, ms = cheap_mixture(args.data)
                data = TrainingSet()
                data.extend(charter_examples(charter))
                for t, lab, s in zip(mt, my, ms, strict=True):
                    data.add("", t, bool(lab), source=s)
                print(f"[minilm] base mixture: {len(mt)} texts ({sum(my)} unacceptable); embedding (cached on disk)...", flush=True)
                tb = time.perf_counter()
                base_m = ValueModel(charter.principle_ids, encoder="minilm", random_state=0).fit(
                    data.cases, data.y, **data.fit_kwargs())
                print(f"[minilm] base trained in {time.perf_counter() - tb:.0f}s", flush=True)
                for e in cached:
                    e.save()
                counts = {s: ms.count(s) for s in dict.fromkeys(ms)}
                meta["tiers"][tier] = {
                    "title": "MiniLM tier: all-MiniLM-L6-v2 features (numpy), base trained on a cheap mixture",
                    "short": "minilm",
                    "about": ("Base: `ValueModel(encoder=\"minilm\")` fitted here on the default charter's examples plus "
                              f"{len(mt):,} permissively licensed texts ("
                              + ", ".join(f"{k} {v:,}" for k, v in counts.items())
                              + "); never on the OpenAI set."),
                    "model": base_m.version, "encoder": "minilm", "mixture": counts,
                "calibration": [float(x) for x in getattr(base_m, "calibration_", (1.0, 0.0))],
                }
                results[tier] = run_tier(tier, lambda b=base_m: b, texts, y, charter, seeds, NS)
            else:
                meta["tiers"][tier] = {
                    "title": "MiniLM from scratch: the charter's examples plus the N labels only",
                    "short": "minilm (scratch)",
                    "about": "No base model: `learn(labels, charter, from_scratch=True)` with `encoder=\"minilm\"`.",
                    "encoder": "minilm",
                }
                results[tier] = _scratch(tier, texts, y, charter, seeds)
        elif tier == "strong":
            from accord.learning import minilm
            from accord.learning.models import strong_model_dir

            disk_cached("minilm-accord", lambda: minilm.AccordMiniLMEncoder(threads=args.threads))
            enc_mod._INSTANCES.pop("minilm-accord", None)
            base_s = load_model(strong_model_dir())
            meta["tiers"][tier] = {
                "title": "Stronger tier: the packaged `strong` model (fine-tuned MiniLM, numpy)",
                "short": "strong (minilm-accord)",
                "about": (f"Base: the packaged stronger tier `{(base_s.card_ or {}).get('name', 'accord-strong')}` "
                          f"({base_s.version}, encoder `minilm-accord`: all-MiniLM-L6-v2 with accord's LoRA adapter, "
                          "trained on the default model's mixture; see its data card). Never trained on the OpenAI set."),
                "model": base_s.version, "encoder": "minilm-accord",
                "calibration": [float(x) for x in getattr(base_s, "calibration_", (1.0, 0.0))],
            }
            results[tier] = run_tier(tier, lambda b=base_s: b, texts, y, charter, seeds, NS)
        else:
            print(f"unknown tier {tier!r}", file=sys.stderr)
            return 2
        for e in cached:
            e.save()
        print(f"[{tier}] done in {time.perf_counter() - t0:.0f}s", flush=True)

    if {"minilm", "minilm-scratch", "strong"} & set(tiers):
        t0 = time.perf_counter()
        feats = {"wordllama": np.asarray(enc_mod.get_encoder("wordllama").encode(texts), dtype=np.float32)}
        if "minilm" in tiers or "minilm-scratch" in tiers:
            feats["minilm"] = np.asarray(enc_mod.get_encoder("minilm").encode(texts), dtype=np.float32)
            feats["minilm + wordllama"] = np.hstack([feats["minilm"], feats["wordllama"]])
        if "strong" in tiers:
            feats["minilm-accord"] = np.asarray(enc_mod.get_encoder("minilm-accord").encode(texts), dtype=np.float32)
        pr = probes(texts, y, seeds, NS, feats)
        meta["probes"] = pr
        print(f"[probes] done in {time.perf_counter() - t0:.0f}s", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    plot(args.out / "learning-curve.png", results, meta, NS)
    md = write_markdown(args.out / "learning-curve.md", results, meta, NS)
    (args.out / "learning-curve.json").write_text(json.dumps({"meta": meta, "ns": list(NS), "test_size": TEST_SIZE,
                                                              "schedule": list(SCHEDULE), "anchors": ANCHORS, "results": results},
                                                             indent=1), encoding="utf-8")
    print(md)
    return 0


def _scratch(tier: str, texts: list[str], y: np.ndarray, charter: Any, seeds: Sequence[int]) -> dict[str, Any]:
    """MiniLM features, no base: every training run starts from the charter's examples."""
    from accord.learning import trainer
    from accord.learning.trainer import ValueModel as _VM

    class _MiniLMValueModel(_VM):
        def __init__(self, *a: Any, **kw: Any) -> None:
            kw["encoder"] = "minilm"
            super().__init__(*a, **kw)

    orig = trainer.ValueModel
    trainer.ValueModel = _MiniLMValueModel  # type: ignore[misc]
    try:
        return run_tier(tier, lambda: None, texts, y, charter, seeds, NS, from_scratch=True)
    finally:
        trainer.ValueModel = orig  # type: ignore[misc]


if __name__ == "__main__":
    sys.exit(main())
