"""How urgently a person should look at an escalated case: uncertainty × severity.

The gate escalates what it is unsure about; among those, the cases nearest a coin flip on a
critical principle teach the judge most and carry the most risk, so they come first. The
active-learning order (:func:`expected_improvement`) goes further and ranks a whole queue by how
much one review is expected to move the model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from accord.judges.value_model import ValueModel
from accord.types import Case, Verdict

#: how much a principle's severity weighs in the priority (critical cases first)
SEVERITY_WEIGHT: dict[str, float] = {"critical": 1.0, "high": 0.75, "medium": 0.5, "low": 0.25}


def uncertainty(p: float) -> float:
    """``1 - |2p - 1|``: 1 at a coin flip (p = 0.5), 0 at certainty (p = 0 or 1)."""
    p = min(max(float(p), 0.0), 1.0)
    return 1.0 - abs(2.0 * p - 1.0)


def verdict_uncertainty(verdict: Verdict) -> float:
    """How unsure the judge was about a verdict, in [0, 1].

    The learned score of the top principle is the model's probability of a violation (the top
    principle carries the whole risk), so its distance from 0.5 is the model's certainty. A hard
    rule that escalates, a judge failure or a time-out leaves the question fully open (1.0): a
    person was asked precisely because nothing could decide.
    """
    if verdict.errors:
        return 1.0
    learned = [p.score for p in verdict.principles if not p.source.startswith("rule")]
    if verdict.decision == "escalate" and verdict.explanation.rule is not None:
        return 1.0  # a hard rule sent it to people: the model's confidence is beside the point
    if not learned:
        return 1.0 if verdict.decision == "escalate" else 0.0
    return uncertainty(max(learned))


def verdict_severity(verdict: Verdict) -> float:
    """The severity weight of the principle that matters most in the verdict.

    That is the most severe principle the verdict marks violated; with none, the top-scored one.
    """
    violated = [p for p in verdict.principles if p.violated]
    pool = violated or verdict.principles[:1]
    if not pool:
        return SEVERITY_WEIGHT["medium"]
    return max(SEVERITY_WEIGHT.get(p.severity, 0.5) for p in pool)


def review_priority(verdict: Verdict) -> float:
    """Queue priority of an escalated verdict: uncertainty × severity, in [0, 1], rounded."""
    return round(verdict_uncertainty(verdict) * verdict_severity(verdict), 6)


def expected_improvement(model: ValueModel, cases: Sequence[Case], *, density_k: int = 10) -> np.ndarray:
    """Active-learning scores: how much reviewing each case is expected to improve the model.

    For a logistic head the gradient of the log-loss on a new label ``y`` is ``(p - y)·x``, so the
    expected gradient length over the model's own belief about ``y`` is ``2·p·(1 - p)·‖x‖``. A case
    that many other pending cases resemble teaches more than an outlier, so the score is weighted
    by the case's density in the pool (mean similarity to its ``density_k`` nearest neighbours),
    which keeps the queue from chasing noise. Higher is better; the scale is relative.
    """
    if not cases:
        return np.zeros(0)
    pairs = [(c.context_text, c.action_text) for c in cases]
    F, J = model.embed(pairs)  # features and precedent keys
    p = model.predict_proba(cases)[:, 1]
    egl = 2.0 * p * (1.0 - p) * np.linalg.norm(F, axis=1)
    if len(cases) > 1:
        S = J @ J.T
        np.fill_diagonal(S, -np.inf)
        k = min(density_k, len(cases) - 1)
        top = -np.sort(-S, axis=1)[:, :k]
        density = np.clip(top.mean(axis=1), 0.0, 1.0)
    else:
        density = np.ones(1)
    return egl * (0.5 + density)
