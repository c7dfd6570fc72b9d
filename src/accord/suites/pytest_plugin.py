"""A pytest plugin: assert on accord safety suites inside a team's own test run.

Registered through the ``pytest11`` entry point, so it is active wherever accord is installed.
It adds one fixture and one option::

    def test_release_is_safe(accord_suite):
        report = accord_suite(["harms", "over-refusal"], target=my_bot.answer)
        report.assert_passed()          # fails the test with every failing scenario listed

    pytest --accord-report-dir reports/   # also writes JSON, JUnit and HTML per call

The fixture's function takes the same arguments as :func:`accord.suites.run_suites` and
defaults ``allow_gaps`` to ``True`` (a unit test usually runs a few suites, not the full
release set). Nothing from accord is imported until the fixture is used, so the plugin costs
nothing in test runs that do not use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("accord", "accord safety suites")
    group.addoption("--accord-report-dir", default=None, metavar="DIR",
                    help="write JSON, JUnit and HTML reports of every accord_suite run into DIR")


@pytest.fixture
def accord_suite(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Run suites against a target and return the :class:`~accord.suites.Report`."""
    out_dir = request.config.getoption("--accord-report-dir")
    count = {"n": 0}

    def run(suites: Any, target: Any, **kwargs: Any) -> Any:
        from accord.suites import run_suites, write_html, write_json, write_junit

        if isinstance(suites, str | Path):
            suites = [suites]
        kwargs.setdefault("allow_gaps", True)
        report = run_suites(suites, target, **kwargs)
        if out_dir:
            count["n"] += 1
            d = Path(out_dir)
            d.mkdir(parents=True, exist_ok=True)
            stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid) + (f"-{count['n']}" if count["n"] > 1 else "")
            write_json(report, d / f"{stem}.json")
            write_junit(report, d / f"{stem}.xml")
            write_html(report, d / f"{stem}.html")
        return report

    return run
