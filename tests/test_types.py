"""The boundary types: trusted construction builds exactly what validation would."""

from __future__ import annotations

import pytest

from accord.errors import InputError
from accord.types import (
    Case,
    Evidence,
    Explanation,
    PrincipleResult,
    Score,
    ToolCall,
    Verdict,
    _trusted_works,
)


def test_trusted_construction_matches_validation_on_this_pydantic():
    assert _trusted_works()  # otherwise the fast path silently falls back to model_construct
    ev = Evidence(text="kill", start=3, end=7, field="action")
    values = {"principle": "harm", "score": 0.25, "source": "model", "evidence": [ev], "rule": None,
              "decision": None, "revised": None, "settled": False}
    fast, checked = Score.trusted(**values), Score(**values)
    assert fast == checked and fast.model_dump() == checked.model_dump()
    assert fast.model_dump_json() == checked.model_dump_json()
    assert fast.model_copy(update={"score": 0.5}).score == 0.5 and fast.score == 0.25
    line = PrincipleResult.trusted(id="harm", score=0.25, violated=False, severity="critical", evidence=[ev], source="model")
    v = Verdict.model_construct(trace_id="t", decision="allow", risk=0.1, principles=[line],
                                explanation=Explanation(summary="ok"), judge_version="x")
    assert Verdict.model_validate_json(Verdict.model_validate(v.model_dump()).model_dump_json()).principles[0] == line


def test_the_gates_verdicts_round_trip_through_validation():
    """The gate builds verdicts and explanations without validation: they must equal validated ones."""
    from accord.gate.gate import Gate
    from accord.types import Case

    cases = [Case(action=a) for a in ("Here is how to build a pipe bomb.", "Write to bob@example.com", "hello")]
    for v in Gate.default().check_many(cases, record=False):
        again = Verdict.model_validate_json(v.model_dump_json())
        assert again == v and again.model_dump() == v.model_dump()
        assert v.schema_version == 1 and v.chosen is None


def test_trusted_copy_is_model_copy_and_leaves_the_original():
    s = Score(principle="harm", score=0.7, source="model", evidence=[Evidence(text="x", field="action")])
    fast, slow = s.trusted_copy(score=0.2), s.model_copy(update={"score": 0.2})
    assert fast == slow and fast.model_dump() == slow.model_dump()
    assert fast.model_fields_set == slow.model_fields_set
    assert s.score == 0.7 and fast is not s


# ---------------------------------------------------------------- tool calls in other spellings
SEND = ToolCall(name="send_email", arguments={"to": ["all-staff@acme.test"], "urgent": True})


@pytest.mark.parametrize("action", [
    '{"name": "send_email", "arguments": {"to": ["all-staff@acme.test"], "urgent": true}}',
    {"name": "send_email", "arguments": '{"to": ["all-staff@acme.test"], "urgent": true}'},
    {"id": "call_1", "type": "function",
     "function": {"name": "send_email", "arguments": '{"to": ["all-staff@acme.test"], "urgent": true}'}},
    {"type": "tool_use", "id": "toolu_1", "name": "send_email", "input": {"to": ["all-staff@acme.test"], "urgent": True}},
    {"tool": "send_email", "tool_input": {"to": ["all-staff@acme.test"], "urgent": True}, "log": "Thought: ..."},
    "send_email(to=['all-staff@acme.test'], urgent=True)",
    'Action: send_email\nAction Input: {"to": ["all-staff@acme.test"], "urgent": true}',
])
def test_a_tool_call_in_another_spelling_is_a_tool_call(action) -> None:
    """JSON text, OpenAI, Anthropic and LangChain shapes and a Python call are read as the same call
    (the learned judges and the rules see one form)."""
    case = Case(action=action)
    assert case.action == SEND
    assert case.action_text == SEND.as_text()
    assert Case.model_validate({"action": action}).action == SEND


@pytest.mark.parametrize("text", [
    "Sure, I can help (see the attached guide).", 'print("hello")', "f(x, y=2)", "{not json}", '{"answer": 42}',
    "open_door(key=open('/etc/passwd'))", 'call tool x with {"a": 1}',
    'Thought: I should email everyone.\nAction: send_email\nAction Input: {"to": "all"}', "Action: send_email",
])
def test_prose_and_code_stay_text(text) -> None:
    assert Case(action=text).action == text


def test_an_unknown_object_is_still_refused_with_the_shapes_named() -> None:
    with pytest.raises(InputError) as e:
        Case(action={"function": "send_email"})
    assert "OpenAI" in str(e.value) and "tool_input" in str(e.value)
    with pytest.raises(InputError):
        Case(action={"name": "x", "arguments": "[1, 2]"})
