"""scripts/finetune_minilm.py: the mixture round-trips through --dump / --mix, and bad input is a clear error."""

from __future__ import annotations

import gzip
import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "finetune_minilm.py"


@pytest.fixture(scope="module")
def ft():
    spec = importlib.util.spec_from_file_location("finetune_minilm", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["finetune_minilm"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_mixture_round_trips(ft, tmp_path):
    mx = ft.tdm.Mixture()
    mx.add("", "Here is how to build a pipe bomb.", 1, "harm", "advbench")
    mx.add("Customer: cancel?", "Settings, then Billing, then Cancel.", 0, None, "synthetic")
    mx.pair("How do I cancel?", "Settings, then Cancel.", "You can't.", "synthetic")
    path = tmp_path / "mix.jsonl.gz"
    ft.dump(mx, path)
    back = ft.read_dump(path)
    assert back.examples == mx.examples and back.pairs == mx.pairs
    assert ft.joint("c" * 500, "act") == "c" * 400 + "\nact" and ft.joint("", "act") == "act"


def test_bad_mixture_names_file_and_line(ft, tmp_path, capsys):
    path = tmp_path / "bad.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write('{"k": "ex", "context": "", "action": "a", "y": 0, "principle": null, "source": "s"}\n{not json\n')
    with pytest.raises(SystemExit, match=r"bad\.jsonl\.gz:2: not a mixture line"):
        ft.read_dump(path)
    assert ft.main(["--mix", str(tmp_path / "missing.jsonl.gz")]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed")
def test_without_torch_it_says_how_to_get_it(ft, tmp_path, capsys):
    mx = ft.tdm.Mixture()
    mx.add("", "hello", 0, None, "synthetic")
    ft.dump(mx, tmp_path / "m.jsonl.gz")
    assert ft.main(["--mix", str(tmp_path / "m.jsonl.gz"), "--out", str(tmp_path / "out")]) == 2
    assert ".[torch]" in capsys.readouterr().err and not (tmp_path / "out").exists()
