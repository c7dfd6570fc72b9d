"""Fixtures for batch audits: real cases from the corpus, the default gate with a time budget
that a busy CI machine cannot exceed (a time-out is decided by load, not by the case), and the
verdicts a single-process ``accord check --input`` gives on them, the reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from batch_helpers import ROOT, runner, write_cases

from accord.cli.main import app


@pytest.fixture(scope="session")
def batch_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("batch")


@pytest.fixture(scope="session")
def slow_charter(batch_dir) -> Path:
    """The default charter with a 10-minute judge time budget."""
    text = (ROOT / "src" / "accord" / "data" / "default_charter.yaml").read_text(encoding="utf-8")
    assert "judge_timeout_ms: 2000" in text
    p = batch_dir / "charter.yaml"
    p.write_text(text.replace("judge_timeout_ms: 2000", "judge_timeout_ms: 600000"), encoding="utf-8")
    return p


@pytest.fixture(scope="session")
def cases_600(batch_dir) -> Path:
    return write_cases(batch_dir / "cases600.jsonl", 600)


def _reference(cases: Path, charter: Path, n: int) -> list[dict]:
    """``accord check --input`` (one process, chunks of 256) on ``cases``: the verdicts to match."""
    r = runner.invoke(app, ["check", "--input", str(cases), "--json", "--no-record", "-c", str(charter)])
    assert r.exit_code == 0, r.output
    out = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert len(out) == n
    timed_out = [v["case_id"] for v in out if v["errors"]]
    assert not timed_out, (f"the reference itself has judge errors or time-outs ({len(timed_out)}): is the charter's "
                           "10-minute budget in force? (a charter ignored by Gate.from_charter looked like this, 1c15225)")
    return out


@pytest.fixture(scope="session")
def reference_600(cases_600, slow_charter) -> list[dict]:
    return _reference(cases_600, slow_charter, 600)


@pytest.fixture(scope="session")
def cases_300(batch_dir) -> Path:
    """Two shards of 256 (256, 44) for the in-process resume test: half the judging of the 600 cases
    the slow tests use."""
    return write_cases(batch_dir / "cases300.jsonl", 300)


@pytest.fixture(scope="session")
def reference_300(cases_300, slow_charter) -> list[dict]:
    return _reference(cases_300, slow_charter, 300)
