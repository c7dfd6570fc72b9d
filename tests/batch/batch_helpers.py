"""Helpers for the batch tests (a module of its own: ``conftest`` is a name several test folders use)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus" / "cases.jsonl"
runner = CliRunner()


def strip(verdict: dict) -> dict:
    """A verdict without what differs between any two runs: its trace id and its latency."""
    v = dict(verdict)
    v.pop("trace_id")
    v.pop("latency_ms")
    return v


def close(verdict: dict, abs_tol: float = 1e-5) -> Any:
    """:func:`strip`, with every float as ``pytest.approx(abs=abs_tol)``: for comparing verdicts made
    in another process. Two reasons a score moves in its seventh decimal there (0.96296883 against
    0.96296889); everything else, the decisions included, must match exactly:

    - BLAS on another number of threads (Ray gives a one-CPU actor ``OMP_NUM_THREADS=1``): OpenBLAS
      sums the neighbour similarities in another order;
    - the batch a text was first encoded in: the encoders pad a batch to its longest text and cache
      each text's vector, so a process that judged other cases first (the reference after a slow
      retrain test in the same pytest run) holds vectors that differ from a fresh worker's by ~1e-7
      (measured 2026-12-07: 26 of 256 corpus cases judged in batches of 7 first, then again in one
      batch of 256, moved a score by 1e-7; no decision moved)."""

    def walk(x: Any) -> Any:
        if isinstance(x, float):
            return pytest.approx(x, abs=abs_tol)
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x

    return walk(strip(verdict))


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
