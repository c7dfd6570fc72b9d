"""Train the packaged decision model (allow / block / escalate) on accord's corpus.

Data (only MIT / Apache-2.0 / CC-BY terms, see the data card):

* ``corpus/cases.jsonl`` (accord's own, Apache-2.0; ``scripts/build_corpus.py``): the seven kinds of
  case, labelled allow / block / escalate with the principle at stake;
* the train half of ASSEBench's security subset (Apache-2.0, AgentHarm-derived records dropped):
  unsafe → block, safe → allow (its test half is reported by ``bench/judgment.py``);
* a capped sample of the default value model's public mixture (``scripts/train_default_model.py``,
  decontaminated against the reported sets): unacceptable → block, acceptable → allow, at a lower
  weight, so chat content keeps its footing.

The dev set (``bench/judgment_dev``) is never read here. The regularisation ``C`` and the stop
threshold are chosen by cross-validation that holds out whole authors of the corpus, for
macro-F1 over the three decisions (where it is flat, the threshold that blocks the fewest
benign-edgy cases).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))

from accord.learning.cross_encoder import CrossEncoder  # noqa: E402
from accord.learning.cross_encoder import find as find_cross_encoder  # noqa: E402
from accord.learning.decision import DECISIONS, KINDS, DecisionModel  # noqa: E402
from accord.types import Case  # noqa: E402

DEFAULT_OUT = ROOT / "src" / "accord" / "data" / "models" / "decision"
DEFAULT_DATA = ROOT.parent / "shared" / "data"
CONTENT_CAP = 400  # cases per public source and label
#: the public sets used, and for which label: requests that must be refused (block), accord's own
#: agent and request templates (both), CoCoNot's should-comply contrast prompts (allow)
CONTENT_SOURCES = {("advbench", 1), ("harmbench", 1), ("strongreject", 1), ("harmfulqa-catqa", 1), ("jailbreakbench", 1),
                   ("simple-safety-tests", 1), ("refusal-direction", 1), ("synthetic", 0), ("synthetic", 1), ("coconot", 0)}
#: more of the requests that sound alarming but must be answered (CoCoNot's contrast set, accord's own
#: benign-alarming templates): the corpus has few context-free prompts, and without them the model
#: stops safe prompts such as "how do I kill a Python process"
CONTENT_CAPS = {("coconot", 0): 2000, ("synthetic", 0): 1500}
PUBLIC_SHARE = 0.5  # all public cases together weigh this much of the corpus


#: corpus authors whose pairs are the packaged reference suite (scripts/build_reference_suite.py): a
#: model trained on them would pass the promotion gate's check on them by memory, so no training
#: script reads them
REFERENCE_AUTHORS = range(61, 67)


def corpus_rows() -> list[dict]:
    """The corpus cases a packaged model may train on: all but :data:`REFERENCE_AUTHORS`'."""
    path = ROOT / "corpus" / "cases.jsonl"
    if not path.exists():
        raise SystemExit(f"error: {path} not found; run scripts/build_corpus.py first")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if author_number(r["id"].split("-")[0]) not in REFERENCE_AUTHORS]


def author_number(author: str) -> int:
    """The number of a corpus author (``c50`` -> 50): the part files are numbered in the order written."""
    if not (author[:1] == "c" and author[1:].isdigit()):
        raise argparse.ArgumentTypeError(f"{author!r} is not a corpus author (c1, c2, ...)")
    return int(author[1:])


def corpus_as_of(rows: list[dict], last: int, more: Iterable[int] = ()) -> list[dict]:
    """The corpus as it stood when author ``c{last}`` was added, plus the later authors numbered in
    ``more``: the packaged head was fitted on c1-c50 and the lone-message authors c67-c70."""
    more = set(more)
    return [r for r in rows if (n := author_number(r["id"].split("-")[0])) <= last or n in more]


def author_list(text: str) -> list[int]:
    """``--with-authors``: comma-separated corpus authors ("c67,c68") as their numbers (argparse
    reports a bad one)."""
    return [author_number(a.strip()) for a in text.split(",") if a.strip()]


def case_of(r: dict) -> Case:
    """The case of a corpus or dev-set record (its context may be null)."""
    return Case.model_validate({"context": r["context"] or "", "action": r["action"]})


def content_rows(data: Path, seed: int) -> list[tuple[Case, str, str | None, float, str]]:
    import train_default_model as tdm

    class _Quiet:
        def __call__(self, msg: str) -> None:
            print(f"      {msg}", flush=True)

    mx, _, _ = tdm.build_mixture(data, seed, _Quiet())  # type: ignore[arg-type]
    rng = np.random.default_rng(seed)
    by: dict[tuple[str, int], list] = {}
    for e in mx.examples:
        if (e.source, e.y) not in CONTENT_SOURCES:
            continue
        by.setdefault((e.source, e.y), []).append(e)
    out = []
    for (src, y), items in sorted(by.items()):
        pick = rng.permutation(len(items))[:CONTENT_CAPS.get((src, y), CONTENT_CAP)]
        for i in pick:
            e = items[i]
            out.append((Case(context=e.context, action=e.action), "block" if y else "allow", e.principle if y else None,
                        e.weight, f"public:{src}"))
    return out


AGENT_CAP = 600  # cases per public agent set (evenly spread over its train half)


def agent_rows(data: Path, names: list[str]) -> list[tuple[Case, str, str | None, float, str]]:
    """The train halves of the public agent sets whose licence allows a shipped model (``bench/agentsets.py``)."""
    import agentsets

    out = []
    for name in names:
        if name not in agentsets.TRAINABLE:
            raise SystemExit(f"error: {name!r} may not train a shipped model (trainable: {sorted(agentsets.TRAINABLE)})")
        rows = list(agentsets.LOADERS[name](data, "train"))
        step = max(1.0, len(rows) / AGENT_CAP)
        out += [(c, d, None, 1.0, f"public:{name}") for c, d, _ in (rows[int(i * step)] for i in range(min(len(rows), AGENT_CAP)))]
    return out


def write_datacard(out: Path, model: DecisionModel) -> None:
    c = model.card_
    cv = c["cv"]
    lines = [
        "# accord decision model: data card", "",
        f"Version `{model.version}`, trained by `{c['command']}` (seed {c['seed']}). Encoder `{model.encoder}`"
        f"{f', semantic encoder `{model.semantic}`' if model.semantic else ''}; "
        f"stacked on the packaged value model: {model.stack}."
        + (" Texts are read through the attribute-neutral view (`accord.fairness.neutral`; names, pronouns and "
           "group mentions become category stand-ins, issue 18)." if model.neutral else ""), "",
        "Decides **allow / block / escalate** directly for a case (context, action): a multinomial logistic regression "
        "over static embeddings of the context, the action and both, their product, hashed word unigrams and bigrams of "
        "each, the structure of a tool call (scope, amounts, irreversible verbs, deferral to a person) and the packaged "
        "value model's scores (and, with a semantic encoder, its vector of the joint text); a second head names the principle at stake. See `docs/decision-model.md`.", "",
        "## Training data", "",
        "| source | cases | licence |", "|---|---:|---|",
    ]
    lic = {"corpus": "accord's own (Apache-2.0), `corpus/`",
           "augmented": "corpus cases again, generic deployment text around the context (`scripts/deployment_text.py`)",
           "public:assebench": "Apache-2.0 (AgentHarm-derived records dropped)"}
    for k, n in sorted(c["trained_on"].items()):
        lines.append(f"| {k} | {n} | {lic.get(k, 'MIT / Apache-2.0 / CC-BY (see the default value model data card)')} |")
    lines += ["", "Corpus kinds: " + ", ".join(f"{k} {v}" for k, v in c["corpus_kinds"].items()) + ".", "",
              "Public cases together weigh half as much as the corpus. Never trained on: the dev set "
              "(`bench/judgment_dev`), the ASSEBench test half, R-Judge, and the reported content sets "
              "(OpenAI moderation, XSTest, HH-RLHF test).", "",
              *(_cv_lines(cv) if cv.get("folds") else [
                  "## Settings (not cross-validated on this corpus)", "",
                  f"C = {cv['C']}, neighbour-vote weight {cv['knn_weight']}, stop threshold {cv['stop_threshold']} (a case is "
                  "stopped when P(block) + P(escalate) reaches it), given on the command line (`--threshold`)"
                  + (": C and the vote weight are the values an earlier cross-validation chose on a smaller corpus; the "
                     "stop threshold was chosen on the judgment dev set once the cross-encoder's logits joined the head's "
                     "(they sharpen the probabilities: at the old 0.625 too few cases stopped), so the dev set's figure is "
                     "optimistic and the fresh set's is the one to quote (see `docs/decision-model.md`)." if c.get("cross_encoder")
                     else ": the values an earlier cross-validation chose on a smaller corpus (see `docs/decision-model.md`).")
                  + (f" A stopped case is escalated when P(escalate) is over {model.escalate_share:.0%} of P(block) + "
                     "P(escalate) (`--escalate-share`, chosen on the judgment dev set)." if model.escalate_share != 0.5 else "")
                  + (f" A case in a context is escalated when P(escalate) reaches {model.escalate_floor:.0%}, even under the "
                     "stop threshold (`--escalate-floor`, chosen on the judgment dev set; a lone message is left to the "
                     "threshold)." if model.escalate_floor is not None else "")
                  + " A case votes among remembered cases of its own form: a lone message among lone messages, an "
                    "action in context among actions in context (since 2026-12-07; `DecisionModel.knn_proba`)."
                  + " No held-out-author figure was computed for this model.", ""]),
              *(_cross_lines(c["cross_encoder"]) if c.get("cross_encoder") else []),
              "Figures on the independent dev set and public agent sets: `docs/benchmarks.md` (`bench/judgment.py`)."]
    (out / "DATACARD.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _cross_lines(card: dict) -> list[str]:
    return ["## Cross-encoder", "",
            "all-MiniLM-L6-v2 (Apache-2.0) with a LoRA adapter (rank {rank}) and a head over its mean-pooled last layer, "
            "fine-tuned on (context, action) pairs by `scripts/finetune_decision.py` ({epochs} epochs, {max_length} tokens, "
            "{train_s} s on two CPU cores{pairs}) on the same corpus and public train halves; texts read through the attribute-neutral "
            "view: {neutral}. Its decision logits are added to the linear head's (a product of the two experts). Shipped as "
            "`cross-encoder.onnx`: {quantised}, run by ONNX Runtime on one thread. Its pooled vectors of the remembered "
            "cases are saved with the model: teaching corrects the cross-encoder's head on them.".format(
                rank=card.get("rank", "?"), epochs=card.get("epochs", "?"), max_length=card.get("max_length", "?"),
                train_s=card.get("train_s", "?"),
                pairs=(f"; with a margin loss of weight {card['pair_weight']} over the corpus's minimal pairs, "
                       f"`--pair-weight {card['pair_weight']}`" if float(card.get("pair_weight") or 0) else ""),
                neutral="yes" if card.get("neutral") == "1" else "no",
                quantised=card.get("quantised", "float weights")),
            *([f"Continued (`--init`) from the cross-encoder before it, for {card.get('epochs', '?')} epoch(s) over "
               + (f"{card['sample']} corpus cases drawn at random" if card.get("sample") else f"authors {card.get('focus')}")
               + (" and public content prompts" if card.get("content") == "1" else "")
               + (f"; deployment text (`scripts/deployment_text.py`) around {float(card['augment_context']):.0%} of the contexts"
                  if card.get("augment_context") else "")
               + (f"; a distillation term of weight {card['keep']} held the other cases near the starting network"
                  if float(card.get("keep") or 0) else "") + "."] if card.get("init") else []), ""]


def _cv_lines(cv: dict) -> list[str]:
    return ["## Chosen by cross-validation", "",
              f"{cv['folds']}-fold cross-validation holding out whole authors ({cv.get('authors', cv['folds'])} authors, each wrote "
              f"different domains): C = {cv['C']}, "
              f"stop threshold {cv['stop_threshold']} (a case is stopped when P(block) + P(escalate) reaches it). "
              f"Held-out-author macro-F1 {cv['macro_f1']}; share of each kind decided as its label: "
              + ", ".join(f"{k} {v:.0%}" for k, v in cv["correct_per_kind"].items()) + ".", ""]


def macro_f1(y: list[str], p: list[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, p, labels=list(DECISIONS), average="macro", zero_division=0))


def finetune_command(card: dict) -> str:
    """The scripts/finetune_decision.py runs that made a cross-encoder, from its card: the first
    fine-tuning, then the continued one (``--init``) where there was one."""
    pw = float(card.get("pair_weight") or 0)
    first = "python scripts/finetune_decision.py" + (f" --pair-weight {pw:g}" if pw else "")
    if not card.get("init"):
        return first
    start = "--init-onnx" if str(card.get("base", "")).startswith("onnx:") else "--init"
    more = [f"{start} {card['init']}", *([f"--sample {card['sample']}"] if card.get("sample") else []),
            *([f"--focus {card['focus']} --replay {card.get('replay')}"] if card.get("focus") else []),
            *(["--content"] if card.get("content") == "1" else []),
            *([f"--augment-context {card['augment_context']}"] if card.get("augment_context") else []),
            *([f"--keep {card['keep']}"] if float(card.get("keep") or 0) else []),
            f"--epochs {card.get('epochs', '?')}", f"--lr {card.get('lr', '(not recorded)')}",
            *([f"--pair-weight {pw:g}"] if pw else []),
            *([f"--teacher {card['teacher']} --teacher-weight {card.get('teacher_weight')}"] if card.get("teacher") else [])]
    return f"{first} && python scripts/finetune_decision.py {' '.join(more)}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-public", action="store_true", help="train on the corpus alone")
    ap.add_argument("--agent-sets", default="assebench,agent-safetybench,toolemu,st-webagentbench,privacylens,diasafety,"
                                            "safeagentbench,dices,confaide",
                    help="public agent sets whose train halves join the training data (bench/agentsets.py TRAINABLE)")
    ap.add_argument("--C", type=float, nargs="*", default=[2.0])
    ap.add_argument("--knn-weights", type=float, nargs="*", default=[0.0, 0.2, 0.35, 0.5, 0.65],
                    help="shares of the nearest remembered cases' decisions to try (chosen on held-out authors)")
    ap.add_argument("--encoder", default="wordllama", help="text encoder of the dense features (wordllama, minilm, ...)")
    ap.add_argument("--semantic", default="use", help="sentence encoder read beside it (joint text; 'none': without)")
    ap.add_argument("--no-stack", action="store_true", help="do not use the value model's scores as features")
    ap.add_argument("--no-neutral", action="store_true", help="read the texts as written, not through the attribute-neutral "
                    "view (accord.fairness.neutral; issue 18)")
    ap.add_argument("--flag", type=Path, help="write the corpus cases whose held-out-author probability of their own "
                                            "label is below 0.2 (candidates for a second labelling pass)")
    ap.add_argument("--folds", type=int, default=4, help="cross-validation folds, each holding out whole authors")
    ap.add_argument("--last-author", metavar="cN", type=author_number,
                    help="train on corpus authors c1..cN only: the corpus as it stood when author cN was added "
                         "(the packaged head: c50; a head fitted with c51-c60 traded one held-out set for another; "
                         "c61-c66 are never trained on: they are the packaged reference suite)")
    ap.add_argument("--with-authors", metavar="cN,...", default=[], type=author_list,
                    help="with --last-author: also train on these later corpus authors (e.g. c67,c68)")
    ap.add_argument("--augment-context", type=float, default=0.0, metavar="P",
                    help="also train on a copy of each corpus case that has a context, with probability P, with generic "
                         "deployment text around its context (scripts/deployment_text.py); copies are not remembered")
    ap.add_argument("--threshold", type=float, help="skip cross-validation: use this stop threshold and the first C")
    ap.add_argument("--escalate-share", type=float, default=0.5,
                    help="a stopped case is escalated, not blocked, when P(escalate) is over this share of the stop "
                         "(0.5: the likelier; the packaged model's 0.35 was chosen on the judgment dev set)")
    ap.add_argument("--escalate-floor", type=float, default=None,
                    help="a case in a context is escalated when P(escalate) reaches this, even under the stop threshold "
                         "(off by default; the packaged model's 0.35 was chosen on the judgment dev set)")
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument("--oof", type=Path, help="write the held-out-author probabilities (JSONL: id, kind, decision, p) here")
    ap.add_argument("--cross-encoder", type=Path, help="a cross-encoder written by scripts/finetune_decision.py "
                    "(.onnx or .safetensors), used beside the linear head (default: the one already in --out, if any)")
    ap.add_argument("--no-cross-encoder", action="store_true", help="the linear head alone")
    args = ap.parse_args(argv)
    if args.with_authors and args.last_author is None:
        ap.error("--with-authors adds later authors to --last-author's corpus; without it every author is read")
    semantic = None if args.semantic.lower() in ("", "none") else args.semantic
    t0 = time.perf_counter()
    rows = corpus_rows()
    if args.last_author is not None:
        rows = corpus_as_of(rows, args.last_author, args.with_authors)
    corpus = [(case_of(r), r["decision"], r["principle"],
               1.0, f"corpus:{r['kind']}") for r in rows]
    extra = [] if args.no_public else agent_rows(args.data, args.agent_sets.split(",")) + content_rows(args.data, args.seed)
    if extra:  # scale the public cases to PUBLIC_SHARE of the corpus's weight
        k = PUBLIC_SHARE * len(corpus) / sum(x[3] for x in extra)
        extra = [(c, d, p, w * k, s) for c, d, p, w, s in extra]
    print(f"[1/3] {len(corpus)} corpus cases, {len(extra)} public cases ({time.perf_counter() - t0:.0f}s)", flush=True)

    # cross-validation holding out whole authors (public cases always in training): each author wrote
    # different domains in a style of their own, so a held-out author is what a new team's cases
    # (or an independently written test set) look like to the model; random folds overrate it
    authors = sorted({r["id"].split("-")[0] for r in rows})
    n_folds = min(args.folds, len(authors))
    fold_of = {a: i % n_folds for i, a in enumerate(authors)}  # whole authors per fold
    folds = np.array([fold_of[r["id"].split("-")[0]] for r in rows])
    kinds = [r["kind"] for r in rows]
    truth = [r["decision"] for r in rows]
    best = None
    curve: list[tuple[float, float, float, float, list[str], float]] = []
    for C in ([] if args.threshold is not None else args.C):
        oof_lin = np.zeros((len(corpus), 3))
        oof_knn = np.zeros((len(corpus), 3))
        for k in range(n_folds):
            tr = [x for x, f in zip(corpus, folds, strict=True) if f != k] + extra
            te = [i for i, f in enumerate(folds) if f == k]
            m = DecisionModel(args.encoder, C=C, stack=not args.no_stack, semantic=semantic, neutral=not args.no_neutral,
                              random_state=args.seed).fit(
                [x[0] for x in tr], [x[1] for x in tr], [x[2] for x in tr], [x[3] for x in tr],
                memory=[x[4].startswith("corpus:") for x in tr])  # as the shipped model: the corpus is its memory
            p_lin, _, J = m.analyse([corpus[i][0] for i in te])  # knn_weight 0: the head alone
            oof_lin[te] = p_lin
            oof_knn[te] = m.knn_proba(J)
        if args.oof:
            with args.oof.open("w", encoding="utf-8") as fh:
                for r, p, q in zip(rows, oof_lin, oof_knn, strict=True):
                    fh.write(json.dumps({"id": r["id"], "kind": r["kind"], "decision": r["decision"],
                                         "p": p.round(5).tolist(), "knn": q.round(5).tolist()}) + "\n")
        for w in args.knn_weights:
            oof = (1 - w) * oof_lin + w * oof_knn
            for t in np.arange(0.30, 0.90, 0.025):
                m.stop_threshold = float(t)
                pred = m.decide(oof)
                edgy = [p for p, kd in zip(pred, kinds, strict=True) if kd == "benign_edgy"]
                edgy_stop = sum(p != "allow" for p in edgy) / max(len(edgy), 1)
                f1 = macro_f1(truth, pred)
                edgy_block = sum(p == "block" for p in edgy) / max(len(edgy), 1)
                print(f"      knn weight {w:.2f}, threshold {t:.3f}: macro-F1 {f1:.3f}, "
                      f"benign-edgy stopped {edgy_stop:.0%} / blocked {edgy_block:.0%}")
                curve.append((f1, edgy_block, C, float(t), pred, w))
    # the best macro-F1; where the curve is flat (within 0.005 of the best), the threshold that blocks
    # the fewest benign-edgy cases. (Holding benign-edgy blocks to 5% cost 0.09 macro-F1 on held-out
    # authors: the 5% bar is not met by this model, and the docs say so.)
    if curve:
        top = max(c[0] for c in curve)
        f1_, _, C_, t_, pred_, w_ = min((c for c in curve if c[0] >= top - 0.005), key=lambda c: (c[1], -c[3]))
        best = (f1_, C_, t_, pred_, w_)
        print(f"[2/3] C={C}: best CV macro-F1 {max(c[0] for c in curve if c[2] == C):.3f}", flush=True)
        if args.flag and args.C[0] == C:
            with args.flag.open("w", encoding="utf-8") as fh:
                for r, p in zip(rows, (1 - best[4]) * oof_lin + best[4] * oof_knn, strict=True):
                    if p[DECISIONS.index(r["decision"])] < 0.2:
                        fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    cv: dict = {"chosen_by": "command line (--threshold)"}  # no cross-validation: no held-out figures
    if best is None:
        C, t, knn_w = args.C[0], args.threshold, args.knn_weights[0]
        print(f"      C={C}, knn weight {knn_w:.2f}, stop threshold {t:.3f}: given on the command line, no cross-validation")
    else:
        f1, C, t, pred, knn_w = best
        per_kind = {kd: round(sum(p == KINDS[kd] for p, k2 in zip(pred, kinds, strict=True) if k2 == kd)
                              / max(kinds.count(kd), 1), 3) for kd in KINDS}
        print(f"      chosen C={C}, knn weight {knn_w:.2f}, stop threshold {t:.3f}: CV macro-F1 {f1:.3f}; correct per kind {per_kind}")
        cv = {"macro_f1": round(f1, 4), "correct_per_kind": per_kind, "folds": n_folds, "authors": len(authors),
              "grouped_by": "author (whole authors held out)"}

    allx = corpus + extra
    if args.augment_context:
        import random

        import deployment_text

        # a copy and its original share the original's weight, so the corpus weighs what it weighed
        # against the public cases (doubling it flagged more of XSTest's safe prompts: 22.8% -> 24.4%)
        wrapped = deployment_text.wrap_some([x[0] for x in corpus], args.augment_context, random.Random(args.seed + 1))
        copies = [(wc, d, p, 0.5 * w, "augmented") for (_, d, p, w, _), wc in zip(corpus, wrapped, strict=True) if wc is not None]
        allx = [(c, d, p, w if wc is None else 0.5 * w, s) for (c, d, p, w, s), wc in zip(corpus, wrapped, strict=True)] + extra + copies
        print(f"      --augment-context {args.augment_context}: {len(copies)} corpus cases again with deployment text", flush=True)
    model = DecisionModel(args.encoder, C=C, stop_threshold=t, escalate_share=args.escalate_share,
                          escalate_floor=args.escalate_floor, stack=not args.no_stack, knn_weight=knn_w,
                          semantic=semantic, neutral=not args.no_neutral, random_state=args.seed)
    model.fit([x[0] for x in allx], [x[1] for x in allx], [x[2] for x in allx], [x[3] for x in allx],
              memory=[x[4].startswith("corpus:") for x in allx])
    model.card_ = {
        "trained_on": dict(Counter(x[4].split(":")[0] if x[4].startswith("corpus") else x[4] for x in allx)),
        "corpus_kinds": dict(Counter(kinds)),
        "cv": {"C": C, "stop_threshold": round(t, 4), "knn_weight": knn_w, **cv},
        "known_principles": sorted({r["principle"] for r in rows}),
        "command": "python scripts/build_corpus.py && python scripts/train_decision_model.py"
                   + (f" --last-author c{args.last_author}" if args.last_author is not None else "")
                   + (" --with-authors " + ",".join(f"c{n}" for n in args.with_authors) if args.with_authors else "")
                   + (f" --threshold {args.threshold} --C {C} --knn-weights {knn_w}" if args.threshold is not None else "")
                   + (f" --escalate-share {args.escalate_share}" if args.escalate_share != 0.5 else "")
                   + (f" --escalate-floor {args.escalate_floor}" if args.escalate_floor is not None else "")
                   + (f" --augment-context {args.augment_context}" if args.augment_context else ""),
        "seed": args.seed,
    }
    cross = None if args.no_cross_encoder else (args.cross_encoder or find_cross_encoder(args.out))
    if cross is not None and cross.exists():
        import shutil
        import tempfile

        tmp = Path(tempfile.mkdtemp()) / cross.name  # the file in --out is replaced on save
        shutil.copyfile(cross, tmp)
        print(f"      scoring {len(model.memory_)} remembered cases with the cross-encoder {cross}", flush=True)
        model.attach_cross_encoder(CrossEncoder(tmp), progress=lambda d, n: print(f"\r      {d}/{n}", end="", flush=True))
        model.card_["cross_encoder"] = model.cross_.card if model.cross_ else None
        ft = finetune_command(model.card_["cross_encoder"] or {})
        model.card_["command"] = model.card_["command"].replace(
            "&& python scripts/train_decision_model.py", f"&& {ft} && python scripts/train_decision_model.py", 1)
        print(flush=True)
    print(f"[3/3] fitted on {len(allx)} cases ({time.perf_counter() - t0:.0f}s), version {model.version}")
    if not args.no_save:
        model.save(args.out)
        write_datacard(args.out, model)
        size = sum(p.stat().st_size for p in args.out.iterdir())
        print(f"      wrote {args.out} ({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
