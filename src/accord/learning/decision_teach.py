"""Teaching a fitted decision model a team's verdicts and preferences (:meth:`DecisionModel.teach`).

A lesson is a small correction fitted on top of the packaged model, not a retrain: the corpus the
model remembers holds everything else in place. Kept apart from :mod:`accord.learning.decision`,
which fits, predicts and saves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from scipy.optimize import minimize

from accord.errors import ModelError
from accord.learning.cross_encoder import POOLED_DIM
from accord.learning.decision import DECISIONS, HOLD, POOLED_L2, DecisionModel, _softmax
from accord.types import Case


def _prefer(p: np.ndarray, chosen: np.ndarray, weight: float, R: np.ndarray) -> float:
    """The Bradley–Terry loss of preferring row ``chosen[j]`` over row ``chosen[j] + 1`` of the
    probabilities ``p``, on each row's allow margin ``m = log P(allow) − log P(block or escalate)``; its
    gradient with respect to the logits is added to ``R`` in place."""
    q = p[np.stack([chosen, chosen + 1])]  # (2, pairs, 3): the chosen rows, then the rejected ones
    stop = np.maximum(q[..., 1] + q[..., 2], 1e-12)
    margin = np.log(np.maximum(q[..., 0], 1e-12)) - np.log(stop)
    diff = margin[0] - margin[1]
    loss = float(weight * np.sum(np.logaddexp(0.0, -diff)))
    g = -weight / (1.0 + np.exp(diff))  # d loss / d diff
    # d margin / d z: 1 for allow, minus the share of each stop class in P(stop)
    dm = np.stack([np.ones_like(stop), -q[..., 1] / stop, -q[..., 2] / stop], axis=-1)
    R[chosen] += g[:, None] * dm[0]
    R[chosen + 1] -= g[:, None] * dm[1]
    return loss


def _held(model: DecisionModel, taught: np.ndarray, decisions: Sequence[str], k: int) -> np.ndarray:
    """1 for the ``k`` remembered cases labelled ``allow`` nearest each taught stop (the cosine the
    neighbour vote reads), else 0."""
    _, M, votes, _, _ = model._memory_index()
    ok = votes[:, 0] > 0
    stops = np.asarray(taught, np.float32)[np.array([d != "allow" for d in decisions], dtype=bool)]
    out = np.zeros(len(M))
    if not len(stops):
        return out
    if ok.sum() <= k:  # a small memory: every acceptable case is held
        out[ok] = 1.0
        return out
    sims = np.where(ok[:, None], M @ stops.T, -np.inf)  # (remembered, taught stops)
    out[np.argpartition(-sims, k, axis=0)[:k].ravel()] = 1.0
    return out


def _objective(flat: np.ndarray, base: np.ndarray, Xd: np.ndarray, Xs: sparse.csr_matrix, Hd: np.ndarray | None,
               w: np.ndarray, Y: np.ndarray, chosen: np.ndarray | None, unit: float, l2: float,
               pooled_l2: float) -> tuple[float, np.ndarray]:
    """Teaching's loss and its gradient at ``flat`` = the corrections ``[Δ (3 × columns), Γ]``: the
    rows' cross-entropy against ``Y`` (one-hot for taught cases, the model's own probabilities for the
    remembered ones), weighted by ``w``; the preference term on the pairs at ``chosen``; the L2
    penalties. The gradient with respect to the logits is ``(p − Y)·w`` row by row, which is the
    gradient of this cross-entropy (``−log(p·Y)``, used before 2026-12-06, has another one: the line
    search then failed within a few steps and lessons were left half fitted)."""
    kd = Xd.shape[1]
    k = kd + Xs.shape[1]
    D, G = flat[: 3 * k].reshape(3, k), flat[3 * k:]
    z = base + Xd @ D[:, :kd].T + np.asarray(Xs @ D[:, kd:].T)
    if Hd is not None:
        z = z + Hd @ G.reshape(3, -1).T
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    nll = -float(np.sum(w * (Y * np.log(np.maximum(p, 1e-12))).sum(axis=1)))
    R = (p - Y) * w[:, None]
    if chosen is not None:
        nll += _prefer(p, chosen, unit, R)
    gD = np.hstack([(Xd.T @ R).T, np.asarray((Xs.T @ R).T)])
    g = [gD.ravel() + 2 * l2 * flat[: 3 * k]]
    nll += l2 * float(flat[: 3 * k] @ flat[: 3 * k])
    if Hd is not None:
        g.append((R.T @ Hd).ravel() + 2 * pooled_l2 * G)
        nll += pooled_l2 * float(G @ G)
    return nll, np.concatenate(g)


def teach(model: DecisionModel, cases: Sequence[Case], decisions: Sequence[str], principles: Sequence[str | None], *,
          pairs: Sequence[tuple[Case, Case]] = (), share: float = 0.01, l2: float = 10.0,
          pooled_l2: float = POOLED_L2, max_iter: int = 200, hold: int = HOLD, hold_weight: float = 1.0) -> DecisionModel:
    """A copy of ``model`` taught a team's verdicts and preferences, without forgetting what it knew.

    Fits a correction ``Δ`` to the decision head and, with a cross-encoder that gives its pooled
    vectors ``h``, a correction ``Γ`` to the cross-encoder's head: the taught cases (together
    weighing ``share`` of the remembered corpus) and the remembered cases are fitted with the
    logits ``base + X·Δ + h·Γ``, under L2 penalties ``l2·|Δ|² + pooled_l2·|Γ|²`` that keep the
    model near the one it was (``pooled_l2=inf``: the linear head alone). The remembered cases are
    fitted to the model's own probabilities of them, not to their corpus labels (learning without
    forgetting): only the taught cases pull, and decisions unlike them stay as they were. What the
    taught cases have in common beyond their domain (their words, the shape of the action, "without
    asking") is what the corrections learn, so a handful of verdicts moves the same kind of case in
    other domains; the remembered corpus holds acceptable near-misses in place. Both experts are
    corrected because their logits add: a correction of the linear head alone cannot overrule a
    cross-encoder that is sure of the old decision. The taught cases join the precedents the verdicts cite.

    ``pairs`` are a team's preferences, ``(chosen, rejected)``: the better and the worse way to act
    in one situation. Each adds a Bradley–Terry term on the two cases' allow margins
    (``log P(allow) − log P(stop)``, each weighing as much as a taught case), so the corrections
    learn what separates the two: the one change a person made ("asks first" for "adds it
    without asking") is the feature taught, where verdicts alone cannot say which of their
    features made them wrong. A preference says which is better, not that either is acceptable,
    so neither side joins the remembered cases.

    ``hold`` remembered cases labelled ``allow`` nearest each taught stop (joint-embedding cosine)
    weigh ``hold_weight`` times a taught case instead of once: they are the acceptable near-misses a
    lesson is most likely to sweep up, and holding them at their own probabilities makes the
    corrections learn what separates the taught cases from them. ``hold=0``: every remembered case
    weighs the same.

    Returns:
        A new fitted model (this one is unchanged).
    """
    model._check_fitted()
    if not len(cases) and not len(pairs):
        return model
    bad = sorted({d for d in decisions if d not in DECISIONS})
    if bad:
        raise ValueError(f"unknown decision(s) {bad}; expected one of {DECISIONS}")
    Xm = model.__dict__.get("_memory_X")  # the remembered cases' features, computed once per model
    if Xm is None or Xm.shape[0] != len(model.memory_):
        # the semantic encoder's part of each remembered case is already in its stored joint embedding
        # (float16): read from there, featurising the memory again takes a third of the time (217 → 75 s
        # for the packaged model's 20,182 cases on two cores); the base and the targets below are
        # computed from the same rows, so the fit stays consistent with them
        Xm = model.featurizer.transform([Case(context=m["context"], action=m["action"]) for m in model.memory_],
                                        semantic=model.featurizer.semantic_of(model.memory_vectors_))[0]
        model.__dict__["_memory_X"] = Xm
    # rows: the remembered cases, the taught cases, then each pair's chosen and rejected case
    paired = [c for pair in pairs for c in pair]
    Xt, Jt = model.featurizer.transform([*cases, *paired])
    X = sparse.vstack([Xm, Xt], format="csr")
    n_mem, n_taught = len(model.memory_), len(cases)
    unit = max(1.0, share * max(n_mem, 1) / (n_taught + len(pairs)))  # a taught case's (and a pair's) weight
    w = np.ones(n_mem + n_taught + len(paired))
    w[n_mem:n_mem + n_taught] = unit
    w[n_mem + n_taught:] = 0.0  # the paired cases count through the preference term only
    if hold and n_mem:
        w[:n_mem] = np.maximum(w[:n_mem], _held(model, Jt[:n_taught], decisions, hold) * hold_weight * unit)
    chosen = n_mem + n_taught + 2 * np.arange(len(pairs))
    base = model._raw(X)
    taught_cross = taught_pooled = H = None
    if model.cross_ is not None:
        if model.memory_cross_ is None or len(model.memory_cross_) != n_mem:
            raise ModelError("the decision model's cross-encoder scores of its remembered cases are missing",
                             hint="reattach the cross-encoder (attach_cross_encoder) or retrain the model")
        taught_cross, _, taught_pooled = model.cross_.run([*cases, *paired])
        base = base + np.vstack([model.memory_cross_.astype(np.float32), taught_cross])
        if model.memory_pooled_ is not None and taught_pooled is not None:
            H = np.vstack([model.memory_pooled_.astype(np.float32), taught_pooled])
            if model.pooled_coef_ is not None:  # taught before: the earlier correction is part of the base
                base = base + H @ model.pooled_coef_.T
    # the pooled vectors as the fit reads them (None: Γ is not fitted, the linear head alone)
    Hd = H.astype(np.float64) if H is not None and np.isfinite(pooled_l2) else None
    fit_pooled = Hd is not None
    cols = np.unique(X.indices)  # sorted: the dense features' columns come first
    kd = int(np.searchsorted(cols, model.featurizer.dense_dim))
    # the dense block as an array (BLAS products), the hashed n-grams as a sparse matrix: the
    # dense block held as sparse made each step's two products take about a second
    Xd = X[:, cols[:kd]].toarray().astype(np.float64)
    Xs = X[:, cols[kd:]].tocsr()
    # the remembered cases hold the model's own probabilities, not their corpus labels: the heads
    # never fit those labels exactly, and fitting them again moved unrelated decisions (five taught
    # "block" verdicts let 6 more harmful, gaming or side-effect cases through on the held-out sets)
    Y = np.vstack([_softmax(base[:n_mem]), np.eye(3)[[DECISIONS.index(d) for d in decisions]],
                   np.zeros((len(paired), 3))])
    k = len(cols)
    kh = 3 * POOLED_DIM if fit_pooled else 0

    res = minimize(_objective, np.zeros(3 * k + kh), jac=True, method="L-BFGS-B", options={"maxiter": max_iter},
                   args=(base, Xd, Xs, Hd, w, Y, chosen if len(pairs) else None, unit, l2, pooled_l2))
    out = DecisionModel.__new__(DecisionModel)
    out.__dict__.update(model.__dict__)
    out.coef_ = model.coef_.copy()
    out.coef_[:, cols] += res.x[: 3 * k].reshape(3, k).astype(np.float32)
    out.coef_ = out.coef_.astype(np.float16).astype(np.float32)
    if fit_pooled:
        G = res.x[3 * k:].reshape(3, -1).astype(np.float32)
        out.pooled_coef_ = G if model.pooled_coef_ is None else model.pooled_coef_ + G
    out.memory_ = [*model.memory_, *({"context": c.context_text, "action": c.action_text, "decision": d, "principle": p,
                                     "taught": True} for c, d, p in zip(cases, decisions, principles, strict=True))]
    out.memory_vectors_ = np.vstack([model.memory_vectors_, Jt[:n_taught].astype(np.float16)])
    if taught_cross is not None and model.memory_cross_ is not None:
        out.memory_cross_ = np.vstack([model.memory_cross_, taught_cross[:n_taught].astype(np.float16)])
    if H is not None:  # the taught cases' pooled vectors join the memory's even when Γ was not fitted
        out.memory_pooled_ = H[:n_mem + n_taught].astype(np.float16)
    out.__dict__.pop("_memory_X", None)
    out.__dict__.pop("_knn", None)
    out.__dict__.pop("_knn_of", None)
    out.__dict__.pop("_version", None)
    out.card_ = {**model.card_, "taught": int(model.card_.get("taught", 0)) + len(cases),
                 "teach_fit": {"converged": bool(res.success), "iterations": int(res.nit)}}
    if len(pairs):
        out.card_["taught_preferences"] = int(model.card_.get("taught_preferences", 0)) + len(pairs)
    return out
