"""scripts/train_decision_model.py: the corpus as it stood at an author, and the recipe its card records."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_decision_model.py"


@pytest.fixture(scope="module")
def tdm():
    spec = importlib.util.spec_from_file_location("train_decision_model", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["train_decision_model"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_an_author_is_read_by_number_not_as_text(tdm) -> None:
    assert tdm.author_number("c9") < tdm.author_number("c50") < tdm.author_number("c51")
    for bad in ("50", "x50", "c", "c5a"):
        with pytest.raises(argparse.ArgumentTypeError, match="not a corpus author"):
            tdm.author_number(bad)


def test_the_corpus_as_of_an_author_takes_later_authors_only_by_name(tdm) -> None:
    rows = [{"id": f"c{n}-0001"} for n in (1, 9, 50, 51, 60, 67, 70)]
    assert [r["id"] for r in tdm.corpus_as_of(rows, 50)] == ["c1-0001", "c9-0001", "c50-0001"]
    assert [r["id"] for r in tdm.corpus_as_of(rows, 50, tdm.author_list("c67, c70"))] == [
        "c1-0001", "c9-0001", "c50-0001", "c67-0001", "c70-0001"]
    with pytest.raises(argparse.ArgumentTypeError, match="not a corpus author"):
        tdm.author_list("c67,67")


def test_the_card_records_a_continued_cross_encoder_and_its_learning_rate(tdm) -> None:
    assert tdm.finetune_command({"pair_weight": "0.5"}) == "python scripts/finetune_decision.py --pair-weight 0.5"
    card = {"pair_weight": "0.5", "init": "cross-encoder.safetensors", "sample": "3000", "content": "1",
            "augment_context": "0.6", "keep": "1.0", "epochs": "1.0", "lr": "0.0003", "focus": ""}
    assert tdm.finetune_command(card) == (
        "python scripts/finetune_decision.py --pair-weight 0.5 && python scripts/finetune_decision.py "
        "--init cross-encoder.safetensors --sample 3000 --content --augment-context 0.6 --keep 1.0 --epochs 1.0 "
        "--lr 0.0003 --pair-weight 0.5")
    assert "--lr (not recorded)" in tdm.finetune_command({k: v for k, v in card.items() if k != "lr"})
    from_export = tdm.finetune_command({**card, "init": "shipped.onnx", "base": "onnx:shipped.onnx",
                                        "teacher": "a.onnx=0.7,b.onnx=0.3", "teacher_weight": "2.0"})
    assert "--init-onnx shipped.onnx" in from_export and from_export.endswith("--teacher a.onnx=0.7,b.onnx=0.3 --teacher-weight 2.0")


def test_no_training_script_reads_the_reference_suite_authors(tdm) -> None:
    """The packaged reference suite (c61-c66's pairs) measures a retrained model only while no
    packaged model has seen it: the corpus the training scripts read leaves those authors out."""
    rows = tdm.corpus_rows()
    authors = {tdm.author_number(r["id"].split("-")[0]) for r in rows}
    assert 60 in authors and 1 in authors
    assert not authors & set(tdm.REFERENCE_AUTHORS)
