"""The LLM judge's ``verdict`` format, constrained output and calibration, against scripted replies.

These test the judge's side of the wire (what it sends, how it reads what comes back) with an
``httpx.MockTransport``; tests/judges/test_llm_real.py runs a real model.
"""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import numpy as np
import pytest

from accord import Gate
from accord.errors import InputError, JudgeError
from accord.judges.llm import (
    Calibration,
    LLMJudge,
    example_turns,
    expected_calibration_error,
    fit_calibration,
    json_schema,
    render_examples,
    verdict_grammar,
)
from accord.judges.rules import RuleJudge
from accord.types import Case

POISON = Case(context="My brother annoys me.", action="Put a little poison in his coffee every day.")
BREAD = Case(action="Here is a recipe for banana bread with walnuts.")


def reply(content: str, top: dict[str, float] | None = None) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
    if top is not None:
        choice["logprobs"] = {"content": [{"token": next(iter(top)), "logprob": math.log(next(iter(top.values()))),
                                           "top_logprobs": [{"token": t, "logprob": math.log(p)} for t, p in top.items()]}]}
    return {"choices": [choice]}


class Scripted:
    """A chat endpoint whose answer depends on the action: ``answers[action] = (content, top probs)``."""

    def __init__(self, answers: dict[str, tuple[str, dict[str, float] | None]]) -> None:
        self.answers = answers
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.read())
        self.bodies.append(body)
        user = body["messages"][-1]["content"]
        for action, (content, top) in self.answers.items():
            if action in user:
                return httpx.Response(200, json=reply(content, top))
        return httpx.Response(200, json=reply("allow", {"allow": 0.9, "block": 0.05, "esc": 0.05}))


def judge(script: Scripted, **kw: Any) -> LLMJudge:
    return LLMJudge("qwen-test", base_url="http://judge.test/v1", format="verdict",
                    transport=httpx.MockTransport(script), retries=0, **kw)


def test_verdict_scores_come_from_first_token_probabilities(charter):
    s = Scripted({POISON.action_text: ("block harm", {"block": 0.6, "Block": 0.1, "allow": 0.2, "esc": 0.1})})
    j = judge(s)
    poison, bread = j.judge([POISON, BREAD], charter)
    # P(block) 0.7 + P(escalate) 0.1 / 2, renormalised over the three (all mass counted here)
    # the principle named carries the probability; the answer settles the case, so the others score 0
    assert [(x.principle, round(x.score, 3)) for x in poison] == [("harm", 0.75)] + [
        (pid, 0.0) for pid in charter.principle_ids if pid != "harm"]
    assert {x.principle for x in bread} == set(charter.principle_ids)  # allow speaks for every principle
    assert all(x.score == pytest.approx(0.05 / 2 + 0.05) for x in bread)
    body = s.bodies[0]
    assert body["logprobs"] is True and body["top_logprobs"] == 20 and body["max_tokens"] == 16
    assert "grammar" not in body and "cache_prompt" not in body  # constrain is off by default
    assert j.raw_scores([POISON], charter) == [pytest.approx(0.75)]
    assert j.stats["requests"] == 2  # raw_scores came from the cache


def test_the_system_prompt_and_worked_examples_are_a_stable_prefix(charter):
    s = Scripted({})
    j = judge(s)
    j.judge([POISON, BREAD], charter)
    a, b = (body["messages"][:-1] for body in s.bodies)
    assert a == b == j.prefix_messages(charter)  # identical for every case: a server's prompt cache pays for it once
    system = a[0]["content"]
    assert a[0]["role"] == "system" and all(f"- {pid} (" in system for pid in charter.principle_ids)
    assert "block <principle id>" in system and "Examples" not in system  # the examples are turns, not a list
    # one violating and one upholding example per principle, answered as this team would
    shots = a[1:]
    assert [m["role"] for m in shots] == ["user", "assistant"] * (len(shots) // 2)
    answers = [m["content"] for m in shots if m["role"] == "assistant"]
    assert answers.count("allow") == len(charter.principles) and "block harm" in answers
    harm_bad = charter.principles[0].examples.pairs("violates")[0][1]
    assert harm_bad in shots[0]["content"] and "<action>" in shots[0]["content"]
    # the requests may go out concurrently, in either order: the case is the last turn of its own request
    lasts = [body["messages"][-1] for body in s.bodies]
    assert all(m["role"] == "user" for m in lasts)
    assert sum(POISON.action_text in m["content"] for m in lasts) == 1
    assert all(POISON.action_text not in m["content"] for m in a)


def test_examples_per_side_and_none(charter):
    one = render_examples(charter, 1)
    assert one.count("* violates harm:") == 1 and one.count("* upholds harm:") == 1
    assert render_examples(charter, 2).count("* violates harm:") == 2
    assert render_examples(charter, 0) == ""
    assert "Examples" not in judge(Scripted({}), examples=0).system_prompt(charter)
    assert len(example_turns(charter, 1)) == 4 * len(charter.principles)  # a user and an assistant turn per example
    assert example_turns(charter, 0) == [] and len(judge(Scripted({}), examples=0).prefix_messages(charter)) == 1


def test_constrained_verdict_sends_a_grammar_naming_every_principle(charter):
    s = Scripted({})
    judge(s, constrain="llama.cpp").judge([BREAD], charter)
    g = s.bodies[0]["grammar"]
    assert g == verdict_grammar(charter) and s.bodies[0]["cache_prompt"] is True
    assert all(f'"{pid}"' in g for pid in charter.principle_ids) and g.startswith('root ::= "allow"')


def test_constrained_json_sends_a_schema(charter):
    s = Scripted({BREAD.action_text: (json.dumps({"principles": [
        {"id": pid, "score": 0.01, "quote": "", "reason": "fine"} for pid in charter.principle_ids]}), None)})
    j = LLMJudge("m", base_url="http://judge.test/v1", constrain="llama.cpp", transport=httpx.MockTransport(s))
    out = j.judge([BREAD], charter)
    assert len(out[0]) == len(charter.principle_ids)
    rf = s.bodies[0]["response_format"]
    assert rf["type"] == "json_object" and rf["schema"] == json_schema(charter, "llama.cpp")
    items = rf["schema"]["properties"]["principles"]["prefixItems"]
    assert [it["properties"]["id"]["const"] for it in items] == charter.principle_ids
    s2 = Scripted(dict(s.answers))
    LLMJudge("m", base_url="http://judge.test/v1", constrain="openai", transport=httpx.MockTransport(s2)).judge([BREAD], charter)
    rf2 = s2.bodies[0]["response_format"]
    assert rf2["type"] == "json_schema" and rf2["json_schema"]["strict"] is True


@pytest.mark.parametrize("answer", ["", "I think it is fine", "allow\nblock harm", "block harm because it hurts",
                                    "deny harm", "block no_such_principle"])
def test_malformed_verdicts_fail_closed(charter, answer):
    j = judge(Scripted({BREAD.action_text: (answer, {"allow": 0.9, "block": 0.1})}))
    with pytest.raises(JudgeError):
        j.judge([BREAD], charter)
    v = Gate(charter, judges=[RuleJudge(), j]).check("", BREAD.action_text)
    assert v.decision in ("escalate", "block")


def test_lenient_spellings_of_a_valid_verdict(charter):
    j = judge(Scripted({POISON.action_text: ("Block: Harm.", {"Block": 0.9, "allow": 0.1}),
                        BREAD.action_text: ("escalate", {"esc": 0.5, "allow": 0.5})}))
    poison, bread = j.judge([POISON, BREAD], charter)
    assert poison[0].principle == "harm" and poison[0].score == pytest.approx(0.9)
    assert bread[0].principle == "harm"  # the gravest principle when none is named
    assert bread[0].score == pytest.approx(0.25) and all(x.score == 0.0 for x in bread[1:])


def test_without_logprobs_the_word_scores(charter):
    j = judge(Scripted({POISON.action_text: ("block harm", None), BREAD.action_text: ("escalate privacy", None)}))
    poison, bread = j.judge([POISON, BREAD], charter)
    assert poison[0].score == 1.0 and bread[0].principle == "privacy" and bread[0].score == 0.5
    assert j.stats["word_scores"] == 2


def test_no_verdict_token_among_the_top_falls_back_to_the_word(charter):
    j = judge(Scripted({POISON.action_text: ("block harm", {"The": 0.7, "I": 0.3})}))
    assert j.judge([POISON], charter)[0][0].score == 1.0


def test_calibration_maps_raw_scores_and_is_checked_for_its_judge(charter, tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    raw = np.clip(0.5 + 0.45 * (2 * y - 1) * rng.random(400) + 0.3, 0, 1)  # ranks well, biased upwards
    for method in ("temperature", "isotonic"):
        cal = fit_calibration(raw, y, method, model="qwen-test", format="verdict", prompt="p3e1")  # type: ignore[arg-type]
        p = np.array([cal(r) for r in raw])
        assert expected_calibration_error(p, y) < expected_calibration_error(raw, y)
        assert cal.metrics["ece_fitted"] < cal.metrics["ece_raw"]
        assert all(0.0 <= cal(r) <= 1.0 for r in (0.0, 0.3, 1.0)) and cal(0.9) >= cal(0.1)
        path = cal.save(tmp_path / f"{method}.json")
        again = Calibration.load(path)
        assert again == cal
        j = judge(Scripted({POISON.action_text: ("block harm", {"block": 0.95, "allow": 0.05})}), calibration=path)
        assert j.judge([POISON], charter)[0][0].score == pytest.approx(cal(0.95))
        assert ":cal-" in j.version and j.case_probabilities([POISON], charter) == [pytest.approx(cal(0.95))]
    with pytest.raises(InputError, match="another judge"):
        judge(Scripted({}), calibration=cal.model_copy(update={"model": "other"}))
    bad = tmp_path / "bad.json"
    bad.write_text('{"method": "magic"}')
    with pytest.raises(InputError, match="not an llm calibration"):
        Calibration.load(bad)
    with pytest.raises(InputError, match="cannot read"):
        Calibration.load(tmp_path / "missing.json")
    with pytest.raises(InputError, match="both"):
        fit_calibration([0.1, 0.2], [1, 1])


def test_bad_options_are_input_errors(monkeypatch):
    with pytest.raises(InputError, match="constrain"):
        LLMJudge("m", base_url="http://x/v1", constrain="grammar")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="verdict"):
        LLMJudge("m", base_url="http://x/v1", format="words")  # type: ignore[arg-type]
    monkeypatch.setenv("ACCORD_LLM_EXAMPLES", "two")
    with pytest.raises(InputError, match="ACCORD_LLM_EXAMPLES"):
        LLMJudge("m", base_url="http://x/v1")


def test_a_missing_gguf_is_an_input_error(monkeypatch, tmp_path):
    monkeypatch.setenv("ACCORD_LLM_GGUF", str(tmp_path / "nope.gguf"))
    monkeypatch.delenv("ACCORD_LLM_MODEL", raising=False)
    with pytest.raises(InputError, match="no GGUF model"):
        LLMJudge()


# ---------------------------------------------------------------------- the LLM as a teacher
def test_teacher_labels_resume_and_distil(charter, tmp_path):
    from accord.judges.llm_teacher import distil, label_cases

    s = Scripted({POISON.action_text: ("block harm", {"block": 0.8, "allow": 0.2})})
    cases = [POISON, BREAD, Case(action="Here is a haiku about autumn leaves.")]
    labels = tmp_path / "teacher.jsonl"
    seen: list[tuple[int, int]] = []
    run = label_cases(judge(s), charter, cases[:2], labels, progress=lambda i, n: seen.append((i, n)))
    assert (run.asked, run.reused, run.failed) == (2, 0, 0) and seen[-1] == (2, 2)
    poison = run.rows[0]
    assert poison is not None and poison["p"] == pytest.approx(0.8) and poison["principle"] == "harm"
    assert run.rows[1] is not None and run.rows[1]["verdict"] == "allow" and run.rows[1]["principle"] is None
    # resumed: the two known cases cost no request, only the new one
    j2 = judge(s)
    run2 = label_cases(j2, charter, cases, labels)
    assert (run2.asked, run2.reused) == (1, 2) and j2.stats["requests"] == 1
    assert len(labels.read_text().splitlines()) == 3
    # another teacher's file is refused, a broken line is an input error
    with pytest.raises(InputError, match="another teacher"):
        label_cases(judge(s, examples=0), charter, cases, labels)
    broken = tmp_path / "broken.jsonl"
    broken.write_text("not json\n")
    with pytest.raises(InputError, match="not a teacher label"):
        label_cases(judge(s), charter, cases, broken)
    # a case the teacher cannot judge gets no label and is counted
    bad = Scripted({BREAD.action_text: ("maybe", None)})
    run3 = label_cases(judge(bad), charter, [BREAD], tmp_path / "other.jsonl")
    assert run3.rows == [None] and run3.failed == 1 and run3.errors

    model = distil(run2.labelled, charter, random_state=0)
    p = model.predict_proba([(POISON.context_text, POISON.action_text), ("", BREAD.action_text)])[:, 1]
    assert p[0] > p[1]
    # never precedents: an LLM's label is not a person's verdict
    assert not any(m.action in (POISON.action_text, BREAD.action_text) for m in model.memory_)
    assert len(model.memory_) > 0  # the charter's examples are
    with pytest.raises(InputError, match="no cases"):
        distil([], charter)


def test_a_changed_example_is_a_new_prompt_and_a_new_cache_key(charter):
    s = Scripted({})
    j = judge(s)
    j.judge([BREAD], charter)
    harm = charter.principles[0]
    ex = harm.examples.model_copy(update={"violates": ["A brand-new example of helping someone hurt a person."]})
    changed = charter.model_copy(update={"principles": [harm.model_copy(update={"examples": ex}), *charter.principles[1:]]})
    j.judge([BREAD], changed)
    assert j.stats["requests"] == 2  # not answered from the cache
    assert any("brand-new example" in m["content"] for m in s.bodies[1]["messages"][:-1])
