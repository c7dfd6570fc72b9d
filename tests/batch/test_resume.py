"""A killed batch job, run again, skips its finished shards and ends with every verdict exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_helpers import batch_verdicts, close, runner, strip

import accord.batch.job as job_mod
from accord.cli.main import app

ACCORD = str(Path(sys.executable).parent / "accord")


def _markers(work: Path) -> list[str]:
    return sorted(p.name for p in work.glob("shard-*.done"))


@pytest.mark.slow  # a real process: imports, models and three shards, ~15 s on a busy VM (the in-process crash test below is slow-marked too)
def test_killed_job_resumes_without_duplicated_or_missing_verdicts(cases_600, reference_600, slow_charter, tmp_path):
    """SIGKILL a real ``accord audit batch`` process once it has finished a shard, then run the same command."""
    out = tmp_path / "out.jsonl"
    work = tmp_path / "out.jsonl.parts"
    cmd = [ACCORD, "audit", "batch", str(cases_600), "-o", str(out), "-c", str(slow_charter), "--shard-size", "256"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 240
        while not _markers(work) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    done = _markers(work)
    assert done, "the job never finished a shard"
    if len(done) == 3 or out.exists():
        pytest.fail("the job finished before it could be killed; use more cases")
    r = runner.invoke(app, ["audit", "batch", str(cases_600), "-o", str(out), "-c", str(slow_charter),
                            "--shard-size", "256", "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["shards_skipped"] == len(done) and res["shards"] == 3
    got = batch_verdicts(out)  # also checks the indexes run 0..599 in order
    assert len(got) == 600 and len({v["trace_id"] for v in got}) == 600
    assert [strip(v) for v in got] == [close(v) for v in reference_600]  # two processes' shards


@pytest.mark.slow  # two shards judged, one redone, against a 300-case reference: 36 s of the default run
# on 2026-12-04 (issue 16's bar is 4 minutes for the whole run); CI runs it with -m slow, as the
# killed-process test above
def test_crash_midway_and_damaged_shards_are_redone(cases_300, reference_300, slow_charter, tmp_path, monkeypatch):
    out = tmp_path / "out.jsonl"
    work = tmp_path / "out.jsonl.parts"
    real = job_mod.run_shards

    def crash_after_one(engine, spec, shards, job_id, on_done, **kw):
        def once(sid, lines):
            on_done(sid, lines)
            raise KeyboardInterrupt("killed")

        return real(engine, spec, shards, job_id, once, **kw)

    monkeypatch.setattr(job_mod, "run_shards", crash_after_one)
    args = ["audit", "batch", str(cases_300), "-o", str(out), "-c", str(slow_charter), "--shard-size", "256", "--json"]
    r = runner.invoke(app, args)
    assert r.exit_code != 0 and not out.exists()
    assert _markers(work) == ["shard-000000.done"]
    monkeypatch.setattr(job_mod, "run_shards", real)
    # shard 1 half-written when the job died (no marker); shard 0's file damaged after its marker
    (work / "shard-000001.jsonl").write_text('{"decision": "allow"}\n')
    first_trace = json.loads((work / "shard-000000.jsonl").read_text().splitlines()[0])["trace_id"]
    lines = (work / "shard-000000.jsonl").read_text().splitlines()
    lines[-1] = lines[-1].replace('"risk":', '"risk": ', 1)  # still JSON, same count: only the hash tells
    (work / "shard-000000.jsonl").write_text("\n".join(lines) + "\n")
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["shards_skipped"] == 0
    got = batch_verdicts(out)
    assert [strip(v) for v in got] == [strip(v) for v in reference_300]
    assert got[0]["trace_id"] == first_trace  # trace ids are the job's, the same on every run
    assert _markers(work) == [f"shard-00000{i}.done" for i in range(2)]


def test_work_folder_of_another_job_is_refused_until_restart(cases_600, slow_charter, tmp_path):
    small = tmp_path / "c.jsonl"
    small.write_text("".join(cases_600.read_text().splitlines(keepends=True)[:20]))
    out = tmp_path / "o.jsonl"
    base = ["audit", "batch", str(small), "-o", str(out), "-c", str(slow_charter), "--shard-size", "256"]
    assert runner.invoke(app, base).exit_code == 0
    r = runner.invoke(app, [*base, "--judges", "rules,model"])
    assert r.exit_code == 2
    assert "holds another job" in r.output and "judge_version" in r.output and "--restart" in r.output
    r = runner.invoke(app, [*base, "--judges", "rules,model", "--restart", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["shards_skipped"] == 0
    assert all("+decision-" not in v["judge_version"] for v in batch_verdicts(out))
