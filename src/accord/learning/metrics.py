"""Agreement metrics between a judge and people: precision, recall, F1, AUPRC, pairwise accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class BinaryMetrics:
    """Agreement on "unacceptable" (the positive class)."""

    n: int
    positives: int
    precision: float
    recall: float
    f1: float
    auprc: float | None
    accuracy: float
    fpr: float | None  # share of acceptable cases flagged

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def binary_metrics(y_true: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray,
                   flagged: Sequence[bool] | np.ndarray | None = None, threshold: float = 0.5) -> BinaryMetrics:
    """Metrics for scores (probability of unacceptable); ``flagged`` overrides the threshold rule."""
    y = np.asarray(y_true, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    pred = np.asarray(flagged, dtype=bool) if flagged is not None else s >= threshold
    from sklearn.metrics import (  # slow import: on use
        average_precision_score,
        precision_recall_fscore_support,
    )

    p, r, f, _ = precision_recall_fscore_support(y, pred.astype(int), average="binary", zero_division=0)
    both = len(set(y.tolist())) == 2
    neg = y == 0
    return BinaryMetrics(
        n=len(y), positives=int(y.sum()), precision=round(float(p), 4), recall=round(float(r), 4), f1=round(float(f), 4),
        auprc=round(float(average_precision_score(y, s)), 4) if both else None,
        accuracy=round(float((pred == y.astype(bool)).mean()), 4) if len(y) else 0.0,
        fpr=round(float(pred[neg].mean()), 4) if neg.any() else None,
    )


def pairwise_accuracy(chosen_rewards: np.ndarray, rejected_rewards: np.ndarray) -> float:
    """Share of pairs where the chosen action gets the higher reward (ties count half)."""
    if not len(chosen_rewards):
        return float("nan")
    diff = np.asarray(chosen_rewards) - np.asarray(rejected_rewards)
    return round(float(((diff > 0) + 0.5 * (diff == 0)).mean()), 4)
