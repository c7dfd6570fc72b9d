"""Fixtures for the fairness tests: where the BBQ data is (skip with the reason when it is not)."""

from __future__ import annotations

from pathlib import Path

import pytest

BBQ = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "bbq"


@pytest.fixture(scope="session")
def bbq_path() -> Path:
    if not (BBQ / "Age.jsonl.gz").exists():
        pytest.skip(f"the BBQ data is not at {BBQ} (see ../shared/data/bbq/SOURCE.md)")
    return BBQ


@pytest.fixture(scope="session")
def gate():
    """The gate ``accord test`` puts between a target and the world (rules + the packaged value model)."""
    from accord.gate import Gate
    from accord.suites.runner import SUITE_JUDGES

    return Gate.from_charter(None, judges=SUITE_JUDGES)
