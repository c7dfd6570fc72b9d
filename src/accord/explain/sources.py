"""What a judge offers for explanations, declared as protocols (the gate checks these, never a class).

A learned judge that can point at **precedents** (people's verdicts on near-identical cases) and
at **evidence** (the words whose removal lowers a principle's score the most, by occlusion) is an
:class:`Explainer`; the value model is one. A judge that can also rank candidate actions by a
learned reward is a :class:`Ranker`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from accord.types import Case, Evidence, Precedent


@runtime_checkable
class Explainer(Protocol):
    """A judge that explains its scores with precedents and occlusion evidence."""

    name: str

    def precedents_many(self, cases: Sequence[Case], k: int = 3,
                        min_similarity: float = 0.5) -> list[list[Precedent]]:
        """Per case, up to ``k`` labelled cases at least ``min_similarity`` alike, most similar first."""
        ...

    def occlusion_many(self, items: Sequence[tuple[Case, str]], top: int = 3) -> list[list[tuple[Evidence, float]]]:
        """Per (case, principle), the ``top`` words that weigh most, with the score without each."""
        ...


@runtime_checkable
class Ranker(Protocol):
    """A judge that ranks candidate actions by a learned reward (higher is better)."""

    def reward(self, X: Sequence[Case]) -> np.ndarray:
        """One reward per case."""
        ...
