"""Fixtures for batch audits: real cases from the corpus, the default gate with a time budget
that a busy CI machine cannot exceed (a time-out is decided by load, not by the case), and the
verdicts a single-process ``accord check --input`` gives on them, the reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accord.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus" / "cases.jsonl"
runner = CliRunner()


def strip(verdict: dict) -> dict:
    """A verdict without what differs between any two runs: its trace id and its latency."""
    v = dict(verdict)
    v.pop("trace_id")
    v.pop("latency_ms")
    return v


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


def write_cases(path: Path, n: int, *, original: bool = False) -> Path:
    """The first ``n`` corpus cases (context, action, id; and the corpus's decision as original_decision)."""
    out = []
    with open(CORPUS, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            row = {k: r[k] for k in ("id", "context", "action") if k in r}
            if original and r.get("decision") in ("allow", "revise", "escalate", "block"):
                row["original_decision"] = r["decision"]
            out.append(json.dumps(row, ensure_ascii=False))
            if len(out) == n:
                break
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def cases_600(batch_dir) -> Path:
    return write_cases(batch_dir / "cases600.jsonl", 600)


@pytest.fixture(scope="session")
def reference_600(cases_600, slow_charter) -> list[dict]:
    """``accord check --input`` (one process, chunks of 256) on the 600 cases: the verdicts to match."""
    r = runner.invoke(app, ["check", "--input", str(cases_600), "--json", "--no-record", "-c", str(slow_charter)])
    assert r.exit_code == 0, r.output
    out = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert len(out) == 600
    return out


def batch_verdicts(path: Path) -> list[dict]:
    """The verdicts of a batch's JSONL or Parquet output, in its order."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        t = pq.read_table(path)
        assert t.column("index").to_pylist() == list(range(t.num_rows))
        return [json.loads(v) for v in t.column("verdict").to_pylist()]
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["index"] for r in rows] == list(range(len(rows)))
    return [r["verdict"] for r in rows]
