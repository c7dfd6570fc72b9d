"""Saving and loading the value model: ``model.json`` + ``arrays.npz`` + ``precedents.jsonl``, never pickle.

The files are reproducible: with ``$SOURCE_DATE_EPOCH`` set, the same model gives the same bytes
(the ``.npz`` entries carry a fixed time stamp). A model whose weights hold NaN or infinities is
refused when loaded (it would fail open). Format 1 (precedents keyed by the joint text's
embedding) is re-keyed from its stored texts when loaded.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from accord.errors import ModelError
from accord.learning.value_fitting import ValueFitting, now_iso
from accord.learning.value_memory import MemoryItem

#: format 2 keys the precedent memory by ``e(a) + KEY_CONTEXT_WEIGHT * e(c)``; format 1 keyed it by
#: the joint text's embedding and is re-keyed from its stored texts when loaded
FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)


def write_model(m: ValueFitting, directory: str | Path, *, name: str | None = None) -> Path:
    """Write a fitted model's three files into ``directory`` (each replaced atomically)."""
    m._check_fitted()
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    meta = {
        "format_version": FORMAT_VERSION,
        "kind": "accord.ValueModel",
        "name": name or m.card_.get("name") or d.name,
        "version": m.version,
        "created": now_iso(),
        "params": {k: getattr(m, k) for k in ("encoder", "lam", "reward_lam", "memory_size", "knn_k",
                                               "knn_floor", "knn_max_weight", "human_floor", "lexical", "lexical_scale",
                                               "prior", "random_state")},
        "principles": m.principles,
        "intercept": m.intercept_,
        "calibration": list(m.calibration_),
        "card": m.card_,
    }
    tmp = d / ".arrays.tmp.npz"
    _savez(tmp, coef=m.coef_, principle_coef=_half_if_exact(m.principle_coef_),
           principle_intercept=m.principle_intercept_, reward_coef=m.reward_coef_,
           memory_emb=m.memory_emb_)
    tmp.replace(d / "arrays.npz")
    with open(d / "precedents.jsonl.tmp", "w", encoding="utf-8") as f:
        for it in m.memory_:
            f.write(json.dumps(it.__dict__, ensure_ascii=False) + "\n")
    (d / "precedents.jsonl.tmp").replace(d / "precedents.jsonl")
    (d / "model.json.tmp").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    (d / "model.json.tmp").replace(d / "model.json")
    return d


def read_model(d: Path) -> tuple[dict[str, Any], Any, list[str]]:
    """A model directory's metadata, arrays and precedent lines; a clear :class:`ModelError` when they are missing or unreadable."""
    try:
        meta = json.loads((d / "model.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{d}: not a model directory (no model.json)", hint="train one with `accord learn`") from None
    except json.JSONDecodeError as e:
        raise ModelError(f"{d / 'model.json'}: invalid JSON at line {e.lineno}") from None
    if meta.get("format_version") not in READABLE_FORMATS or meta.get("kind") != "accord.ValueModel":
        raise ModelError(f"{d}: unsupported model format {meta.get('kind')!r} v{meta.get('format_version')}")
    try:
        arrays = np.load(d / "arrays.npz", allow_pickle=False)
        lines = (d / "precedents.jsonl").read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError) as e:
        raise ModelError(f"{d}: incomplete model directory: {e}") from None
    return meta, arrays, lines


def model_params(meta: dict[str, Any]) -> dict[str, Any]:
    """The constructor's keyword arguments saved in ``model.json``."""
    params = dict(meta["params"])
    params.setdefault("lexical", 0)  # written before the lexical block existed
    return params


def restore(d: Path, m: ValueFitting, meta: dict[str, Any], arrays: Any, lines: list[str]) -> None:
    """Fill a freshly constructed model with the learned state :func:`read_model` read from ``d``."""
    m.coef_ = arrays["coef"].astype(np.float32)
    m.intercept_ = float(meta["intercept"])
    m.calibration_ = tuple(meta["calibration"])
    m.principle_coef_ = arrays["principle_coef"].astype(np.float32)
    m.principle_intercept_ = arrays["principle_intercept"].astype(np.float32)
    m.reward_coef_ = arrays["reward_coef"].astype(np.float32)
    m.memory_emb_ = arrays["memory_emb"]
    m.memory_ = [MemoryItem(**json.loads(x)) for x in lines if x.strip()]
    m.n_features_in_ = m.coef_.shape[0]
    _check_finite(d, m)
    m._reset_caches()
    if meta["format_version"] < 2 and m.memory_:  # joint-text keys: re-key from the stored texts
        m.memory_emb_ = m._joint([(it.context, it.action) for it in m.memory_]).astype(np.float16)
        m._reset_caches()
    m.card_ = meta.get("card", {})
    m.card_["name"] = meta.get("name")

def _check_finite(d: Path, m: ValueFitting) -> None:
    """Refuse a model whose weights hold NaN or infinities: NaN compares false with every threshold,
    so such a model would read every case as "no concern" (fail open)."""
    for name, value, where in (("intercept", m.intercept_, "model.json"), ("calibration", m.calibration_, "model.json"),
                               ("coef", m.coef_, "arrays.npz"), ("principle_coef", m.principle_coef_, "arrays.npz"),
                               ("principle_intercept", m.principle_intercept_, "arrays.npz"),
                               ("reward_coef", m.reward_coef_, "arrays.npz"), ("memory_emb", m.memory_emb_, "arrays.npz")):
        try:
            ok = bool(np.isfinite(np.asarray(value, dtype=np.float64)).all())
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ModelError(f"{d / where}: {name!r} holds NaN, infinite or non-numeric values; the model cannot be used",
                             hint="retrain it (`accord learn`) or restore the file")


def _savez(path: Path, **arrays: np.ndarray) -> None:
    """``np.savez_compressed`` with fixed entry time stamps, so equal arrays give equal bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())


def _half_if_exact(a: np.ndarray) -> np.ndarray:
    """``a`` as float16 when that loses nothing (weights rounded at fit time), else unchanged."""
    h = a.astype(np.float16)
    return h if np.array_equal(h.astype(a.dtype), a) else a
