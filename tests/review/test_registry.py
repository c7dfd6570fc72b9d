"""The model registry (accord.learning.registry) and who reads it: the commands, never the gate."""

from __future__ import annotations

import pytest

from accord.errors import InputError
from accord.learning import registry
from accord.learning.value_model import ValueModel


def test_register_promote_rollback_and_the_command_side_lookup(store, base_model_dir, tmp_path, monkeypatch):
    from accord.cli.models_in_use import model_in_use
    from accord.learning.models import current_model_dir, default_model_dir

    base = registry.ensure_current(store, "default", base_model_dir, actor="t")
    assert registry.current(store).id == base.id and registry.promoted_dir(store) == base_model_dir.resolve()
    # a second version: saved, registered (not in use), then promoted and rolled back
    model = ValueModel.load(base_model_dir)
    model.reward_coef_ = model.reward_coef_ + 0.5  # other weights: another version id
    model._version = None
    path = model.save(tmp_path / "v2", name="default")
    second = ValueModel.load(path)
    assert second.version != base.version
    mid = registry.register(store, "default", second, path, metrics={}, actor="t")
    assert registry.is_registered(store, "default", second.version).id == mid
    assert registry.current(store).id == base.id  # registered is not in use
    registry.decide(store, mid, name="default", version=second.version, current_version=base.version,
                    promoted=True, reason="test", actor="t")
    assert registry.current_path(store) == path.resolve()

    # the commands use the promoted version; loading a model without a directory never reads the store
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ACCORD_MODEL", raising=False)
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{tmp_path / 'review.db'}")  # the store fixture's file
    assert model_in_use(None) == path.resolve()
    assert model_in_use(tmp_path / "explicit") == tmp_path / "explicit"
    assert current_model_dir(None) == default_model_dir()

    withdrawn, restored = registry.rollback(store, actor="t", reason="test")
    assert withdrawn.id == mid and restored.id == base.id
    with pytest.raises(InputError, match="nothing to roll back"):
        registry.rollback(store, actor="t", reason="again")
    with pytest.raises(InputError, match="no model version"):
        registry.find_version(store, "model-nope")


def test_a_refusal_is_an_audit_event_not_a_promotion(store, base_model_dir):
    base = registry.ensure_current(store, "default", base_model_dir, actor="t")
    registry.decide(store, base.id, name="default", version=base.version, current_version=base.version,
                    promoted=False, reason="refused: worse", actor="t")
    assert registry.current(store).id == base.id
    assert any(e.kind == "model.refused" and e.payload["reason"] == "refused: worse" for e in store.audit_events())
