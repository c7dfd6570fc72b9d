"""The boundary types: trusted construction builds exactly what validation would."""

from __future__ import annotations

from accord.types import Evidence, Explanation, PrincipleResult, Score, Verdict, _trusted_works


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
