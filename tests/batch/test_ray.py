"""--engine ray: Ray Data map_batches over Gate.check_many gives accord check --input's verdicts.

Marked slow: starting a local Ray and its two actors (each importing accord and loading the
models) takes 30-45 s on a busy 2-core VM. Skipped, with the reason, where Ray is not installed
(it comes with ``pip install 'accord[scale]'``; .ci/run installs it).
"""

from __future__ import annotations

import json

import pytest
from batch_helpers import batch_verdicts, close, runner, strip

from accord.cli.main import app

pytest.importorskip("ray", reason="Ray is not installed: pip install 'accord[scale]'")
pytestmark = pytest.mark.slow


def test_ray_engine_matches_check_input_and_resumes(cases_600, reference_600, slow_charter, tmp_path):
    out = tmp_path / "out.parquet"
    work = tmp_path / "out.parquet.parts"
    args = ["audit", "batch", str(cases_600), "-o", str(out), "-c", str(slow_charter), "--shard-size", "256",
            "--engine", "ray", "--workers", "2", "--json"]
    # a shard left by an earlier, killed run: Ray judges only the two others
    r = runner.invoke(app, ["audit", "batch", str(cases_600), "-o", str(out), "-c", str(slow_charter),
                            "--shard-size", "256", "--json"])
    assert r.exit_code == 0, r.output
    for p in work.glob("shard-00000[12].*"):
        p.unlink()
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["shards_skipped"] == 1 and res["cases"] == 600
    assert [strip(v) for v in batch_verdicts(out)] == [close(v) for v in reference_600]
    # and a whole job on Ray
    r = runner.invoke(app, [*args, "--restart"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["shards_skipped"] == 0
    assert [strip(v) for v in batch_verdicts(out)] == [close(v) for v in reference_600]


def test_unreachable_cluster_is_a_clear_error(cases_600, tmp_path):
    r = runner.invoke(app, ["audit", "batch", str(cases_600), "-o", str(tmp_path / "o.jsonl"), "--engine", "ray",
                            "--address", "127.0.0.1:1"])
    assert r.exit_code == 2, r.output
    assert "cannot start the Ray cluster at 127.0.0.1:1" in r.output
    assert "Traceback" not in r.output
