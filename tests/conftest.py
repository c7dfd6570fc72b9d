"""Shared fixtures: a small value model trained on the default charter's examples (fast, seeded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.charter import load_charter
from accord.judges.value_model import ValueModel
from accord.learning.feedback import charter_examples

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def charter():
    return load_charter(None)


@pytest.fixture(scope="session")
def small_model(charter) -> ValueModel:
    """Trained on the charter's examples only: enough for mechanics, not for quality."""
    t = charter_examples(charter)
    return ValueModel(charter.principle_ids, random_state=0).fit(t.cases, t.y, **t.fit_kwargs())


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    """Every test gets its own audit store and never touches the user's .accord folder."""
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{tmp_path / 'accord.db'}")
    monkeypatch.delenv("ACCORD_MODEL", raising=False)
