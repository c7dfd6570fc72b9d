"""The value model's features: what its heads and its precedent memory see of a case.

* dense features ``[e(a), e(c) * e(a), e(c + a)]`` from the text encoder (see
  :mod:`accord.learning.value_model` for why the joint terms);
* a lexical block of the action: case-folded token unigrams and hashed token bigrams (binary,
  L2-normalised), read off an additive encoder's own tokenisation;
* the precedent key ``e(a) + KEY_CONTEXT_WEIGHT * e(c)`` of both unit embeddings.

:class:`ValueFeatures` is the first layer of :class:`~accord.learning.value_model.ValueModel`; the
hyperparameters it reads (``encoder``, ``lexical``, ``lexical_scale``) are set by the model's
constructor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from accord.errors import ModelError
from accord.learning.encoders import (
    AdditiveEncoder,
    Encoder,
    as_additive,
    get_encoder,
    normalize_rows,
)
from accord.types import Case

#: how much the context counts in the precedent key, relative to the action (both unit vectors)
KEY_CONTEXT_WEIGHT = 1.0
CaseLike = Case | tuple[str, str] | str
BIGRAM_MULT = 1_000_003
#: cases per judge time budget on a static (additive) encoder: a fraction of a millisecond each
STATIC_CASES_PER_BUDGET = 256


@dataclass
class Feats:
    """Features of a batch: dense block, lexical block (or None) and the precedent keys."""

    dense: np.ndarray
    lex: Any  # CSR matrix or None; for occlusion variants a _VariantLex, which only supports ``@``
    joint: np.ndarray  # precedent-memory key, see KEY_CONTEXT_WEIGHT

    def __len__(self) -> int:
        return self.dense.shape[0]

    def rows(self, idx: Sequence[int] | np.ndarray) -> Feats:
        idx = np.asarray(idx, dtype=np.int64)
        return Feats(self.dense[idx], self.lex[idx] if self.lex is not None else None, self.joint[idx])

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


def as_pair(x: CaseLike) -> tuple[str, str]:
    """``(context, action)`` text of a case-like input."""
    if isinstance(x, Case):
        return x.context_text, x.action_text
    if isinstance(x, tuple):
        return x[0], x[1]
    return "", x



def precedent_key(ea: np.ndarray, ec: np.ndarray) -> np.ndarray:
    """Precedent keys from unit action and context embeddings (a zero row where there is no context)."""
    return normalize_rows(ea + KEY_CONTEXT_WEIGHT * ec).astype(np.float32)


def dense_block(ea: np.ndarray, ec: np.ndarray, ej: np.ndarray) -> np.ndarray:
    """``[e(a), e(c) * e(a) * sqrt(d), e(c + a)]`` written into one float32 array (no temporaries)."""
    n, d = ea.shape
    out = np.empty((n, 3 * d), np.float32)
    out[:, :d] = ea
    np.multiply(ec, ea, out=out[:, d:2 * d])
    out[:, d:2 * d] *= np.float32(np.sqrt(d))
    out[:, 2 * d:] = ej
    return out



class ValueFeatures:
    """Encoding and features (the first layer of the value model)."""

    encoder: str
    lexical: int
    lexical_scale: float

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
                nv + (low[ba].astype(np.int64) * BIGRAM_MULT + low[bb].astype(np.int64)) % nb)

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

    def _feats(self, pairs: Sequence[tuple[str, str]]) -> Feats:
        """Dense features ``[e(a), e(c)*e(a), e(c+a)]``, the lexical block, and the precedent keys."""
        enc = self._enc
        additive = as_additive(enc)
        d = enc.dim
        n = len(pairs)
        if not n:
            return Feats(np.zeros((0, 3 * d), np.float32), sparse.csr_matrix((0, self._lexical_dim), dtype=np.float32)
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
        dense = dense_block(ea, ec, ej)
        return Feats(dense, lex, precedent_key(ea, ec))

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
