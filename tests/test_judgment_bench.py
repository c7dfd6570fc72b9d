"""bench/judgment.py's own logic: the per-kind sample and which configurations it runs."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def judgment():
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("judgment_bench", BENCH / "judgment.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_per_kind_sample_is_even_spread_and_the_same_every_time(judgment):
    items = judgment.held_out_set("dev")
    sample = judgment.per_kind(items, 5)
    kinds = Counter(k for _, _, k in sample)
    assert set(kinds) == {k for _, _, k in items} and set(kinds.values()) == {5}
    assert [c.id for c, _, _ in sample] == [c.id for c, _, _ in judgment.per_kind(items, 5)]
    harmful = [c.id for c, _, k in items if k == "harmful"]
    picked = [c.id for c, _, k in sample if k == "harmful"]
    assert picked[0] == harmful[0] and picked[-1] in harmful[len(harmful) // 2:]  # spread, not the first five


def test_llm_configurations_need_a_configured_judge(judgment, monkeypatch, capsys):
    for v in judgment.LLM_ENV:
        monkeypatch.delenv(v, raising=False)
    assert judgment.main(["--configs", "llm,llm-only", "--sets", "dev", "--per-kind", "1"]) == 2
    out = capsys.readouterr()
    assert "llm: skipped" in out.out and "llm-only: skipped" in out.out and "ACCORD_LLM_GGUF" in out.out
    assert "no gate configuration left" in out.err


def test_an_unknown_configuration_is_named(judgment, capsys):
    with pytest.raises(SystemExit) as e:
        judgment.main(["--configs", "fastest", "--sets", "dev"])
    assert e.value.code == 2 and "unknown configuration fastest" in capsys.readouterr().err
