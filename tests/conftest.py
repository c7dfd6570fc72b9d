"""Shared fixtures: a small value model trained on the default charter's examples (fast, seeded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.charter import load_charter
from accord.judges.value_model import ValueModel
from accord.learning.feedback import charter_examples

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

#: pytester runs a small pytest in process (tests/cli/test_first_hour.py checks the summary below)
pytest_plugins = ["pytester"]


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


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say why tests were skipped or left out, one line per reason, and how to run them.

    pytest's own summary only counts them ("31 skipped"); a new contributor should not have to
    rerun with ``-rs`` to learn that 30 need PostgreSQL and one needs a data set.
    """
    skipped = terminalreporter.stats.get("skipped", [])
    reasons: dict[str, int] = {}
    for rep in skipped:
        longrepr = rep.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        reason = reason.removeprefix("Skipped: ").strip()
        reasons[reason] = reasons.get(reason, 0) + 1
    deselected = len(terminalreporter.stats.get("deselected", []))
    if not reasons and not deselected:
        return
    terminalreporter.write_sep("-", "not run, and why")
    for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"{n:4d} skipped: {reason}")
    if deselected:
        marker, keyword = config.getoption("markexpr") or "", config.getoption("keyword") or ""
        if marker and not keyword:
            hint = " (slow tests; run them with: python -m pytest -m slow)" if "not slow" in marker else ""
            terminalreporter.write_line(f"{deselected:4d} deselected by -m {marker!r}{hint}")
        else:
            terminalreporter.write_line(f"{deselected:4d} deselected by -k/-m")
