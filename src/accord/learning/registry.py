"""The model registry: which value-model versions exist, which is in use, and how that changes.

One place for every question about model versions, over the audit store's ``model_versions`` and
``model_events`` tables:

* **find**: :func:`find_version` (by id or version string), :func:`current` / :func:`current_path`
  (the version in use), :func:`anchor_items` and :func:`trained_until` (what a version was
  trained on and held out);
* **register**: :func:`ensure_current` (the first time, the model in use becomes the baseline) and
  :func:`register`;
* **promote, refuse, roll back**: :func:`promote`, :func:`decide` (a candidate's promotion or
  its recorded refusal), :func:`rollback`.

Every function takes the :class:`~accord.store.Store` as an argument and never opens one: the
commands and servers own the store, and judging never touches a database (a gate is given a model
directory, e.g. ``current_path(store)``). Whether a candidate *may* replace the current model is
decided by the promotion gate in :mod:`accord.review.retrain`; this module records the outcome.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from accord.errors import InputError
from accord.learning.models import packaged_model_dir
from accord.learning.value_model import ValueModel
from accord.store import ModelVersion, Store

#: the model name reviews train by default (``accord models`` lists every name)
DEFAULT_NAME = "default"


# ---------------------------------------------------------------------- find
def current(store: Store, name: str = DEFAULT_NAME) -> ModelVersion | None:
    """The version of ``name`` in use, or ``None`` when none is registered."""
    return store.current_model(name)


def current_path(store: Store, name: str = DEFAULT_NAME) -> Path | None:
    """The directory of the version of ``name`` in use, or ``None`` when none is registered."""
    cur = store.current_model(name)
    return Path(cur.path) if cur is not None else None


def promoted_dir(store: Store, name: str = DEFAULT_NAME) -> Path | None:
    """:func:`current_path` when its files are there (a moved or deleted directory counts as none)."""
    path = current_path(store, name)
    return path if path is not None and (path / "model.json").exists() else None


def find_version(store: Store, ref: str, name: str | None = None) -> ModelVersion:
    """A registered version by id (``12``) or version string (``model-ab12…``, a unique prefix works)."""
    versions = store.model_versions(name)
    if ref.isdigit():
        hit = [m for m in versions if m.id == int(ref)]
    else:
        hit = [m for m in versions if m.version == ref] or [m for m in versions if m.version.startswith(ref)]
    if not hit:
        raise InputError(f"no model version {ref!r}" + (f" of {name!r}" if name else ""),
                         hint="list them with: accord models list")
    if len(hit) > 1:
        raise InputError(f"{ref!r} matches {len(hit)} versions; give the id", hint="accord models list")
    return hit[0]


def is_registered(store: Store, name: str, version: str) -> ModelVersion | None:
    """The registered version of ``name`` with this version string, if any."""
    return next((m for m in store.model_versions(name) if m.version == version), None)


def anchor_items(store: Store, name: str) -> set[int]:
    """Items held out by the versions promoted and still standing (in use or superseded, not rolled back)."""
    out: set[int] = set()
    for m in store.model_versions(name):
        if m.status in ("current", "superseded"):
            out |= {int(i) for i in (m.metrics or {}).get("holdout_items", [])}
    return out


def trained_until(m: ModelVersion | None) -> _dt.datetime | None:
    """The time of the newest review a version was trained on (``None``: none, or unknown)."""
    s = (m.metrics or {}).get("trained_until") if m is not None else None
    return _dt.datetime.fromisoformat(s) if s else None


# ---------------------------------------------------------------------- register
def small_card(model: ValueModel) -> dict[str, Any]:
    """The model card as the registry keeps it (without the training history)."""
    card = dict(model.card_)
    card.pop("history", None)
    return card


def register(store: Store, name: str, model: ValueModel, path: str | Path, *, metrics: dict[str, Any],
             actor: str) -> int:
    """Register a saved model version (not yet in use); returns its id."""
    return store.add_model_version(name, model.version, str(Path(path).resolve()), card=small_card(model),
                                   metrics=metrics, actor=actor)


def ensure_current(store: Store, name: str = DEFAULT_NAME, base_model_dir: str | Path | None = None, *,
                   actor: str = "accord") -> ModelVersion:
    """The version of ``name`` in use; the first time, ``base_model_dir`` is registered and promoted as the baseline.

    ``base_model_dir`` defaults to the packaged model of that name (``strong``: the stronger tier;
    any other name: the default model). Registering the baseline makes the first retrain
    reversible: rolling it back returns to the baseline.
    """
    cur = store.current_model(name)
    if cur is not None:
        return cur
    path = Path(base_model_dir) if base_model_dir else packaged_model_dir(name)
    model = ValueModel.load(path)
    known = is_registered(store, name, model.version)
    mid = known.id if known else register(store, name, model, path, metrics={"baseline": True}, actor=actor)
    store.model_event(mid, "promote", actor, f"baseline: the model in use before the first retrain ({path})")
    cur = store.current_model(name)
    assert cur is not None
    return cur


# ---------------------------------------------------------------------- promote, refuse, roll back
def promote(store: Store, ref: str, *, actor: str, reason: str, name: str | None = None) -> ModelVersion:
    """Put a registered version in use (a ``promote`` model event with who and why)."""
    m = find_version(store, ref, name)
    if not Path(m.path, "model.json").exists():
        raise InputError(f"model version {m.id} ({m.version}) has no files at {m.path}",
                         hint="a model directory that was moved or deleted cannot be promoted")
    if m.current:
        raise InputError(f"model version {m.id} ({m.version}) is already in use")
    store.model_event(m.id, "promote", actor, reason)
    return find_version(store, str(m.id))


def decide(store: Store, model_id: int, *, name: str, version: str, current_version: str, promoted: bool,
           reason: str, actor: str) -> None:
    """Record the promotion gate's answer for a registered candidate: a ``promote`` model event, or
    a ``model.refused`` audit event; both with who and why."""
    if promoted:
        store.model_event(model_id, "promote", actor, reason)
    else:
        store.audit("model.refused", actor, {"name": name, "version": version, "model_id": model_id, "reason": reason,
                                             "current": current_version})


def rollback(store: Store, *, actor: str, reason: str, name: str = DEFAULT_NAME) -> tuple[ModelVersion, ModelVersion]:
    """Withdraw the version of ``name`` in use; the one promoted before it is in use again.

    Returns ``(withdrawn, restored)``. The baseline (nothing before it) cannot be rolled back.
    """
    cur = store.current_model(name)
    if cur is None:
        raise InputError(f"no version of {name!r} is in use", hint="accord models list")
    promoted_before = [m for m in store.model_versions(name) if m.status == "superseded"]
    if not promoted_before:
        raise InputError(f"{cur.version} is the only version of {name!r} ever promoted; there is nothing to roll back to")
    store.model_event(cur.id, "rollback", actor, reason)
    restored = store.current_model(name)
    assert restored is not None
    return find_version(store, str(cur.id)), restored
