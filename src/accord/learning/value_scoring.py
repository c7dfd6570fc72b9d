"""The value model's scoring: calibrated heads blended with precedents, the judge protocol, precedents cited.

P(unacceptable) is the Platt-calibrated acceptability head, shifted to the model's ``prior`` and
mixed with near precedents; principle k's violation score is ``P(unacceptable) * q_k / max_j q_j``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import expit, logit

from accord import errors
from accord.charter.model import Charter
from accord.learning.value_features import CaseLike, Feats, as_pair
from accord.learning.value_memory import PrecedentMemory
from accord.speedups import small_blas
from accord.types import Case, Precedent, Score, trusted_instance


class ValueScoring(PrecedentMemory):
    """Inference (the third layer of the value model): probabilities, judge scores, precedents."""

    name: str
    prior: float
    coef_: np.ndarray
    intercept_: float
    calibration_: tuple[float, float]
    principle_coef_: np.ndarray
    principle_intercept_: np.ndarray
    reward_coef_: np.ndarray
    _version: str | None
    _split: dict[str, tuple[np.ndarray, np.ndarray | None]]

    def _reset_caches(self) -> None:
        self._version: str | None = None
        self._mem32: np.ndarray | None = None
        self._mem_y: np.ndarray | None = None
        self._mem_col: np.ndarray | None = None
        self._mem_h: np.ndarray | None = None
        self._nn_cache: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self._split: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}

    def _w(self, name: str) -> tuple[np.ndarray, np.ndarray | None]:
        """A head's weights split into contiguous dense and lexical parts (computed once)."""
        hit = self._split.get(name)
        if hit is None:
            w = getattr(self, name)
            nd = 3 * self._enc.dim
            if w.ndim == 1:
                hit = (np.ascontiguousarray(w[:nd]), np.ascontiguousarray(w[nd:]) if w.shape[0] > nd else None)
            else:
                hit = (np.ascontiguousarray(w[:, :nd].T), np.ascontiguousarray(w[:, nd:].T) if w.shape[1] > nd else None)
            self._split[name] = hit
        return hit

    def __getstate__(self) -> dict[str, Any]:  # copy.deepcopy: caches are not state
        state = self.__dict__.copy()
        state["_nn_cache"] = {}
        state["_mem32"] = None
        state["_split"] = {}
        return state

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise errors.NotFittedError("this ValueModel is not fitted yet; call fit() or load a model directory")

    def _raw(self, F: Feats) -> np.ndarray:
        a, b = self.calibration_
        return expit(a * (F.dot_split(*self._w("coef_")) + self.intercept_) + b + float(logit(self.prior)))

    def predict_proba(self, X: Sequence[CaseLike]) -> np.ndarray:
        """``(n, 2)`` array: column 0 P(acceptable), column 1 P(unacceptable) (with precedents)."""
        self._check_fitted()
        pairs = [as_pair(x) for x in X]
        F = self._feats(pairs)
        p = self._blend(self._raw(F), F.joint, pairs)[0]
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Sequence[CaseLike]) -> np.ndarray:
        """1 where the case is more likely unacceptable than not."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def principle_proba(self, X: Sequence[CaseLike]) -> np.ndarray:
        """``(n, k)`` violation probability per principle (columns follow ``principles``)."""
        self._check_fitted()
        pairs = [as_pair(x) for x in X]
        return self._principle_scores(self._feats(pairs), pairs)[0]

    def reward(self, X: Sequence[CaseLike]) -> np.ndarray:
        """The reward head's score: higher is better; compare only within one context."""
        self._check_fitted()
        F = self._feats([as_pair(x) for x in X])
        # a reward head never trained falls back on acceptability
        if np.any(self.reward_coef_):
            return F.dot_split(*self._w("reward_coef_"))
        return -logit(np.clip(self._raw(F), 1e-6, 1 - 1e-6))

    def _principle_scores(self, F: Feats, pairs: Sequence[tuple[str, str]] | None = None,
                          nn: tuple[np.ndarray, np.ndarray] | None = None,
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        with small_blas(len(F)):
            p, alpha, idx, sims = self._blend(self._raw(F), F.joint, pairs, nn)
            k = len(self.principles)
            q = expit(F.dot_split(*self._w("principle_coef_")) + self.principle_intercept_) if k else np.zeros((len(F), 0))
        if idx.shape[1] and k:
            col = self._memory_arrays()[2][idx]
            human = self._mem_h[idx] if self._mem_h is not None else np.zeros(idx.shape, dtype=bool)
            ok = (col >= 0) & (sims > np.where(human, self.human_floor, self.knn_floor))
            tagged = np.zeros_like(q)
            r, c = np.nonzero(ok)
            np.maximum.at(tagged, (r, col[r, c]), sims[r, c])
            has = tagged.max(axis=1, keepdims=True) > 0
            q = np.where(has, (1 - alpha[:, None]) * q + alpha[:, None] * (tagged > 0), q)
        share = q / np.maximum(q.max(axis=1, keepdims=True), 1e-9) if q.shape[1] else q
        return p[:, None] * share, idx, sims, p

    # ------------------------------------------------------------------ judge protocol
    @property
    def version(self) -> str:
        self._check_fitted()
        if self._version is None:
            h = hashlib.sha256(self.coef_.tobytes() + self.principle_coef_.tobytes() + self.reward_coef_.tobytes())
            # the precedents change verdicts too: their keys and labels are part of the version
            h.update(np.ascontiguousarray(self.memory_emb_, dtype=np.float16).tobytes())
            h.update("".join("1" if m.verdict == "unacceptable" else "0" for m in self.memory_).encode())
            self._version = f"model-{h.hexdigest()[:10]}"
        return self._version

    def judge(self, cases: Sequence[Case], charter: Charter) -> list[list[Score]]:
        """Per-principle scores for the charter's principles, citing the nearest precedents."""
        self._check_fitted()
        if not cases:
            return []
        pairs = [as_pair(c) for c in cases]
        P, idx, sims, _ = self._principle_scores(self._feats(pairs), pairs)
        P = np.clip(P, 0.0, 1.0)
        settled = self._settled(idx, sims).tolist()
        col = {pid: j for j, pid in enumerate(self.principles)}
        wanted = [(pid, col[pid]) for pid in charter.principle_ids if pid in col]
        name = self.name  # values are in range by construction: skip re-validation
        return [[trusted_instance(Score, {"principle": pid, "score": row[j], "source": name, "evidence": [], "rule": None,
                                          "decision": None, "revised": None, "settled": st}) for pid, j in wanted]
                for row, st in zip(P.tolist(), settled, strict=True)]

    def precedents(self, case: CaseLike, k: int = 3, min_similarity: float = 0.5) -> list[Precedent]:
        """The most similar human-labelled cases the model learned from."""
        return self.precedents_many([case], k=k, min_similarity=min_similarity)[0]

    def precedents_many(self, cases: Sequence[CaseLike], k: int = 3, min_similarity: float = 0.5) -> list[list[Precedent]]:
        """:meth:`precedents` for a batch, in one matrix product."""
        self._check_fitted()
        pairs = [as_pair(c) for c in cases]
        if not pairs:
            return []
        J = self._joint(pairs)
        idx, sims = self._neighbours(J, pairs, k=max(k, 1))
        out = []
        for row, srow in zip(idx.tolist(), sims.tolist(), strict=True):
            lst = []
            for m, s in zip(row[:k], srow[:k], strict=True):
                if s >= min_similarity:
                    it = self.memory_[m]
                    lst.append(Precedent.trusted(context=it.context, action=it.action, verdict=it.verdict,
                                                         principle=it.principle, similarity=round(float(s), 3), source=it.source))
            out.append(lst)
        return out
