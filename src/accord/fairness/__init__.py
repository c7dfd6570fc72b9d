"""Fairness tests: demographic swaps, the BBQ suite, flip rates with intervals, and group metrics.

* :mod:`accord.fairness.swap`: rewrite the people in a text across one protected attribute
  (gender, age, ethnicity or national origin, religion, disability, sexual orientation); the
  ``swap_*`` mutations of ``accord test`` (``--mutations demographic``).
* :mod:`accord.fairness.flips`: compare each swapped variant with its original; flip rates per
  attribute and attribute pair with Wilson intervals (``summary["fairness"]`` of a suite report).
* :mod:`accord.suites.bbq`: the BBQ suite (``accord test bbq``) and its bias scores.
* :mod:`accord.fairness.groups`: decision rates per community or declared attribute over the
  audit store, with Fairlearn's MetricFrame (the ``accord[fairness]`` extra).

See ``docs/fairness.md``. Names are loaded on first use, so ``import accord.fairness`` stays
light and the suites can import the swaps without a cycle.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "ATTRIBUTES": "swap", "swap": "swap", "swap_details": "swap", "swap_pairs": "swap", "lexicon": "swap",
    "wilson": "flips", "flip_summary": "flips", "mark_flips": "flips", "behaviour": "flips", "answer_options": "flips",
    "bbq_suite": "bbq", "bbq_summary": "bbq", "load_bbq": "bbq", "parse_answer": "bbq", "CATEGORIES": "bbq",
    "group_metrics": "groups", "declared_value": "groups",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'accord.fairness' has no attribute {name!r}")
    return getattr(import_module(f"accord.fairness.{mod}"), name)
