"""The learned judge: a value model that learns what people find acceptable.

Architecture (all arrays, saved as JSON + ``.npz``, never pickle):

* a text encoder (default ``wordllama``) embeds the action ``a``, the context ``c`` and the
  joint text ``c + a``; the dense features are ``[e(a), e(c) * e(a), e(c + a)]`` because embeddings
  carry topic more than valence, and the joint terms let the heads see *this* action *in this*
  context;
* **lexical features** of the action: case-folded token unigrams and hashed token bigrams
  (binary, L2-normalised), read off the encoder's own tokenisation. Mean-pooled static
  embeddings blur the few words that make a text unacceptable; the lexical block lets the heads
  weigh them directly (``lexical=0`` turns it off; encoders without token ids have none);
* an **acceptability head**: logistic regression for P(unacceptable), Platt-calibrated on a
  held-out slice;
* **principle heads**: one-vs-rest logistic regressions trained on unacceptable examples tagged
  with a principle; principle k's violation score is ``P(unacceptable) * q_k / max_j q_j``, so the
  most likely principle carries the whole risk and the others share it in proportion;
* a **reward head**: a linear Bradley-Terry model trained on preferences, labels within one
  context and demonstrations, used to rank candidate actions;
* a **precedent memory**: human-labelled cases keyed by ``e(a) + e(c)`` with both embeddings at
  unit length (``KEY_CONTEXT_WEIGHT``), so a long context cannot drown the action. Near neighbours are cited as
  precedents and blend into the score in proportion to their similarity, so one reviewer verdict
  changes how the same kind of case (and its paraphrases) is judged at once, while a different
  action under the same goal is not pulled towards that verdict.

With an additive (static) encoder the joint embedding is the normalised sum of the context's and
the action's token vectors, so a case is tokenised once per text, and occlusion (the score without
a few words) is computed by subtracting those words' token vectors instead of re-encoding.

It follows scikit-learn's estimator contract: ``fit`` / ``partial_fit`` return ``self``, learned
state ends in ``_``, ``predict_proba`` before fitting raises ``NotFittedError`` and randomness
comes from ``random_state``. ``partial_fit`` builds on the current weights (a Gaussian prior
centred on them) instead of starting over.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from scipy import sparse
from scipy.special import expit, logit

from accord import errors
from accord.charter.model import Charter
from accord.errors import ModelError
from accord.learning.encoders import (
    AdditiveEncoder,
    Encoder,
    as_additive,
    get_encoder,
    normalize_rows,
    segment_sum,
    word_index_of,
)
from accord.learning.logistic import balanced_weights, fit_logistic
from accord.speedups import small_blas, top_k
from accord.types import Case, Evidence, Precedent, Score, trusted_instance

#: the file layout is unchanged by the lexical block: a file without ``params.lexical`` has none
#: format 2 keys the precedent memory by ``e(a) + KEY_CONTEXT_WEIGHT * e(c)``; format 1 keyed it by
#: the joint text's embedding and is re-keyed from its stored texts when loaded
FORMAT_VERSION = 2
_READABLE_FORMATS = (1, 2)
#: how much the context counts in the precedent key, relative to the action (both unit vectors)
KEY_CONTEXT_WEIGHT = 1.0
CaseLike = Case | tuple[str, str] | str
_BIGRAM_MULT = 1_000_003
REENCODED_OCCLUSION_WORDS = 30  # longest case (context + action, in words) whose evidence a non-additive encoder computes
#: cases per judge time budget on a static (additive) encoder: a fraction of a millisecond each
STATIC_CASES_PER_BUDGET = 256
_WORD = re.compile(r"\S+")  # occlusion removes words (and spans of words) found by this


@dataclass(frozen=True)
class MemoryItem:
    """A human-labelled case kept for precedents."""

    context: str
    action: str
    verdict: str  # acceptable | unacceptable
    principle: str | None
    source: str
    human: bool = False  # feedback or a charter example (always kept), not a bulk-data sample


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


@dataclass
class _Feats:
    """Features of a batch: dense block, lexical block (or None) and the precedent keys."""

    dense: np.ndarray
    lex: Any  # CSR matrix or None; for occlusion variants a _VariantLex, which only supports ``@``
    joint: np.ndarray  # precedent-memory key, see KEY_CONTEXT_WEIGHT

    def __len__(self) -> int:
        return self.dense.shape[0]

    def rows(self, idx: Sequence[int] | np.ndarray) -> _Feats:
        idx = np.asarray(idx, dtype=np.int64)
        return _Feats(self.dense[idx], self.lex[idx] if self.lex is not None else None, self.joint[idx])

    def blocks(self) -> tuple[Any, ...]:
        return (self.dense,) if self.lex is None else (self.dense, self.lex)

    def dot_split(self, wd: np.ndarray, wl: np.ndarray | None) -> np.ndarray:
        """``X @ w`` with the weights already split into a dense part and a lexical part.

        For several heads at once, ``wd`` is ``(n_dense, k)`` and ``wl`` ``(n_lexical, k)``, both
        C-contiguous, so neither product copies the weights.
        """
        out = self.dense @ wd
        if self.lex is not None and wl is not None:
            out = out + (self.lex @ wl)
        return np.asarray(out, dtype=np.float64)

    def dot(self, w: np.ndarray) -> np.ndarray:
        """``X @ w`` for a weight vector, or ``X @ W.T`` for a matrix of weight rows."""
        nd = self.dense.shape[1]
        if w.ndim == 1:
            out = self.dense @ w[:nd]
            if self.lex is not None and w.shape[0] > nd:
                out = out + self.lex @ w[nd:]
            return np.asarray(out, dtype=np.float64)
        out = self.dense @ w[:, :nd].T
        if self.lex is not None and w.shape[1] > nd:
            out = out + np.asarray(self.lex @ w[:, nd:].T)
        return np.asarray(out, dtype=np.float64)


@dataclass
class _VariantLex:
    """The lexical block of occlusion variants, kept factored instead of materialised.

    A variant's row is its case's indicator row minus the n-grams that occur only inside the
    removed span plus the bigram that bridges it, scaled by ``lexical_scale / sqrt(nnz)``. Spelt
    out, the rows of a long text would repeat the whole text once per span (quadratic in its
    length); factored, ``X @ W`` gathers weight rows: each case's n-grams once, then per variant
    the few that vanish or appear. Plain index arrays, no sparse matrices: building those costs
    more than the product for a single check.
    """

    n_cases: int
    base_case: np.ndarray  # (case, column) of every distinct n-gram of every case; all row arrays ascend
    base_col: np.ndarray
    owner: np.ndarray  # (n_rows,) the case of each row
    gone_row: np.ndarray  # (row, column) of n-grams a variant loses
    gone_col: np.ndarray
    new_row: np.ndarray  # (row, column) of bridging bigrams a variant gains
    new_col: np.ndarray
    scale: np.ndarray  # (n_rows,)

    def __matmul__(self, w: np.ndarray) -> np.ndarray:
        W = w if w.ndim == 2 else w[:, None]
        out = segment_sum(self.base_case, W[self.base_col].astype(np.float64), self.n_cases)[self.owner]
        out -= segment_sum(self.gone_row, W[self.gone_col].astype(np.float64), len(self.owner))
        out[self.new_row] += W[self.new_col]  # at most one bridging bigram per row
        out *= self.scale[:, None]
        return out if w.ndim == 2 else out[:, 0]


def _member(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Which ``keys`` occur in the ascending ``sorted_keys`` (``np.isin`` without its set-up cost)."""
    if not len(sorted_keys):
        return np.zeros(len(keys), bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[pos] == keys


def _chunks(items: list[Any], sizes: list[int], limit: int) -> list[list[Any]]:
    """``items`` in order, cut into runs whose ``sizes`` add up to about ``limit`` (at least one item each)."""
    out: list[list[Any]] = [[]]
    total = 0
    for it, n in zip(items, sizes, strict=True):
        if out[-1] and total + n > limit:
            out.append([])
            total = 0
        out[-1].append(it)
        total += n
    return out


class _Span(NamedTuple):
    """One case planned for occlusion: its texts, the principle's column, and the word spans removed in turn."""

    ctx: str
    act: str
    col: int
    starts: list[int]  # first word of each span
    words: list[str]
    span: int  # words per span


def as_pair(x: CaseLike) -> tuple[str, str]:
    """``(context, action)`` text of a case-like input."""
    if isinstance(x, Case):
        return x.context_text, x.action_text
    if isinstance(x, tuple):
        return x[0], x[1]
    return "", x


def _now() -> str:
    """UTC time now, or ``$SOURCE_DATE_EPOCH`` (reproducible builds: same data, same files)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    t = _dt.datetime.fromtimestamp(int(epoch), _dt.UTC) if epoch else _dt.datetime.now(_dt.UTC)
    return t.isoformat(timespec="seconds")


class ValueModel:
    """A learned value judge; see the module docstring for the architecture.

    Args:
        principles: principle ids the principle heads cover (default: the charter's, set at fit).
        encoder: registered encoder name.
        lam: L2 strength (towards the prior) of the acceptability and principle heads.
        reward_lam: L2 strength of the reward head.
        memory_size: most precedents kept from large training sets (feedback is always kept).
        knn_k: neighbours consulted; knn_floor: cosine similarity below which a precedent has no pull.
        knn_max_weight: the most a precedent (at similarity 1) can weigh against the heads.
        human_floor: the similarity from which a *human* precedent (feedback, charter example) pulls,
            linearly; bulk-data precedents pull only above ``knn_floor``, quadratically. A team's own
            verdicts are its values stated outright, so paraphrases of them should follow them.
        lexical: hashed token-bigram buckets of the lexical block (0: no lexical features).
        lexical_scale: weight of the lexical block relative to the dense one.
        prior: the share of unacceptable cases the probabilities are calibrated for. Training
            balances the classes (and Platt scaling is fitted on balanced classes); the calibrated
            log-odds are then shifted by ``logit(prior)``, so 0.5 means "as likely as not" and a
            lower prior reflects traffic where most cases are fine.
        random_state: seed for the calibration split and memory subsampling.
    """

    name = "model"

    def __init__(
        self,
        principles: Sequence[str] = (),
        *,
        encoder: str = "wordllama",
        lam: float = 1.0,
        reward_lam: float = 1.0,
        memory_size: int = 4000,
        knn_k: int = 5,
        knn_floor: float = 0.8,
        knn_max_weight: float = 0.9,
        human_floor: float = 0.6,
        lexical: int = 65536,
        lexical_scale: float = 3.0,
        prior: float = 0.5,
        random_state: int = 0,
    ) -> None:
        self.principles = list(principles)
        self.encoder = encoder
        self.lam = lam
        self.reward_lam = reward_lam
        self.memory_size = memory_size
        self.knn_k = knn_k
        self.knn_floor = knn_floor
        self.knn_max_weight = knn_max_weight
        self.human_floor = human_floor
        self.lexical = lexical
        self.lexical_scale = lexical_scale
        if not 0.0 < prior < 1.0:
            raise ValueError(f"prior must be strictly between 0 and 1, got {prior}")
        self.prior = prior
        self.random_state = random_state
        self.card_: dict[str, Any] = {}
        self._reset_caches()

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

    # ------------------------------------------------------------------ encoding
    @property
    def _enc(self) -> Encoder:
        return get_encoder(self.encoder)

    @property
    def _additive(self) -> AdditiveEncoder | None:
        """The encoder as an additive one, or ``None`` (a transformer: features by re-encoding)."""
        return as_additive(self._enc)

    def _additive_enc(self) -> AdditiveEncoder:
        """The additive encoder the lexical block and subtraction occlusion need."""
        enc = self._additive
        if enc is None:
            raise ModelError(f"encoder {self.encoder!r} is not additive: it has no token vectors to sum")
        return enc

    def warm_up(self) -> None:
        """Load the encoder now (a missing encoder is then an error at start-up, not on a check)."""
        self._enc.encode(["warm-up"])

    @property
    def cases_per_budget(self) -> int:
        """Cases per ``judge_timeout_ms`` (see :class:`~accord.judges.base.Judge`): a transformer
        encoder takes up to ~60 ms a case on one core, a static one a fraction of a millisecond."""
        return STATIC_CASES_PER_BUDGET if self._additive is not None else 16

    @property
    def _lexical_dim(self) -> int:
        return int(self._additive_enc().vocab_size) + int(self.lexical) if self.lexical else 0

    def _lexical_rows(self, ids: Sequence[np.ndarray]) -> sparse.csr_matrix:
        """Binary case-folded unigram + hashed bigram indicators per text, L2-normalised and scaled."""
        lens = np.fromiter(map(len, ids), np.int64, len(ids))
        flat = np.concatenate(ids).astype(np.int64) if lens.sum() else np.zeros(0, np.int64)
        row = np.repeat(np.arange(len(ids)), lens)
        same = row[1:] == row[:-1] if len(row) > 1 else np.zeros(0, bool)
        return self._lexical_matrix(len(ids), row, flat, row[:-1][same] if len(row) > 1 else row[:0],
                                    flat[:-1][same] if len(row) > 1 else flat[:0], flat[1:][same] if len(row) > 1 else flat[:0])

    def _lexical_cols(self, uid: np.ndarray, ba: np.ndarray, bb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lexical columns of unigram token ids ``uid`` and of bigrams ``(ba, bb)``."""
        enc = self._additive_enc()
        nv, nb = int(enc.vocab_size), int(self.lexical)
        low = enc.lowercase_ids
        return (low[uid].astype(np.int64),
                nv + (low[ba].astype(np.int64) * _BIGRAM_MULT + low[bb].astype(np.int64)) % nb)

    def _lexical_matrix(self, n: int, urow: np.ndarray, uid: np.ndarray, brow: np.ndarray, ba: np.ndarray,
                        bb: np.ndarray) -> sparse.csr_matrix:
        """The lexical block from unigram entries ``(urow, uid)`` and bigram entries ``(brow, ba, bb)``.

        A few thousand entries (a single check) are built straight in CSR form from the sorted
        distinct keys; COO conversion and duplicate summing cost more than the product there. A
        large batch goes through scipy's COO path, which is twenty times faster at that size. Both
        give the same matrix.
        """
        nl = self._lexical_dim
        cu, cb = self._lexical_cols(uid, ba, bb)
        if len(cu) + len(cb) <= 4096:
            keys = np.unique(np.concatenate([np.asarray(urow, np.int64) * nl + cu, np.asarray(brow, np.int64) * nl + cb]))
            rows, cols = keys // nl, keys % nl
            indptr = np.searchsorted(rows, np.arange(n + 1))
            m = sparse.csr_matrix((np.ones(len(keys), np.float32), cols.astype(np.int32), indptr.astype(np.int32)), shape=(n, nl))
        else:
            m = sparse.csr_matrix((np.ones(len(cu) + len(cb), np.float32), (np.concatenate([urow, brow]), np.concatenate([cu, cb]))),
                                  shape=(n, nl))
            m.sum_duplicates()
            m.data[:] = 1.0
        nnz = np.diff(m.indptr)
        m.data *= np.repeat((self.lexical_scale / np.sqrt(np.maximum(nnz, 1))).astype(np.float32), nnz)
        return m

    def _feats(self, pairs: Sequence[tuple[str, str]]) -> _Feats:
        """Dense features ``[e(a), e(c)*e(a), e(c+a)]``, the lexical block, and the precedent keys."""
        enc = self._enc
        additive = as_additive(enc)
        d = enc.dim
        n = len(pairs)
        if not n:
            return _Feats(np.zeros((0, 3 * d), np.float32), sparse.csr_matrix((0, self._lexical_dim), dtype=np.float32)
                          if self._lexical_dim else None, np.zeros((0, d), np.float32))
        contexts = [c for c, _ in pairs]
        actions = [a for _, a in pairs]
        if additive is not None:
            uniq = list(dict.fromkeys(actions + [c for c in contexts if c]))
            index = {t: i for i, t in enumerate(uniq)}
            S, ids = additive.pool(uniq)
            ai = np.fromiter((index[a] for a in actions), np.int64, n)
            sa = S[ai]
            sc = np.zeros_like(sa)
            has_c = np.fromiter((bool(c) for c in contexts), bool, n)
            if has_c.any():
                sc[has_c] = S[[index[c] for c in contexts if c]]
            ea, ec, ej = normalize_rows(sa), normalize_rows(sc), normalize_rows(sa + sc)
            lex = self._lexical_rows([ids[i] for i in ai]) if self.lexical else None
        else:
            joint = [f"{c}\n{a}" if c else a for c, a in pairs]
            uniq = list(dict.fromkeys(actions + [c for c in contexts if c] + joint))
            index = {t: i for i, t in enumerate(uniq)}
            E = enc.encode(uniq)
            ea = E[[index[a] for a in actions]]
            ec = np.zeros_like(ea)
            has = [i for i, c in enumerate(contexts) if c]
            if has:
                ec[has] = E[[index[contexts[i]] for i in has]]
            ej = E[[index[j] for j in joint]]
            lex = None
        dense = _dense_block(ea, ec, ej)
        return _Feats(dense, lex, _key(ea, ec))

    def _uses_lexical(self) -> bool:
        return bool(self.lexical) and self._additive is not None

    def embed(self, pairs: Sequence[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
        """Dense features and precedent keys (unit-length joint embeddings) of ``(context, action)`` pairs.

        Active learning weighs a case by its feature norm and its density among the other pending
        cases (:func:`accord.review.priority.expected_improvement`).
        """
        f = self._feats(pairs)
        return f.dense, f.joint

    _embed = embed  # the name callers of the first version used

    def features(self, X: Sequence[CaseLike]) -> np.ndarray | sparse.csr_matrix:
        """The feature matrix the heads see (useful for active learning and benchmarks).

        A NumPy array of the dense features, or, when the model has a lexical block, a SciPy CSR
        matrix ``[dense | lexical]`` (columns follow ``coef_``).
        """
        f = self._feats([as_pair(x) for x in X])
        if f.lex is None:
            return f.dense
        return sparse.hstack([sparse.csr_matrix(f.dense), f.lex], format="csr")

    # ------------------------------------------------------------------ fitting
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
    ) -> ValueModel:
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
    ) -> ValueModel:
        """Learn from more data, building on what the model already knows.

        The heads are refitted on the new batch with a prior centred on their current weights,
        and every new case joins the precedent memory. Unfitted, this is ``fit``.
        """
        warm = hasattr(self, "coef_")
        return self._train(X, y, principle, sample_weight, sources, pairs, memory, warm=warm)

    def _train(self, X, y, principle, sample_weight, sources, pairs, memory, *, warm: bool) -> ValueModel:
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
            self.memory_: list[MemoryItem] = []
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

    def _fit_acceptability(self, F: _Feats, y: np.ndarray, sw: np.ndarray, rng: np.random.Generator, warm: bool) -> None:
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

    def _fit_principles(self, F: _Feats, y: np.ndarray, tags: list[str | None], sw: np.ndarray, warm: bool) -> None:
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
        card["history"].append({"at": _now(), "mode": "partial_fit" if warm else "fit", "examples": len(y)})

    # ------------------------------------------------------------------ inference
    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise errors.NotFittedError("this ValueModel is not fitted yet; call fit() or load a model directory")

    def _raw(self, F: _Feats) -> np.ndarray:
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

    def _principle_scores(self, F: _Feats, pairs: Sequence[tuple[str, str]] | None = None,
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

    def _settled(self, idx: np.ndarray, sims: np.ndarray) -> np.ndarray:
        """Per case: whether a *human* precedent (a reviewer's verdict, feedback, a charter example)
        is as close as ``knn_floor``, the similarity from which the model trusts even a bulk-data
        precedent. People have then decided a near-identical case, and a cascade keeps this
        model's score (which that precedent pulled) instead of asking a later stage, which may not
        have been taught it."""
        if not idx.shape[1] or self._mem_h is None:
            return np.zeros(len(idx), dtype=bool)
        return (self._mem_h[idx] & (sims >= self.knn_floor)).any(axis=1)

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
        return _key(ea, ec)

    def occlusion(self, case: CaseLike, principle: str, top: int = 3) -> list[tuple[Evidence, float]]:
        """The words whose removal lowers the principle's score most, with the score without them."""
        return self.occlusion_many([(case, principle)], top=top)[0]

    def occlusion_many(self, items: Sequence[tuple[CaseLike, str]], top: int = 3) -> list[list[tuple[Evidence, float]]]:
        """:meth:`occlusion` for many ``(case, principle)`` items in one encoding pass.

        Words are grouped into spans (1 word for short actions, more for long ones); each span is
        removed in turn and the case re-scored. With an additive encoder the variants are computed
        from the tokens already encoded (subtracting the span's token vectors), not re-encoded.
        Any other encoder re-encodes every shortened text, which costs one transformer pass per
        span and text (MiniLM on two cores: ~4 ms for a short prompt, ~50 ms at its 128-token
        window), so only cases of up to ``REENCODED_OCCLUSION_WORDS`` words (context and action)
        get evidence there.
        """
        self._check_fitted()
        additive = self._additive is not None
        plan: list[_Span | None] = []
        for case, principle in items:
            ctx, act = as_pair(case)
            words = _WORD.findall(act)
            if len(words) < 2 or principle not in self.principles or (
                    not additive and len(words) + len(_WORD.findall(ctx)) > REENCODED_OCCLUSION_WORDS):
                plan.append(None)
                continue
            span = 1 if len(words) <= 12 else 2 if len(words) <= 40 else max(1, len(words) // 20)
            plan.append(_Span(ctx, act, self.principles.index(principle), list(range(0, len(words), span)), words, span))
        if not any(plan):
            return [[] for _ in items]
        todo = [p for p in plan if p is not None]
        # variants are scored a few thousand rows at a time: the whole batch's feature rows would
        # take hundreds of MB, and fresh memory of that size costs more than the products on it
        P = np.concatenate([self._variant_scores(chunk) for chunk in _chunks(todo, [1 + len(p.starts) for p in todo], 4096)])
        out: list[list[tuple[Evidence, float]]] = []
        first = 0
        for entry in plan:
            if entry is None:
                out.append([])
                continue
            _, act, j, starts, words, span = entry
            base = P[first, j]
            after = P[first + 1:first + 1 + len(starts), j]
            first += 1 + len(starts)
            drops = base - after
            found = []
            bounds: list[tuple[int, int]] = []
            for o in np.argsort(-drops, kind="stable")[:top]:
                if drops[o] <= 0.01:
                    break
                bounds = bounds or [m.span() for m in _WORD.finditer(act)]
                start, end = bounds[starts[o]][0], bounds[min(starts[o] + span, len(bounds)) - 1][1]
                found.append((Evidence.trusted(text=act[start:end], start=start, end=end, field="action"), float(after[o])))
            out.append(found)
        return out

    def _variant_scores(self, todo: list[_Span]) -> np.ndarray:
        """Principle scores of each planned case and of its variants (the case minus one span), row per variant."""
        if self._additive is not None:
            F = self._occlusion_variants(todo)
        else:
            variants: list[tuple[str, str]] = []
            for ctx, act, _, starts, words, span in todo:
                variants.append((ctx, act))
                variants.extend((ctx, " ".join(words[:s] + words[s + span:])) for s in starts)
            F = self._feats(variants)
        # each variant (the case minus a few words) keeps its case's neighbours, re-scored: the
        # neighbour search over the whole memory runs once per case (and is usually cached already)
        sizes = [1 + len(p.starts) for p in todo]
        owner = np.repeat(np.arange(len(todo)), sizes)
        first_rows = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        base_idx, _ = self._neighbours(F.joint[first_rows], [(p.ctx, p.act) for p in todo])
        nn = None
        if base_idx.shape[1]:
            idx = base_idx[owner]
            M = self._memory_arrays()[0]
            sims = np.einsum("nd,nkd->nk", F.joint, M[idx], optimize=False).astype(np.float32)
            order = np.argsort(-sims, axis=1, kind="stable")
            nn = (np.take_along_axis(idx, order, axis=1), np.take_along_axis(sims, order, axis=1))
        return self._principle_scores(F, nn=nn)[0]

    def _occlusion_variants(self, plan: list[_Span]) -> _Feats:
        """Features of each case and of the case minus each span, by token-vector subtraction.

        Rows come per case: the case itself, then one row per span. A span's token vectors are
        summed once (one pass for all spans of all cases) and subtracted from the case's sum; the
        lexical block of a variant keeps every unigram and bigram that does not touch the span,
        plus the bigram that bridges it, as re-tokenising the shortened text would give (see
        :class:`_VariantLex`). Token ids come from the encoder's cache (the scoring pass put them
        there); no Python loop runs per case or per token.
        """
        enc = self._additive_enc()
        acts = list(dict.fromkeys(p.act for p in plan))
        ctxs = list(dict.fromkeys(p.ctx for p in plan if p.ctx))
        Sa, act_ids = enc.pool(acts)  # the scoring pass has usually cached both
        where = {t: i for i, t in enumerate(acts)}
        Sc = np.vstack([np.zeros((1, enc.dim), np.float32), enc.pool(ctxs)[0]]) if ctxs else np.zeros((1, enc.dim), np.float32)
        c_of = {t: i + 1 for i, t in enumerate(ctxs)}  # row 0 of ``Sc``: no context
        k_of = np.fromiter((where[p.act] for p in plan), np.int64, len(plan))
        n_groups = np.fromiter((len(p.starts) for p in plan), np.int64, len(plan))
        n_words = np.fromiter((len(p.words) for p in plan), np.int64, len(plan))
        span = np.fromiter((p.span for p in plan), np.int64, len(plan))
        sizes = 1 + n_groups
        n_rows = int(sizes.sum())
        firsts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        owner_rows = np.repeat(np.arange(len(plan)), sizes)
        sa = Sa[k_of][owner_rows]  # every variant row starts as its case's sum
        sc = Sc[np.fromiter((c_of.get(p.ctx, 0) for p in plan), np.int64, len(plan))][owner_rows]
        # every token of every case, with its case and the row of the span holding it
        lens = np.fromiter((len(act_ids[i]) for i in k_of), np.int64, len(plan))
        ids_all = np.concatenate([act_ids[i] for i in k_of]).astype(np.int64) if lens.sum() else np.zeros(0, np.int64)
        case_all = np.repeat(np.arange(len(plan)), lens)
        tok0 = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
        word = self._token_words(plan, ids_all, tok0, case_all, lens, n_words)
        group = np.clip(word // span[case_all], 0, n_groups[case_all] - 1)
        row_all = firsts[case_all] + 1 + group
        # the bigram bridging each removed span: the tokens just before and after the span's tokens
        rows_u, first_at, count = np.unique(row_all, return_index=True, return_counts=True)
        last_at = first_at + count - 1
        c = case_all[first_at]
        ok = (first_at > tok0[c]) & (last_at < tok0[c] + lens[c] - 1)
        bridge = np.stack([rows_u[ok], ids_all[first_at[ok] - 1], ids_all[last_at[ok] + 1]], axis=1)
        if len(ids_all):
            sa -= enc.sum_ids_by_row(row_all, ids_all, n_rows)  # rows ascend: cases in order, spans in order
        ea, ec, ej = normalize_rows(sa), normalize_rows(sc), normalize_rows(sa + sc)
        dense = _dense_block(ea, ec, ej)
        lex = self._variant_lex(len(plan), owner_rows, ids_all, case_all, row_all, bridge) if self.lexical else None
        return _Feats(dense, lex, _key(ea, ec))

    def _token_words(self, plan: list[_Span], ids: np.ndarray, tok0: np.ndarray,
                     case: np.ndarray, lens: np.ndarray, n_words: np.ndarray) -> np.ndarray:
        """Per token (all cases' tokens concatenated): the index of the ``_WORD`` word holding its last character.

        The encoder reads it off its token pieces where it can (:meth:`WordLlamaEncoder.word_index`);
        a case whose word count comes out different from the text's, and every case of an encoder
        without that shortcut, is tokenised again with character offsets.
        """
        enc = self._additive_enc()
        word = np.full(len(ids), -1, np.int64)
        redo = np.arange(len(plan))
        word_index = word_index_of(enc)
        if word_index is not None and len(ids):
            first = np.zeros(len(ids), bool)
            first[tok0[lens > 0]] = True
            word = word_index(ids, first)
            counted = np.zeros(len(plan), np.int64)
            np.maximum.at(counted, case, word + 1)
            redo = np.flatnonzero(counted != n_words)
        if len(redo):
            for k, (_, offsets) in zip(redo.tolist(), enc.token_offsets([plan[k].act for k in redo]), strict=True):
                starts = np.array([m.start() for m in _WORD.finditer(plan[k].act)], dtype=np.int64)
                ends = np.fromiter((e - 1 for _, e in offsets), np.int64, len(offsets))
                word[tok0[k]:tok0[k] + lens[k]] = np.searchsorted(starts, ends, side="right") - 1
        return word

    def _variant_lex(self, n_cases: int, owner_rows: np.ndarray, ids: np.ndarray, case: np.ndarray, row: np.ndarray,
                     bridge: np.ndarray) -> _VariantLex:
        """The factored lexical block of :meth:`_occlusion_variants`.

        An n-gram vanishes from a variant when every occurrence of it in the case touches the
        removed span; the bridging bigram is new unless the variant still has it.
        """
        nl = self._lexical_dim
        n_rows = len(owner_rows)
        same = case[1:] == case[:-1]
        ba, bb, bcase = ids[:-1][same], ids[1:][same], case[:-1][same]
        brow1, brow2 = row[:-1][same], row[1:][same]
        cu, cb = self._lexical_cols(ids, ba, bb)
        # occurrences per (case, column), and occurrences touching each span's row per (row, column)
        occ, n_occ = np.unique(np.concatenate([case * nl + cu, bcase * nl + cb]), return_counts=True)
        two = brow2 != brow1
        touch, n_touch = np.unique(np.concatenate([row * nl + cu, brow1 * nl + cb, brow2[two] * nl + cb[two]]), return_counts=True)
        t_row, t_col = touch // nl, touch % nl
        gone = n_touch == n_occ[np.searchsorted(occ, owner_rows[t_row] * nl + t_col)]
        g_row, g_col = t_row[gone], t_col[gone]
        gone_keys = touch[gone]  # sorted, as ``touch`` is
        n_row = n_col = np.zeros(0, np.int64)
        if len(bridge):
            br = bridge
            _, bcol = self._lexical_cols(br[:0, 1], br[:, 1], br[:, 2])
            in_case = _member(occ, owner_rows[br[:, 0]] * nl + bcol)
            vanished = _member(gone_keys, br[:, 0] * nl + bcol)
            new = ~in_case | vanished
            n_row, n_col = br[new, 0], bcol[new]
        base_case, base_col = occ // nl, occ % nl
        nnz = (np.bincount(base_case, minlength=n_cases)[owner_rows] - np.bincount(g_row, minlength=n_rows)
               + np.bincount(n_row, minlength=n_rows))
        scale = (self.lexical_scale / np.sqrt(np.maximum(nnz, 1))).astype(np.float64)
        return _VariantLex(n_cases, base_case, base_col, owner_rows, g_row, g_col, n_row, n_col, scale)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path, *, name: str | None = None) -> Path:
        """Write ``model.json`` + ``arrays.npz`` + ``precedents.jsonl`` (no pickle).

        The files are reproducible: with ``$SOURCE_DATE_EPOCH`` set, the same model gives the same
        bytes (the ``.npz`` entries carry a fixed time stamp).
        """
        self._check_fitted()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        meta = {
            "format_version": FORMAT_VERSION,
            "kind": "accord.ValueModel",
            "name": name or self.card_.get("name") or d.name,
            "version": self.version,
            "created": _now(),
            "params": {k: getattr(self, k) for k in ("encoder", "lam", "reward_lam", "memory_size", "knn_k",
                                                      "knn_floor", "knn_max_weight", "human_floor", "lexical", "lexical_scale",
                                                      "prior", "random_state")},
            "principles": self.principles,
            "intercept": self.intercept_,
            "calibration": list(self.calibration_),
            "card": self.card_,
        }
        tmp = d / ".arrays.tmp.npz"
        _savez(tmp, coef=self.coef_, principle_coef=_half_if_exact(self.principle_coef_),
               principle_intercept=self.principle_intercept_, reward_coef=self.reward_coef_,
               memory_emb=self.memory_emb_)
        tmp.replace(d / "arrays.npz")
        with open(d / "precedents.jsonl.tmp", "w", encoding="utf-8") as f:
            for it in self.memory_:
                f.write(json.dumps(it.__dict__, ensure_ascii=False) + "\n")
        (d / "precedents.jsonl.tmp").replace(d / "precedents.jsonl")
        (d / "model.json.tmp").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
        (d / "model.json.tmp").replace(d / "model.json")
        return d

    @classmethod
    def load(cls, directory: str | Path) -> ValueModel:
        """Load a model directory written by :meth:`save`."""
        d = Path(directory)
        try:
            meta = json.loads((d / "model.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(f"{d}: not a model directory (no model.json)", hint="train one with `accord learn`") from None
        except json.JSONDecodeError as e:
            raise ModelError(f"{d / 'model.json'}: invalid JSON at line {e.lineno}") from None
        if meta.get("format_version") not in _READABLE_FORMATS or meta.get("kind") != "accord.ValueModel":
            raise ModelError(f"{d}: unsupported model format {meta.get('kind')!r} v{meta.get('format_version')}")
        try:
            arrays = np.load(d / "arrays.npz", allow_pickle=False)
            lines = (d / "precedents.jsonl").read_text(encoding="utf-8").splitlines()
        except (OSError, ValueError) as e:
            raise ModelError(f"{d}: incomplete model directory: {e}") from None
        params = dict(meta["params"])
        params.setdefault("lexical", 0)  # written before the lexical block existed
        m = cls(meta["principles"], **params)
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
        return m


def _check_finite(d: Path, m: ValueModel) -> None:
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


def _key(ea: np.ndarray, ec: np.ndarray) -> np.ndarray:
    """Precedent keys from unit action and context embeddings (a zero row where there is no context)."""
    return normalize_rows(ea + KEY_CONTEXT_WEIGHT * ec).astype(np.float32)


def _dense_block(ea: np.ndarray, ec: np.ndarray, ej: np.ndarray) -> np.ndarray:
    """``[e(a), e(c) * e(a) * sqrt(d), e(c + a)]`` written into one float32 array (no temporaries)."""
    n, d = ea.shape
    out = np.empty((n, 3 * d), np.float32)
    out[:, :d] = ea
    np.multiply(ec, ea, out=out[:, d:2 * d])
    out[:, d:2 * d] *= np.float32(np.sqrt(d))
    out[:, 2 * d:] = ej
    return out


def _half_if_exact(a: np.ndarray) -> np.ndarray:
    """``a`` as float16 when that loses nothing (weights rounded at fit time), else unchanged."""
    h = a.astype(np.float16)
    return h if np.array_equal(h.astype(a.dtype), a) else a
