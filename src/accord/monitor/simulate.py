"""A simulated production stream, for ``bench/drift.py`` and the tests.

One day of traffic is a list of :class:`SampledCase`: texts drawn from a pool of normal requests,
a community per case, per-principle scores from a fixed generative model, and the decision a
band policy makes from them; plus, per day, reviews of escalated cases that agree with the judge
at a fixed rate. Each *shift* changes one thing from a given day on:

* ``new-type``: a share of requests comes from a pool of a kind the model has never seen;
* ``escalates``: a new model escalates more (its escalation band is wider; scores unchanged);
* ``creep``: one principle's scores creep up, a little more each day;
* ``reviewers``: reviewers start disagreeing with the judge more often.

The control stream has no shift: any alarm on it is a false alarm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from accord.monitor.windows import SampledCase, Window

__all__ = ["PRINCIPLES", "SHIFTS", "Stream"]

PRINCIPLES = ("harm", "privacy", "honesty", "fairness", "autonomy", "wellbeing", "legality", "safety_oversight",
              "helpfulness")
_MAIN_P = np.array([0.25, 0.15, 0.12, 0.1, 0.08, 0.1, 0.08, 0.06, 0.06])
SHIFTS = ("new-type", "escalates", "creep", "reviewers")
COMMUNITIES: tuple[str | None, ...] = (None, "cautious", "libertarian")
_COMMUNITY_P = (0.6, 0.25, 0.15)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


@dataclass
class Stream:
    """A seeded stream of days of traffic.

    Args:
        normal: ``(context, action)`` pool of everyday requests.
        novel: pool of the new request type (for the ``new-type`` shift).
        seed: the stream's seed.
        per_day: mean decisions per day (Poisson).
        shift: one of :data:`SHIFTS`, or ``None`` for the control stream.
        onset: the first shifted day (days count from 0).
        novel_share: share of requests of the new type once it appears.
        escalate_band: the escalation band after an ``escalates`` shift (before: 0.45–0.8).
        creep_principle: the principle whose scores creep up.
        creep_per_day: how far its scores' logits move per shifted day.
        reviews_per_day: reviews written per day.
        agreement: share of reviews agreeing with the judge; ``agreement_after`` after a ``reviewers`` shift.
    """

    normal: Sequence[tuple[str, str]]
    novel: Sequence[tuple[str, str]] = ()
    seed: int = 0
    per_day: int = 1500
    shift: str | None = None
    onset: int = 7
    novel_share: float = 0.12
    escalate_band: tuple[float, float] = (0.35, 0.85)
    creep_principle: str = "privacy"
    creep_per_day: float = 1.5
    reviews_per_day: int = 150
    agreement: float = 0.8
    agreement_after: float = 0.55

    def __post_init__(self) -> None:
        if self.shift is not None and self.shift not in SHIFTS:
            raise ValueError(f"unknown shift {self.shift!r}; expected one of: {', '.join(SHIFTS)}")
        if self.shift == "new-type" and not self.novel:
            raise ValueError("the new-type shift needs a pool of novel requests")

    def window(self, days: range, start: datetime, *, max_sample: int) -> Window:
        """The days ``days`` as one window, day 0 beginning at ``start``."""
        cases: list[SampledCase] = []
        agree: list[bool] = []
        for d in days:
            c, a = self.day(d)
            cases += c
            agree += a
        return Window.of(start + timedelta(days=days.start), start + timedelta(days=days.stop), cases,
                         agreement=agree, max_sample=max_sample)

    def day(self, d: int) -> tuple[list[SampledCase], list[bool]]:
        """The decisions and review agreements of day ``d`` (the same for the same seed and day)."""
        rng = np.random.default_rng([self.seed, d, SHIFTS.index(self.shift) + 1 if self.shift else 0])
        k = d - self.onset + 1 if self.shift is not None and d >= self.onset else 0  # days into the shift
        n = int(rng.poisson(self.per_day))
        novel = (rng.random(n) < self.novel_share) if self.shift == "new-type" and k > 0 else np.zeros(n, bool)
        idx_n = rng.integers(0, len(self.normal), n)
        idx_v = rng.integers(0, max(len(self.novel), 1), n)
        comm = rng.choice(len(COMMUNITIES), n, p=_COMMUNITY_P)
        risk = rng.beta(0.6, 4.0, n)
        main = rng.choice(len(PRINCIPLES), n, p=_MAIN_P)
        main_score = _sigmoid(_logit(risk) + rng.normal(0, 0.5, n))
        extra = rng.random((n, len(PRINCIPLES))) < 0.15
        extra_score = rng.beta(1.0, 12.0, (n, len(PRINCIPLES)))
        scores = np.where(extra, extra_score, 0.0)
        scores[np.arange(n), main] = main_score
        listed = extra.copy()
        listed[np.arange(n), main] = True
        if self.shift == "creep" and k > 0:
            j = PRINCIPLES.index(self.creep_principle)
            scores[:, j] = np.where(listed[:, j], _sigmoid(_logit(scores[:, j]) + self.creep_per_day * k), 0.0)
        lo, hi = self.escalate_band if self.shift == "escalates" and k > 0 else (0.45, 0.8)
        top = scores.max(axis=1)
        cases = []
        for i in range(n):
            shift_c = 0.05 if COMMUNITIES[comm[i]] == "cautious" else 0.0
            t = top[i] + shift_c
            decision = "block" if t >= hi else "escalate" if t >= lo else "revise" if t >= 0.3 else "allow"
            ctx, act = self.novel[idx_v[i]] if novel[i] else self.normal[idx_n[i]]
            cases.append(SampledCase(f"s{self.seed}-d{d}-{i}", ctx, act, COMMUNITIES[comm[i]], decision,
                                     {PRINCIPLES[j]: round(float(scores[i, j]), 4) for j in np.flatnonzero(listed[i])}))
        rate = self.agreement_after if self.shift == "reviewers" and k > 0 else self.agreement
        agree = (rng.random(self.reviews_per_day) < rate).tolist()
        return cases, agree
