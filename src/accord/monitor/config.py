"""The drift monitor's settings: window lengths, the significance level and the effect floors.

An alarm needs both a *significant* difference (after a Benjamini-Hochberg correction over every
test of one run, so adding principles or communities does not add false alarms) and a difference
*large enough to matter* (an effect floor): with a day of production traffic, a test alone flags
shifts too small for anyone to act on.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MonitorConfig"]


class MonitorConfig(BaseModel):
    """How the drift monitor compares a recent window with a reference window.

    Attributes:
        window: length of the recent window (ending at the run's ``end``).
        reference_days: length of the default reference window (from the current model's promotion).
        alpha: significance level after the Benjamini-Hochberg correction over all tests of a run.
        min_decisions: fewer decisions than this in either window: the decision and score tests
            are not run (reported as ``too few``), never an alarm.
        min_tvd: decision alarm floor: total variation distance between the two decision mixes
            (half the sum of absolute rate changes; 0.03 = three in a hundred decisions moved).
        min_psi: score alarm floor: population stability index of a principle's scores (0.1 is
            the usual "moderate shift" line; 0.25 "major").
        min_far_increase: input alarm floor: rise in the share of cases far from the training set
            (absolute, 0.03 = three points).
        novelty_quantile: a case is *far* when its nearest training case is less similar than
            this quantile of the training cases' own nearest-neighbour similarities.
        min_cluster: smallest new cluster of far cases that is reported.
        cluster_distance: cosine distance at which average-linkage clustering stops merging.
        max_sample: at most this many cases per window are read for the score and input tests
            (a uniform stride over the window); decision counts are always exact.
        min_reviews: fewer judge-vs-reviewer comparisons than this in either window: the agreement
            test is not run.
        min_agreement_drop: agreement alarm floor (absolute drop of the share of reviews that
            agree with the judge's leaning).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: timedelta = timedelta(days=1)
    reference_days: float = Field(default=7.0, gt=0)
    alpha: float = Field(default=0.001, gt=0, lt=1)
    min_decisions: int = Field(default=50, ge=1)
    min_tvd: float = Field(default=0.03, ge=0, le=1)
    min_psi: float = Field(default=0.1, ge=0)
    min_far_increase: float = Field(default=0.03, ge=0, le=1)
    novelty_quantile: float = Field(default=0.05, gt=0, lt=1)
    min_cluster: int = Field(default=10, ge=2)
    cluster_distance: float = Field(default=0.35, gt=0, lt=2)
    max_sample: int = Field(default=5000, ge=100)
    min_reviews: int = Field(default=20, ge=1)
    min_agreement_drop: float = Field(default=0.10, ge=0, le=1)
