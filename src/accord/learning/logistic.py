"""Weighted logistic regression with a Gaussian prior centred on earlier weights.

This is what lets learning *build on* a model: ``partial_fit`` minimises the log-loss of the
new data plus ``lam/2 * ||w - w_prior||^2``, so the new feedback moves the model from where it
was instead of starting over. With ``w_prior = 0`` it is plain L2-regularised logistic regression.
Deterministic (L-BFGS from a fixed start), which gives "same data and seed, same model".
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit


def fit_logistic(
    X: np.ndarray,
    y: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    lam: float = 1.0,
    w_prior: np.ndarray | None = None,
    b_prior: float = 0.0,
    max_iter: int = 300,
) -> tuple[np.ndarray, float]:
    """Fit ``P(y=1|x) = sigmoid(x @ w + b)``; returns ``(w, b)``."""
    n, d = X.shape
    X = X.astype(np.float64, copy=False)
    y = y.astype(np.float64)
    s = np.ones(n) if sample_weight is None else sample_weight.astype(np.float64)
    s = s * (n / max(s.sum(), 1e-12))
    w0 = np.zeros(d) if w_prior is None else w_prior.astype(np.float64)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        z = X @ w + b
        # log(1 + e^z) - y z, computed stably
        ll = np.logaddexp(0.0, z) - y * z
        g = s * (expit(z) - y)
        diff = w - w0
        f = float(s @ ll) + 0.5 * lam * float(diff @ diff)
        grad = np.empty(d + 1)
        grad[:d] = X.T @ g + lam * diff
        grad[d] = g.sum()
        return f, grad

    start = np.concatenate([w0, [b_prior]])
    res = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    return res.x[:d].astype(np.float32), float(res.x[d])


def balanced_weights(y: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
    """Sample weights that give each class equal total weight (times any base weights)."""
    w = np.ones(len(y)) if base is None else base.astype(np.float64).copy()
    for cls in (0, 1):
        m = y == cls
        if m.any():
            w[m] *= len(y) / (2.0 * w[m].sum())
    return w
