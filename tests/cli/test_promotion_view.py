"""The promotion gate's table in the terminal shows both of the gate's rules: errors and missed harm."""

from __future__ import annotations

from rich.console import Console

from accord.cli.promotion_view import print_promotion
from accord.review.retrain import PromotionResult, _versus


def test_the_table_shows_the_missed_harm_that_refused_a_candidate():
    cur = {"n": 520, "errors": 138, "unacceptable": 260, "missed": 58, "accuracy": 0.735}
    cand = {"n": 520, "errors": 135, "unacceptable": 260, "missed": 67, "accuracy": 0.740}
    row = _versus("reference pairs (packaged) (decision model)", cur, cand, 0.02)
    result = PromotionResult(False, "refused: " + row.why, "default", "model-new", None, None, None, [row])
    console = Console(record=True, width=160)
    print_promotion(result, console)
    text = console.export_text()
    assert "missed (of 260 unacceptable)" in text and "58" in text and "67" in text
    assert "worse" in text and "not promoted" in text
    assert "lets through more unacceptable cases of reference pairs (packaged) (decision model): 67 vs 58 of 260" in text
