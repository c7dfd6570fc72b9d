"""accord.learning.context.focus: what a learned judge reads of a long context."""

from __future__ import annotations

from accord.learning.context import FOCUS_CHARS, focus, segments

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
