"""A cross-encoder over (context, action): all-MiniLM-L6-v2 fine-tuned to decide allow / block / escalate.

The decision model's linear head sees embeddings of the context and the action computed apart, plus
word counts: it cannot read *how* the action relates to the context ("cut readmissions" and "route
returning patients to observation status"). A transformer that reads both together can. This is
that transformer: MiniLM with a LoRA adapter and a linear head over its mean-pooled last layer,
trained by ``scripts/finetune_decision.py`` on the corpus and the public agent sets' train halves.

At run time it is accord's numpy MiniLM (:mod:`accord.learning.minilm`) with the adapter merged
into the weights, so users need neither torch nor a GPU. The file it loads
(``cross-encoder.safetensors`` next to the decision model) holds the LoRA weights, the head and, as
metadata, the decisions and principles the head's outputs stand for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from accord.errors import ModelError
from accord.normalize import normalize
from accord.types import Case

FILE = "cross-encoder.safetensors"


def pair_text(case: Case) -> str:
    """What the cross-encoder reads: the context's tail, then the action (both normalised, as the
    rules see them). The same function made the training texts."""
    ctx = normalize(case.context_text)[-300:]
    act = normalize(case.action_text)[:600]
    return f"{ctx}\n{act}" if ctx else act


class CrossEncoder:
    """Decision and principle logits for cases, from a fine-tuned MiniLM.

    Args:
        path: the ``cross-encoder.safetensors`` file.
        threads: BLAS threads (default: :class:`~accord.learning.minilm.MiniLMEncoder`'s, one).
    """

    def __init__(self, path: str | Path, *, threads: int | None = None) -> None:
        from safetensors import safe_open

        from accord.learning.minilm import MiniLMEncoder

        p = Path(path)
        try:
            with safe_open(str(p), "np") as f:
                meta = dict(f.metadata() or {})
                w = f.get_tensor("head.weight").astype(np.float32)
                b = f.get_tensor("head.bias").astype(np.float32)
        except Exception as e:
            raise ModelError(f"cannot read the cross-encoder {p}: {type(e).__name__}: {e}",
                             hint="retrain it with scripts/finetune_decision.py, or reinstall accord") from None
        self.decisions = tuple(meta.get("decisions", "").split(","))
        self.principles = [x for x in meta.get("principles", "").split(",") if x]
        if self.decisions != ("allow", "block", "escalate") or w.shape != (3 + len(self.principles), 384) or b.shape != (w.shape[0],):
            raise ModelError(f"{p}: the head does not match its metadata ({w.shape}, decisions {self.decisions})",
                             hint="retrain it with scripts/finetune_decision.py")
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise ModelError(f"{p}: the head holds NaN or infinite values", hint="the file is damaged; reinstall accord")
        self.path = p
        self.digest = hashlib.sha256(p.read_bytes()).digest()
        self.max_length = int(meta.get("max_length", 128))
        self.card = {k: v for k, v in meta.items() if k not in ("principles", "decisions")}
        self._w, self._b = np.ascontiguousarray(w.T), b
        self._enc = MiniLMEncoder(max_length=self.max_length, adapter=p, threads=threads)

    def logits(self, cases: Sequence[Case]) -> tuple[np.ndarray, np.ndarray]:
        """``(n, 3)`` decision logits and ``(n, len(principles))`` principle logits."""
        if not cases:
            return np.zeros((0, 3), np.float32), np.zeros((0, len(self.principles)), np.float32)
        z = self._enc.pooled([pair_text(c) for c in cases]) @ self._w + self._b
        if not np.all(np.isfinite(z)):
            raise ModelError(f"{self.path}: the cross-encoder produced NaN scores")
        return z[:, :3], z[:, 3:]
