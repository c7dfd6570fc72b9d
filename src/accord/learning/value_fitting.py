"""The value model's training: the acceptability head (Platt-calibrated), the principle heads, the reward head.

``fit`` trains from scratch; ``partial_fit`` refits every head on the new batch with a Gaussian
prior centred on its current weights, and adds the new cases to the precedent memory.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
from scipy import sparse

from accord.learning.logistic import balanced_weights, fit_logistic
from accord.learning.value_features import CaseLike, Feats, as_pair
from accord.learning.value_scoring import ValueScoring


@dataclass
class Pairs:
    """Preference pairs for the reward head: ``chosen[i]`` is better than ``rejected[i]``."""

    contexts: list[str] = field(default_factory=list)
    chosen: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)

    def add(self, context: str, chosen: str, rejected: str, weight: float = 1.0) -> None:
        self.contexts.append(context)
        self.chosen.append(chosen)
        self.rejected.append(rejected)
        self.weights.append(weight)

    def __len__(self) -> int:
        return len(self.chosen)


def now_iso() -> str:
    """UTC time now, or ``$SOURCE_DATE_EPOCH`` (reproducible builds: same data, same files)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    t = _dt.datetime.fromtimestamp(int(epoch), _dt.UTC) if epoch else _dt.datetime.now(_dt.UTC)
    return t.isoformat(timespec="seconds")



class ValueFitting(ValueScoring):
    """Training (a layer of the value model)."""

    lam: float
    reward_lam: float
    random_state: int
    card_: dict[str, Any]
    n_features_in_: int

    def fit(
        self,
        X: Sequence[CaseLike],
        y: Sequence[int] | np.ndarray,
        *,
        principle: Sequence[str | None] | None = None,
        sample_weight: Sequence[float] | np.ndarray | None = None,
        sources: Sequence[str] | None = None,
        pairs: Pairs | None = None,
        memory: Sequence[bool | None] | None = None,
    ) -> Self:
        """Train from scratch. ``y[i] = 1`` means case i is unacceptable.

        ``principle[i]`` tags which principle an unacceptable case violates (or ``None``);
        ``pairs`` trains the reward head; ``memory[i]`` is ``True`` for cases always kept as
        precedents (human feedback, charter examples), ``None`` for cases that must never be cited
        (synthetic augmentations), and ``False`` for the rest, which are subsampled to ``memory_size``.
        """
        return self._train(X, y, principle, sample_weight, sources, pairs, memory, warm=False)

    def partial_fit(
        self,
        X: Sequence[CaseLike],
        y: Sequence[int] | np.ndarray,
        *,
        principle: Sequence[str | None] | None = None,
        sample_weight: Sequence[float] | np.ndarray | None = None,
        sources: Sequence[str] | None = None,
        pairs: Pairs | None = None,
        memory: Sequence[bool | None] | None = None,
    ) -> Self:
        """Learn from more data, building on what the model already knows.

        The heads are refitted on the new batch with a prior centred on their current weights,
        and every new case joins the precedent memory. Unfitted, this is ``fit``.
        """
        warm = hasattr(self, "coef_")
        return self._train(X, y, principle, sample_weight, sources, pairs, memory, warm=warm)

    def _train(self, X, y, principle, sample_weight, sources, pairs, memory, *, warm: bool) -> Self:
        if not warm and self._additive is None:
            self.lexical = 0  # lexical features need the encoder's token ids
        pairs_xy = [as_pair(x) for x in X]
        y_arr = np.asarray(y, dtype=np.int64)
        n = len(pairs_xy)
        if n != len(y_arr):
            raise ValueError(f"X has {n} rows but y has {len(y_arr)}")
        tags = list(principle) if principle is not None else [None] * n
        sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        srcs = list(sources) if sources is not None else ["training"] * n
        keep = list(memory) if memory is not None else [False] * n
        rng = np.random.default_rng(self.random_state)
        for t in tags:
            if t is not None and t not in self.principles:
                self.principles.append(t)

        Fb = self._feats(pairs_xy)
        d = Fb.dense.shape[1] + self._lexical_dim
        if not warm:
            self.coef_, self.intercept_ = np.zeros(d, np.float32), 0.0
            self.calibration_ = (1.0, 0.0)
            self.principle_coef_ = np.zeros((0, d), np.float32)
            self.principle_intercept_ = np.zeros(0, np.float32)
            self.reward_coef_ = np.zeros(d, np.float32)
            self.memory_ = []
            self.memory_emb_ = np.zeros((0, self._enc.dim), np.float16)
            self.card_ = {"sources": {}, "counts": {}, "history": []}
            self.n_features_in_ = d
        self._reset_caches()
        if n and len(set(y_arr.tolist())) > 1:
            self._fit_acceptability(Fb, y_arr, sw, rng, warm)
        elif n and not warm:
            raise ValueError("training needs both acceptable and unacceptable examples")
        elif n:
            # one class only: still move towards it, from the prior
            w, b = fit_logistic(Fb.blocks(), y_arr, sample_weight=sw, lam=self.lam, w_prior=self.coef_, b_prior=self.intercept_)
            self.coef_, self.intercept_ = w, b
        self._fit_principles(Fb, y_arr, tags, sw, warm)
        if pairs is not None and len(pairs):
            self._fit_reward(pairs, warm)
        self._remember(pairs_xy, y_arr, tags, srcs, keep, Fb.joint, rng)
        self._update_card(y_arr, srcs, pairs, warm)
        self._reset_caches()
        return self

    def _fit_acceptability(self, F: Feats, y: np.ndarray, sw: np.ndarray, rng: np.random.Generator, warm: bool) -> None:
        w = balanced_weights(y, sw)
        w_prior = self.coef_ if warm else None
        b_prior = self.intercept_ if warm else 0.0
        if not warm and len(y) >= 40 and min(np.bincount(y, minlength=2)) >= 10:
            # Platt calibration on a held-out fifth, then refit on everything
            idx = rng.permutation(len(y))
            cut = len(y) // 5
            cal, tr = idx[:cut], idx[cut:]
            wt, bt = fit_logistic(F.rows(tr).blocks(), y[tr], sample_weight=w[tr], lam=self.lam)
            z = F.rows(cal).dot(wt) + bt
            a, c = fit_logistic(z[:, None], y[cal], sample_weight=balanced_weights(y[cal], sw[cal]), lam=1e-3)
            # a calibration slice too small or noisy can fit a slope <= 0, which would invert
            # every score (and every later partial_fit, which keeps the calibration): keep identity
            if a[0] > 0:
                self.calibration_ = (float(a[0]), float(c))
            # the fit on four fifths is a good start for the fit on everything
            self.coef_, self.intercept_ = fit_logistic(F.blocks(), y, sample_weight=w, lam=self.lam, w_init=wt, b_init=bt)
            return
        self.coef_, self.intercept_ = fit_logistic(F.blocks(), y, sample_weight=w, lam=self.lam, w_prior=w_prior, b_prior=b_prior)

    def _fit_principles(self, F: Feats, y: np.ndarray, tags: list[str | None], sw: np.ndarray, warm: bool) -> None:
        k, d = len(self.principles), self.coef_.shape[0]
        if self.principle_coef_.shape[0] < k:  # new principles start from zero
            grow = k - self.principle_coef_.shape[0]
            self.principle_coef_ = np.vstack([self.principle_coef_, np.zeros((grow, d), np.float32)])
            self.principle_intercept_ = np.concatenate([self.principle_intercept_, np.zeros(grow, np.float32)])
        rows = [i for i, t in enumerate(tags) if t is not None and y[i] == 1]
        if not rows:
            return
        Fu = F.rows(rows).blocks()
        for j, pid in enumerate(self.principles):
            target = np.array([tags[i] == pid for i in rows], dtype=np.int64)
            if not target.any():
                continue
            wj = balanced_weights(target, sw[rows]) if not target.all() else sw[rows]
            w, b = fit_logistic(Fu, target, sample_weight=wj, lam=self.lam,
                                w_prior=self.principle_coef_[j] if warm else None,
                                b_prior=float(self.principle_intercept_[j]) if warm else 0.0, tol=1e-6, max_iter=200)
            self.principle_coef_[j], self.principle_intercept_[j] = w, b
        # principle heads only share the risk out: half precision is plenty, and halves the file
        self.principle_coef_ = self.principle_coef_.astype(np.float16).astype(np.float32)

    def _fit_reward(self, pairs: Pairs, warm: bool) -> None:
        Fc = self._feats(list(zip(pairs.contexts, pairs.chosen, strict=True)))
        Fr = self._feats(list(zip(pairs.contexts, pairs.rejected, strict=True)))
        dd = Fc.dense - Fr.dense
        blocks: list[Any] = [np.vstack([dd, -dd])]
        if Fc.lex is not None and Fr.lex is not None:
            dl = (Fc.lex - Fr.lex).tocsr()
            blocks.append(sparse.vstack([dl, -dl], format="csr"))
        t = np.concatenate([np.ones(len(pairs)), np.zeros(len(pairs))]).astype(np.int64)
        sw = np.concatenate([pairs.weights, pairs.weights])
        # no intercept: a difference of rewards has none; fit with b pinned by symmetry
        w, _ = fit_logistic(tuple(blocks), t, sample_weight=sw, lam=self.reward_lam, w_prior=self.reward_coef_ if warm else None)
        self.reward_coef_ = w

    def _update_card(self, y: np.ndarray, srcs: list[str], pairs: Pairs | None, warm: bool) -> None:
        card = self.card_
        for s, label in zip(srcs, y.tolist(), strict=True):
            c = card["sources"].setdefault(s, {"acceptable": 0, "unacceptable": 0})
            c["unacceptable" if label else "acceptable"] += 1
        card["counts"] = {
            "examples": int(sum(v["acceptable"] + v["unacceptable"] for v in card["sources"].values())),
            "preference_pairs": int(card.get("counts", {}).get("preference_pairs", 0) + (len(pairs) if pairs else 0)),
            "precedents": len(self.memory_),
        }
        card["history"].append({"at": now_iso(), "mode": "partial_fit" if warm else "fit", "examples": len(y)})
