from __future__ import annotations

import pytest

from accord.errors import FeedbackError
from accord.learning.feedback import read_cases, read_feedback, read_labels, write_feedback
from accord.types import Demonstration, Label, Preference


def test_round_trip(tmp_path):
    recs = [Label(context="c", action="a", verdict="unacceptable", principle="harm"),
            Preference(context="c", chosen="x", rejected="y"), Demonstration(context="c", action="z")]
    p = tmp_path / "f.jsonl"
    assert write_feedback(recs, p) == 3
    assert read_feedback(p) == recs


@pytest.mark.parametrize(("line", "fragment"), [
    ('{"kind": "label", "action": "a", "verdict": "bad"}', ":2: verdict: Input should be 'acceptable' or 'unacceptable'"),
    ('{"kind": "label", "action": "a", "verdict": "acceptable", "colour": 1}', ":2: colour: unknown field"),
    ('{"kind": "opinion", "action": "a"}', ":2: 'kind' must be one of label, preference, demonstration"),
    ('{"action": "a"}', ":2: missing 'kind'"),
    ('{"kind": "preference", "chosen": "a"}', ":2: rejected: Field required"),
    ('{"kind": "label", "action": "a", ', ":2: not valid JSON"),
    ('[1, 2]', ":2: expected a JSON object"),
])
def test_bad_lines_are_named(tmp_path, line, fragment):
    p = tmp_path / "fb.jsonl"
    p.write_text('{"kind": "demonstration", "action": "fine"}\n' + line + "\n")
    with pytest.raises(FeedbackError) as e:
        read_feedback(p)
    assert str(e.value).startswith(str(p)) and fragment in str(e.value), str(e.value)


def test_cases_and_labels(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text('{"id": "1", "action": "x"}\n\n{"context": "c", "action": {"name": "t", "arguments": {"a": 1}}}\n')
    cases = read_cases(p)
    assert cases[0].id == "1" and cases[1].action_text.startswith("call tool t")
    q = tmp_path / "l.jsonl"
    q.write_text('{"action": "x", "verdict": "acceptable", "id": 3}\n')
    assert read_labels(q)[0].verdict == "acceptable"
    with pytest.raises(FeedbackError, match="no such file"):
        read_cases(tmp_path / "missing.jsonl")
