"""Weighted logistic regression with a Gaussian prior centred on earlier weights.

This is what lets learning *build on* a model: ``partial_fit`` minimises the log-loss of the
new data plus ``lam/2 * ||w - w_prior||^2``, so the new feedback moves the model from where it
was instead of starting over. With ``w_prior = 0`` it is plain L2-regularised logistic regression.
Deterministic (L-BFGS from a fixed start), which gives "same data and seed, same model".

The design matrix may be a dense array, a SciPy sparse matrix, or a tuple of column blocks
(for example dense embedding features next to sparse lexical features) that is never stacked
into one matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from accord.speedups import one_blas_thread


class Blocks:
    """Column blocks ``[B1 | B2 | ...]`` used as one matrix (products only, no copy)."""

    def __init__(self, blocks: Sequence[Any]) -> None:
        # products run in the blocks' own precision (float32 features: half the memory traffic);
        # the optimiser's state, the loss and the sums over examples stay in float64
        self.blocks = [np.ascontiguousarray(b) if isinstance(b, np.ndarray) else b.tocsr() for b in blocks]
        self.blocks = [b if b.dtype in (np.float32, np.float64) else b.astype(np.float64) for b in self.blocks]
        self._bt = [b.T.tocsr() if not isinstance(b, np.ndarray) else None for b in self.blocks]
        self.widths = [b.shape[1] for b in self.blocks]
        self.shape = (self.blocks[0].shape[0], sum(self.widths))

    def matvec(self, w: np.ndarray) -> np.ndarray:
        out = np.zeros(self.shape[0])
        start = 0
        for b, k in zip(self.blocks, self.widths, strict=True):
            if k:
                out += b @ w[start:start + k].astype(b.dtype)
            start += k
        return out

    def rmatvec(self, g: np.ndarray) -> np.ndarray:
        return np.concatenate([np.asarray((b.T if bt is None else bt) @ g.astype(b.dtype), dtype=np.float64).ravel()
                               for b, bt in zip(self.blocks, self._bt, strict=True)])


def as_design(X: Any) -> Blocks:
    """A dense array, a sparse matrix or a tuple of blocks, as :class:`Blocks`."""
    if isinstance(X, Blocks):
        return X
    if isinstance(X, tuple | list):
        return Blocks(X)
    return Blocks([X])


def fit_logistic(
    X: Any,
    y: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    lam: float = 1.0,
    w_prior: np.ndarray | None = None,
    b_prior: float = 0.0,
    max_iter: int = 300,
    tol: float = 1e-7,
    w_init: np.ndarray | None = None,
    b_init: float | None = None,
) -> tuple[np.ndarray, float]:
    """Fit ``P(y=1|x) = sigmoid(x @ w + b)``; returns ``(w, b)``.

    ``tol`` is L-BFGS's relative reduction of the loss at which it stops (probabilities then move
    by well under 0.01); ``w_init`` / ``b_init`` start the search elsewhere than at the prior
    (for example from a fit on part of the same data), which only saves time.
    """
    A = as_design(X)
    n, d = A.shape
    y = y.astype(np.float64)
    s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    s = s * (n / max(s.sum(), 1e-12))
    w0 = np.zeros(d) if w_prior is None else w_prior.astype(np.float64)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        z = A.matvec(w) + b
        # log(1 + e^z) - y z, computed stably
        ll = np.logaddexp(0.0, z) - y * z
        g = s * (expit(z) - y)
        diff = w - w0
        f = float(s @ ll) + 0.5 * lam * float(diff @ diff)
        grad = np.empty(d + 1)
        grad[:d] = A.rmatvec(g) + lam * diff
        grad[d] = g.sum()
        return f, grad

    start = np.concatenate([w0 if w_init is None else w_init.astype(np.float64), [b_prior if b_init is None else b_init]])
    # BLAS on one thread: L-BFGS's products are vector-sized, and on a busy 2-core machine two BLAS
    # threads made a fit on the charter's examples 6-9x slower (29.5 s -> 3.3-4.7 s wall, load 8)
    with one_blas_thread():
        res = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": max_iter, "ftol": tol})
    return res.x[:d].astype(np.float32), float(res.x[d])


def balanced_weights(y: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
    """Sample weights that give each class equal total weight (times any base weights)."""
    w = np.ones(len(y)) if base is None else base.astype(np.float64).copy()
    for cls in (0, 1):
        m = y == cls
        if m.any():
            w[m] *= len(y) / (2.0 * w[m].sum())
    return w
