"""Text encoders behind one protocol and an explicit registry.

The default, ``wordllama``, ships its 16 MB of static token embeddings inside its PyPI package
and needs no torch: it encodes tens of thousands of short texts per second on two cores.
Embeddings carry topic more than valence; the value model learns valence from labelled data
using joint features of context and action.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from accord.errors import ModelError, RegistryError


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class WordLlamaEncoder:
    """WordLlama l2_supercat (256-d static embeddings), loaded from its package, offline."""

    name = "wordllama"
    dim = 256

    def __init__(self) -> None:
        try:
            import wordllama
            from wordllama import WordLlama
        except ImportError as e:  # pragma: no cover - it is a hard dependency
            raise ModelError("the wordllama package is not installed", hint="pip install wordllama==0.4.0.post1") from e
        self._wl = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True, dim=self.dim)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        v = np.asarray(self._wl.embed(list(texts)), dtype=np.float32)
        n = np.linalg.norm(v, axis=1, keepdims=True)
        return v / np.maximum(n, 1e-9)


class CachedEncoder:
    """An LRU cache in front of an encoder, keyed by text hash (single checks repeat a lot)."""

    def __init__(self, inner: Encoder, size: int = 50_000) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        keys = [hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=16).digest() for t in texts]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: dict[bytes, list[int]] = {}
        with self._lock:
            for i, k in enumerate(keys):
                hit = self._cache.get(k)
                if hit is None:
                    missing.setdefault(k, []).append(i)
                else:
                    self._cache.move_to_end(k)
                    out[i] = hit
        if missing:
            firsts = [idx[0] for idx in missing.values()]
            vecs = self.inner.encode([texts[i] for i in firsts])
            with self._lock:
                for (k, idx), v in zip(missing.items(), vecs, strict=True):
                    out[idx] = v
                    self._cache[k] = v
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        return out


EncoderFactory = Callable[[], Encoder]
_REGISTRY: dict[str, EncoderFactory] = {"wordllama": WordLlamaEncoder}
_INSTANCES: dict[str, Encoder] = {}
_LOCK = threading.Lock()


def register_encoder(name: str, factory: EncoderFactory) -> None:
    """Register an encoder factory (plugins use the ``accord.encoders`` entry point)."""
    _REGISTRY[name] = factory


def encoder_names() -> list[str]:
    for ep in entry_points(group="accord.encoders"):
        _REGISTRY.setdefault(ep.name, ep.load())
    return sorted(_REGISTRY)


def get_encoder(name: str = "wordllama") -> Encoder:
    """A shared, cached instance of a registered encoder; an unknown name lists what exists."""
    with _LOCK:
        if name not in _INSTANCES:
            names = encoder_names()
            if name not in _REGISTRY:
                raise RegistryError(f"unknown encoder {name!r}; available: {', '.join(names)}")
            _INSTANCES[name] = CachedEncoder(_REGISTRY[name](), size=int(os.environ.get("ACCORD_ENCODER_CACHE", "50000")))
        return _INSTANCES[name]
