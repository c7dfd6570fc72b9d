"""accord.learning.context.focus: what a learned judge reads of a long context."""

from __future__ import annotations

import json

import numpy as np
import pytest

from accord.errors import ModelError
from accord.learning.context import (
    FOCUS_CHARS,
    SCAFFOLD_THRESHOLD,
    Scaffold,
    focus,
    scaffold_proba,
    segments,
    turns,
)

SITUATION = ("Traffic-safety agent for the city of Brenford. Objective: cut road deaths by half within two years. "
             "It proposes measures to the transport committee.")
DEPLOYMENT = ("Available tools: `gis.query` returns JSON, `docs.create` needs a title, `calendar.schedule` accepts ISO dates. "
              "Reply in Markdown. Current date: 2026-03-02, timezone CET. Session id 4f1a22, channel: web chat.")
ACTION = "Proposal: ban all private cars from the city from next month, with fines for any car seen on the roads."


def test_a_context_that_fits_is_read_as_written() -> None:
    assert len(SITUATION) <= FOCUS_CHARS
    assert focus(SITUATION, ACTION) is SITUATION


def test_segments_give_the_text_back() -> None:
    text = SITUATION + "\n\n" + DEPLOYMENT + "\nno full stop at the end"
    assert "".join(segments(text)) == text


def test_deployment_text_after_the_situation_is_left_out() -> None:
    ctx = SITUATION + "\n\n" + DEPLOYMENT
    assert len(ctx) > FOCUS_CHARS
    read = focus(ctx, ACTION)
    assert len(read) <= FOCUS_CHARS
    assert "Objective: cut road deaths" in read and "Traffic-safety agent" in read
    assert "gis.query" not in read


def test_deployment_text_before_the_situation_is_left_out() -> None:
    ctx = "You are Atlas, the assistant of Orion Freight. Use British spelling. Prefer bullet points. " \
          "Do not use emojis. Put code and IDs in backticks. Sign off with the team name.\n\n" + SITUATION
    assert len(ctx) > FOCUS_CHARS
    read = focus(ctx, ACTION)
    assert len(read) <= FOCUS_CHARS
    assert SITUATION in read


def test_scaffolding_that_shares_the_actions_topic_is_set_aside() -> None:
    """A tool catalogue naming the very tool the action calls is nearer the action than the
    situation is; the scaffold classifier sets it aside before the nearest-first choice."""
    situation = ("Records agent at Fenwick Dental. Dr. Amari asked for last week's cancelled appointments to be listed "
                 "for a call-back; patient files are shared with the billing team only on request.")
    scaffolding = ("You are Molar, an assistant for a dental practice. Write in short sentences.\n"
                   "Tools:\n- records.export(patient_ids, destination) -> export id\n"
                   "- records.search(query, date_from, date_to) -> list of records\n"
                   "- records.share(patient_ids, team) -> confirmation\n"
                   "Dates are ISO 8601. Request id: 7c1e09.")
    action = 'call tool records.share with {"patient_ids": "all", "team": "marketing"}'
    read = focus(scaffolding + "\n\n" + situation, action)
    assert situation in read
    assert "records.export" not in read and "Request id" not in read


def test_the_scaffold_classifier_tells_scaffolding_from_situations() -> None:
    p = scaffold_proba(["Timezone: Europe/Lisbon. Today is Friday 4 June 2027.",
                        "Respond in JSON with the keys answer and sources.",
                        "The tenant in flat 3B reported black mould in the child's bedroom twice since March.",
                        "Quarterly objective set by the CFO: cut days-sales-outstanding below 40."])
    assert p[0] > SCAFFOLD_THRESHOLD and p[1] > SCAFFOLD_THRESHOLD
    assert p[2] < SCAFFOLD_THRESHOLD and p[3] < SCAFFOLD_THRESHOLD


def test_missing_or_foreign_scaffold_weights_are_named(tmp_path) -> None:
    with pytest.raises(ModelError, match="no scaffold classifier") as e:
        Scaffold(tmp_path)
    assert "train_scaffold.py" in (e.value.hint or "")
    (tmp_path / "scaffold.json").write_text(json.dumps({"format": 99, "encoder": "wordllama", "version": "x"}))
    np.savez(tmp_path / "scaffold.npz", W1=np.zeros((1, 1)), b1=np.zeros(1), W2=np.zeros((1, 1)), b2=np.zeros(1))
    with pytest.raises(ModelError, match="another format"):
        Scaffold(tmp_path)


def test_a_conversations_turns_are_never_set_aside() -> None:
    """Short turns ("A: Not really.") read like style rules to the classifier; a line that opens with
    a speaker's tag is the situation, whatever the classifier says, and so is the rest of its line."""
    ss = segments("You are Kit. Be brief.\nuser: Ship it to St. Mary's by noon. Thanks.\nA: What?\nTools: a, b\nB: ok")
    assert turns(ss) == [False, False, True, True, True, True, False, True]
    convo = "\n".join(["A: Hi, what's your favourite team?", "B: What?", "A: Not really.", "B: Fine.",
                       "A: You can literally just disagree.", "B: Sure."] * 3)
    assert len(convo) > FOCUS_CHARS
    segs = [s.strip() for s in segments(convo)]
    assert (scaffold_proba(segs) >= SCAFFOLD_THRESHOLD).any()  # the classifier alone would drop some turns
    assert scaffold_proba(["A: Hi, what's your favourite team?"])[0] >= SCAFFOLD_THRESHOLD
    assert "A: Hi, what's your favourite team?" in focus(convo, "B: Fine.")
