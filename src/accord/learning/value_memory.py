"""The value model's precedent memory: human-labelled cases, their keys, and how near ones pull a score.

Near neighbours (cosine similarity of precedent keys) are cited as precedents and blend into the
score in proportion to their similarity; a *human* precedent (feedback, a charter example) pulls
from ``human_floor``, linearly, a bulk-data one only above ``knn_floor``, quadratically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from accord.learning.encoders import as_additive, normalize_rows
from accord.learning.value_features import ValueFeatures, precedent_key
from accord.speedups import small_blas, top_k


@dataclass(frozen=True)
class MemoryItem:
    """A human-labelled case kept for precedents."""

    context: str
    action: str
    verdict: str  # acceptable | unacceptable
    principle: str | None
    source: str
    human: bool = False  # feedback or a charter example (always kept), not a bulk-data sample



class PrecedentMemory(ValueFeatures):
    """The precedent memory (the second layer of the value model)."""

    principles: list[str]
    memory_size: int
    knn_k: int
    knn_floor: float
    knn_max_weight: float
    human_floor: float
    memory_: list[MemoryItem]
    memory_emb_: np.ndarray
    _mem32: np.ndarray | None
    _mem_y: np.ndarray | None
    _mem_col: np.ndarray | None
    _mem_h: np.ndarray | None
    _nn_cache: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]

    def _joint(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Precedent keys only (cheaper than full features; cached neighbours skip even this)."""
        if all(p in self._nn_cache for p in pairs):
            return np.zeros((len(pairs), self._enc.dim), np.float32)
        enc = self._enc
        additive = as_additive(enc)
        uniq = list(dict.fromkeys([a for _, a in pairs] + [c for c, _ in pairs if c]))
        index = {t: i for i, t in enumerate(uniq)}
        E = normalize_rows(additive.pool(uniq)[0]) if additive is not None else enc.encode(uniq)
        ea = E[[index[a] for _, a in pairs]]
        ec = np.zeros_like(ea)
        hc = [i for i, (c, _) in enumerate(pairs) if c]
        if hc:
            ec[hc] = E[[index[pairs[i][0]] for i in hc]]
        return precedent_key(ea, ec)

    def _memory_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._mem32 is None or self._mem_y is None or self._mem_col is None:
            self._mem32 = np.ascontiguousarray(self.memory_emb_, dtype=np.float32)
            self._mem_y = np.array([m.verdict == "unacceptable" for m in self.memory_], dtype=np.float64)
            self._mem_h = np.array([m.human for m in self.memory_], dtype=bool)
            pos = {pid: j for j, pid in enumerate(self.principles)}
            self._mem_col = np.array([pos.get(m.principle, -1) if m.verdict == "unacceptable" and m.principle else -1
                                      for m in self.memory_], dtype=np.int64)
        return self._mem32, self._mem_y, self._mem_col

    def _neighbours(self, J: np.ndarray, pairs: Sequence[tuple[str, str]] | None = None, k: int | None = None,
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Indices and cosine similarities of the ``k`` nearest precedents, nearest first.

        Results are cached per (context, action) so that the gate's judge, precedent and occlusion
        passes over the same cases compute them once.
        """
        k = min(k or self.knn_k, len(self.memory_))
        n = len(J)
        if not len(self.memory_) or k == 0:
            return np.zeros((n, 0), np.int64), np.zeros((n, 0), np.float32)
        idx = np.zeros((n, k), np.int64)
        top = np.zeros((n, k), np.float32)
        todo = list(range(n))
        if pairs is not None:
            todo = []
            for i, key in enumerate(pairs):
                hit = self._nn_cache.get(key)
                if hit is not None and hit[0].shape[0] >= k:
                    idx[i], top[i] = hit[0][:k], hit[1][:k]
                else:
                    todo.append(i)
        if todo:
            M = self._memory_arrays()[0]
            kk = max(k, min(self.knn_k, len(self.memory_)))
            for s in range(0, len(todo), 2048):
                rows = todo[s:s + 2048]
                with small_blas(len(rows)):
                    sims = J[rows] @ M.T
                part, t = top_k(sims, kk)
                idx[rows], top[rows] = part[:, :k], t[:, :k]
                if pairs is not None:
                    if len(self._nn_cache) > 100_000:
                        self._nn_cache.clear()
                    for r, i in enumerate(rows):
                        self._nn_cache[pairs[i]] = (part[r], t[r])
        return idx, top

    def _blend(self, p_head: np.ndarray, J: np.ndarray, pairs: Sequence[tuple[str, str]] | None = None,
               nn: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Mix the head with near precedents; returns (p, alpha, neighbour idx, sims)."""
        idx, sims = nn if nn is not None else self._neighbours(J, pairs)
        if idx.shape[1] == 0:
            return p_head, np.zeros(len(J)), idx, sims
        labels = self._memory_arrays()[1][idx]
        human = self._mem_h[idx] if self._mem_h is not None else np.zeros_like(labels, dtype=bool)
        pull = np.where(human, np.clip((sims - self.human_floor) / (1.0 - self.human_floor), 0.0, 1.0),
                        np.clip((sims - self.knn_floor) / (1.0 - self.knn_floor), 0.0, 1.0) ** 2)
        wsum = pull.sum(axis=1)
        p_knn = np.where(wsum > 0, (pull * labels).sum(axis=1) / np.maximum(wsum, 1e-12), 0.5)
        alpha = self.knn_max_weight * pull.max(axis=1)
        return np.clip((1 - alpha) * p_head + alpha * p_knn, 0.0, 1.0), alpha, idx, sims

    def _settled(self, idx: np.ndarray, sims: np.ndarray) -> np.ndarray:
        """Per case: whether a *human* precedent (a reviewer's verdict, feedback, a charter example)
        is as close as ``knn_floor``, the similarity from which the model trusts even a bulk-data
        precedent. People have then decided a near-identical case, and a cascade keeps this
        model's score (which that precedent pulled) instead of asking a later stage, which may not
        have been taught it."""
        if not idx.shape[1] or self._mem_h is None:
            return np.zeros(len(idx), dtype=bool)
        return (self._mem_h[idx] & (sims >= self.knn_floor)).any(axis=1)

    def _remember(self, pairs_xy, y, tags, srcs, keep, J, rng) -> None:
        keep_idx = [i for i in range(len(y)) if keep[i] is not None and bool(keep[i])]
        rest = [i for i in range(len(y)) if keep[i] is not None and not keep[i]]
        room = max(self.memory_size - len(keep_idx), 0)
        if len(rest) > room:
            rest = sorted(rng.choice(rest, size=room, replace=False).tolist())
        known = {(m.context, m.action, m.verdict) for m in self.memory_}
        chosen = [i for i in keep_idx + rest
                  if (pairs_xy[i][0], pairs_xy[i][1], "unacceptable" if y[i] else "acceptable") not in known]
        self.memory_ = list(self.memory_) + [
            MemoryItem(pairs_xy[i][0], pairs_xy[i][1], "unacceptable" if y[i] else "acceptable", tags[i], srcs[i],
                       bool(keep[i])) for i in chosen
        ]
        self.memory_emb_ = np.vstack([self.memory_emb_, J[chosen].astype(np.float16)]) if chosen else self.memory_emb_
