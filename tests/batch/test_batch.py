"""accord audit batch: the same verdicts as accord check --input, output formats, inputs, errors, the store."""

from __future__ import annotations

import json

import pytest
from batch_helpers import batch_verdicts, close, runner, strip, write_cases

from accord.cli.main import app
from accord.store import Store


def _batch(*args: str) -> object:
    return runner.invoke(app, ["audit", "batch", *args])


@pytest.mark.slow  # 600 cases judged three times (check --input, JSONL and Parquet shards): 42 s of the default
# run at load 6-8; the other batch tests here and tests/batch/test_resume.py run the engine by default; CI runs -m slow
def test_local_engine_matches_check_input(cases_600, reference_600, slow_charter, tmp_path):
    """One process, shards of 256: every verdict equal to check's (but for trace id and latency), same order;
    the Parquet output holds the same verdicts, and its columns agree with them."""
    pytest.importorskip("pyarrow", reason="Parquet needs pyarrow: pip install 'accord[scale]'")
    out = tmp_path / "out.jsonl"
    r = _batch(str(cases_600), "-o", str(out), "-c", str(slow_charter), "--shard-size", "256")
    assert r.exit_code == 0, r.output
    got = batch_verdicts(out)
    assert [strip(v) for v in got] == [strip(v) for v in reference_600]
    assert len({v["trace_id"] for v in got}) == 600
    pq_out = tmp_path / "out.parquet"
    r = _batch(str(cases_600), "-o", str(pq_out), "-c", str(slow_charter), "--shard-size", "512")
    assert r.exit_code == 0, r.output
    assert [strip(v) for v in batch_verdicts(pq_out)] == [strip(v) for v in reference_600]
    import pyarrow.parquet as pq

    t = pq.read_table(pq_out).to_pylist()
    assert [row["decision"] for row in t] == [v["decision"] for v in reference_600]
    assert [row["case_id"] for row in t] == [json.loads(line)["id"] for line in cases_600.read_text().splitlines()]


@pytest.mark.slow  # two spawned workers each import accord and load the models: ~20 s on a busy 2-core VM
def test_two_worker_processes_match_check_input(cases_600, reference_600, slow_charter, tmp_path):
    out = tmp_path / "out.jsonl"
    r = _batch(str(cases_600), "-o", str(out), "-c", str(slow_charter), "--shard-size", "256", "--workers", "2")
    assert r.exit_code == 0, r.output
    assert [strip(v) for v in batch_verdicts(out)] == [close(v) for v in reference_600]


def test_summary_counts_changes_against_original_decisions(slow_charter, tmp_path):
    cases = write_cases(tmp_path / "c.jsonl", 120, original=True)
    # the corpus's own labels are the model's training data, which it may reproduce exactly: every
    # tenth case gets a recorded decision of "revise", which no judge of this gate gives these cases,
    # so the batch has changes to count whatever the model
    rows = [json.loads(line) for line in cases.read_text().splitlines()]
    for r in rows[::10]:
        r["original_decision"] = "revise"
    cases.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    originals = [r.get("original_decision") for r in rows]
    out = tmp_path / "out.jsonl"
    r = _batch(str(cases), "-o", str(out), "-c", str(slow_charter), "--shard-size", "256", "--json", "--top", "5")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)["summary"]
    got = batch_verdicts(out)
    changed = sum(1 for o, v in zip(originals, got, strict=True) if o and o != v["decision"])
    assert s["compared"] == sum(1 for o in originals if o)
    assert s["changed"] == changed > 0
    assert sum(s["decisions"].values()) == 120
    assert len(s["top_changes"]) == min(5, changed)
    for c in s["top_changes"]:
        assert c["original"] == originals[c["index"]] != c["decision"] == got[c["index"]]["decision"]
    for pid, row in s["principles"].items():
        assert sum(row.values()) == sum(1 for v in got if any(p["id"] == pid and p["violated"] for p in v["principles"]))
    # the tables, for a person
    r = _batch(str(cases), "-o", str(out), "-c", str(slow_charter), "--shard-size", "256")
    assert r.exit_code == 0, r.output
    assert "changes against the original decisions" in r.stdout and "top changed cases" in r.stdout


def test_csv_and_parquet_inputs_read_as_jsonl(cases_600, slow_charter, tmp_path):
    pytest.importorskip("pyarrow", reason="Parquet needs pyarrow: pip install 'accord[scale]'")
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [json.loads(line) for line in cases_600.read_text().splitlines()[:40]]
    rows[3]["community"] = "cautious"
    jl = tmp_path / "c.jsonl"
    jl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    flat = [{"id": r["id"], "context": r.get("context", ""), "action": r["action"] if isinstance(r["action"], str)
             else json.dumps(r["action"]), "community": r.get("community")} for r in rows]
    if any(not isinstance(r["action"], str) for r in rows):  # tool calls: Parquet keeps structure, CSV cannot
        rows = [r for r in rows if isinstance(r["action"], str)]
        flat = [f for f in flat if not f["action"].startswith("{")]
        jl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    pq.write_table(pa.Table.from_pylist(flat), tmp_path / "c.parquet")
    import csv

    with open(tmp_path / "c.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["id", "context", "action", "community"])
        w.writeheader()
        w.writerows(flat)
    results = {}
    for name in ("c.jsonl", "c.parquet", "c.csv"):
        out = tmp_path / f"{name}.out.jsonl"
        r = _batch(str(tmp_path / name), "-o", str(out), "-c", str(slow_charter), "--shard-size", "256")
        assert r.exit_code == 0, r.output
        results[name] = [strip(v) for v in batch_verdicts(out)]
    assert results["c.jsonl"] == results["c.parquet"] == results["c.csv"]
    assert len(results["c.csv"]) == len(rows)


@pytest.mark.parametrize(("content", "suffix", "expect"), [
    ('{"action": "ok"}\n{"action": "x", "colour": 1}\n', ".jsonl", "c.jsonl:2: colour: unknown field"),
    ('{"action": "ok"}\nnot json\n', ".jsonl", "c.jsonl:2: not valid JSON"),
    ('{"action": "ok", "original_decision": "maybe"}\n', ".jsonl", "c.jsonl:1: original_decision: 'maybe' is not a decision"),
    ("id,action,colour\n1,hello,red\n", ".csv", "unknown column(s) 'colour'"),
    ("id,context\n1,hello\n", ".csv", "no 'action' column"),
    ("action\nhello\n", ".txt", "cannot tell the format"),
])
def test_bad_input_names_file_line_and_field(tmp_path, content, suffix, expect):
    p = tmp_path / f"c{suffix}"
    p.write_text(content)
    r = _batch(str(p), "-o", str(tmp_path / "o.jsonl"))
    assert r.exit_code == 2
    assert expect in r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize(("args", "expect"), [
    (["--shard-size", "300"], "--shard-size must be a positive multiple of 256"),
    (["--engine", "spark"], "unknown engine 'spark'"),
    (["--address", "ray://x:1"], "--address is for --engine ray"),
    (["--since", "2026-01-01"], "use them with --from-store"),
    (["--community", "nobody"], "unknown community 'nobody'"),
    (["-o", "out.csv"], "cannot tell the output format"),
])
def test_bad_options_are_clear_errors(cases_600, tmp_path, args, expect):
    args = [a if a != "out.csv" else str(tmp_path / "out.csv") for a in args]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "o.jsonl")]
    r = _batch(str(cases_600), *args)
    assert r.exit_code == 2, r.output
    assert expect in r.output
    assert "Traceback" not in r.output


def test_store_history_rejudged_and_written_back_as_a_labelled_reaudit(cases_600, slow_charter, tmp_path):
    """Every decision since a date, re-judged: the originals stay, the re-audit is new rows pointing to them,
    the chain still verifies, and running the same command again writes nothing twice."""
    db = f"sqlite:///{tmp_path / 'audit.db'}"
    small = write_cases(tmp_path / "c.jsonl", 120)
    r = runner.invoke(app, ["check", "--input", str(small), "--json", "--db", db, "-c", str(slow_charter),
                            "--judges", "rules,model"])
    assert r.exit_code == 0, r.output
    with Store.open(db) as store:
        before = store.decisions(limit=None)
    assert len(before) == 120
    out = tmp_path / "re.jsonl"
    args = ["--from-store", "--since", "2000-01-01", "--db", db, "-o", str(out), "-c", str(slow_charter),
            "--shard-size", "256", "--to-store", "default gate", "--json"]
    r = _batch(*args)
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["cases"] == 120 and res["stored"] == 120 and res["store_skipped"] == 0
    summary = res["summary"]
    assert summary["compared"] == 120  # the originals come from the store
    got = batch_verdicts(out)
    changed = sum(1 for b, v in zip(before[::-1], got, strict=True) if b.decision != v["decision"])
    assert summary["changed"] == changed > 0  # rules,model then; the default gate (with the decision model) now
    with Store.open(db) as store:
        after = store.decisions(limit=None)
        assert len(after) == 240
        assert [d.as_dict() for d in after[120:]] == [d.as_dict() for d in before]  # history unchanged
        re = after[:120][::-1]
        assert {d.source for d in re} == {"reaudit:default gate"}
        assert [d.case_json["meta"]["reaudit_of"] for d in re] == [b.trace_id for b in before[::-1]]
        assert [d.decision for d in re] == [v["decision"] for v in got]
        assert store.verify().ok
    r = _batch(*args)  # the same job again: the shards and the store rows are found, none written twice
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["shards_skipped"] == 1 and res["stored"] == 0 and res["store_skipped"] == 120
    with Store.open(db) as store:
        assert len(store.decisions(limit=None)) == 240
        assert store.verify().ok


def test_empty_store_window_is_an_error(tmp_path):
    db = f"sqlite:///{tmp_path / 'audit.db'}"
    r = _batch("--from-store", "--since", "2999-01-01", "--db", db, "-o", str(tmp_path / "o.jsonl"))
    assert r.exit_code == 2 and "no cases to judge" in r.output
    r = _batch("--from-store", "--since", "yesterday", "--db", db, "-o", str(tmp_path / "o.jsonl"))
    assert r.exit_code == 2 and "--since: 'yesterday' is not an ISO 8601 date" in r.output


def test_ray_actors_get_this_process_blas_threads(monkeypatch):
    """Ray gives a one-CPU actor OMP_NUM_THREADS=1; a local Ray started by accord passes this process's
    counts instead, so its sums (and verdicts) match ``accord check`` (18 of 4,096 differed)."""
    import os

    from accord.batch.engines import _blas_threads
    from accord.speedups import blas_threads

    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(v, raising=False)
    assert _blas_threads() == dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"),
                                            str(blas_threads() or os.cpu_count() or 1))
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    assert _blas_threads()["OPENBLAS_NUM_THREADS"] == "3"
