from __future__ import annotations

import pytest

from accord.charter import load_charter, parse_charter
from accord.gate.policy import decide
from accord.types import Score

C = parse_charter("""
principles:
  - {id: crit, text: c, severity: critical}
  - {id: high, text: h, severity: high}
  - {id: med, text: m, severity: medium}
  - {id: low, text: l, severity: low}
rules:
  - {id: r-block, principle: crit, decision: block, keywords: [x]}
communities:
  strict: {weights: {med: 2.0}}
  lenient: {thresholds: {crit: {block: 0.95, escalate: 0.9}}}
policy:
  thresholds:
    critical: {block: 0.6, escalate: 0.3}
    high: {block: 0.75, escalate: 0.45}
    medium: {block: 0.9, escalate: 0.6}
    low: {block: 1.0, escalate: 0.75}
  on_error: escalate
  on_timeout: block
""", "p.yaml")


def s(pid, score, **kw):
    return Score(principle=pid, score=score, source="model", **kw)


@pytest.mark.parametrize(("pid", "score", "expected"), [
    ("crit", 0.29, "allow"), ("crit", 0.3, "escalate"), ("crit", 0.6, "block"),
    ("high", 0.44, "allow"), ("high", 0.45, "escalate"), ("high", 0.75, "block"),
    ("med", 0.59, "allow"), ("med", 0.6, "escalate"), ("med", 0.9, "block"),
    ("low", 0.74, "allow"), ("low", 0.75, "escalate"), ("low", 0.99, "escalate"), ("low", 1.0, "block"),
])
def test_thresholds_per_severity(pid, score, expected):
    assert decide(C, [s(pid, score)]).decision == expected


def test_strictest_wins_and_risk_is_fraction_of_block():
    o = decide(C, [s("crit", 0.3), s("high", 0.8), s("low", 0.1)])
    assert o.decision == "block"
    assert o.decisive[0] == "high"
    assert o.risk == 1.0
    assert decide(C, [s("crit", 0.15)]).risk == pytest.approx(0.25)


def test_communities_weight_and_override():
    scores = [s("med", 0.5), s("crit", 0.7)]
    assert decide(C, scores).decision == "block"
    assert decide(C, [s("med", 0.5)], community="strict").decision == "block"  # 0.5 × 2 ≥ 0.9
    assert decide(C, [s("med", 0.5)]).decision == "allow"
    assert decide(C, [s("crit", 0.7)], community="lenient").decision == "allow"


def test_rules_fix_decisions_and_revise():
    rule = Score(principle="crit", score=1.0, source="rule:r-block", rule="r-block", decision="block")
    o = decide(C, [rule, s("crit", 0.0)])
    assert (o.decision, o.rule, o.risk) == ("block", "r-block", 1.0)
    rev = Score(principle="high", score=1.0, source="rule:x", rule="x", decision="revise", revised="clean")
    o = decide(C, [rev, s("crit", 0.1)])
    assert (o.decision, o.revised) == ("revise", "clean")
    # escalation by the model outranks a revision, and the revised text is dropped
    o = decide(C, [rev, s("crit", 0.4)])
    assert (o.decision, o.revised, o.rule) == ("escalate", None, None)


@pytest.mark.parametrize("scores", [[], [s("crit", 0.0)], [s("low", 0.0)]])
def test_failures_never_allow(scores):
    assert decide(C, scores, error=True).decision == "escalate"
    assert decide(C, scores, timed_out=True).decision == "block"
    assert decide(C, scores, error=True).risk == 1.0


def test_allow_rule_suppresses_model():
    c = parse_charter("""
principles: [{id: a, text: t, severity: critical}]
rules: [{id: ok, principle: a, decision: allow, keywords: [internal test]}]
""")
    allow = Score(principle="a", score=1.0, source="rule:ok", rule="ok", decision="allow")
    assert decide(c, [allow, s("a", 0.9)]).decision == "allow"
    assert decide(c, [allow, s("a", 0.9)], error=True).decision == "escalate"


def test_default_charter_policy_is_consistent():
    c = load_charter(None)
    for sev in ("critical", "high", "medium", "low"):
        t = c.policy.thresholds[sev]
        assert 0 < t.escalate <= t.block <= 1


def test_decision_of_is_decides_decision():
    """The gate's shortcuts for the other communities' decisions agree with the full policy."""
    import random

    from accord.gate.policy import decision_of, decisions_of

    rng = random.Random(0)
    pids = ["crit", "high", "med", "low", "unknown"]
    for _ in range(3000):
        scores = [s(p, round(rng.random() ** rng.choice([0.5, 1, 3]), 3)) for p in rng.sample(pids, rng.randint(0, 5))]
        for _ in range(rng.choice([0, 0, 1, 2])):
            d = rng.choice(["allow", "revise", "escalate", "block"])
            rule = rng.choice(["x", None])  # a hard rule's, or a learned decision (the decision model's)
            scores.append(Score(principle=rng.choice(pids[:4]), score=1.0 if d != "allow" else 0.0, source="rule:x",
                                rule=rule, decision=d, revised="fixed" if d == "revise" and rule else None))
        for community in (None, "strict", "lenient"):
            error, timed_out = rng.random() < 0.1, rng.random() < 0.1
            assert decision_of(C, scores, community=community, error=error, timed_out=timed_out) == \
                decide(C, scores, community=community, error=error, timed_out=timed_out).decision, (scores, community)
        error, timed_out = rng.random() < 0.1, rng.random() < 0.1
        assert decisions_of(C, scores, [None, "strict", "lenient"], error=error, timed_out=timed_out) == [
            decide(C, scores, community=c, error=error, timed_out=timed_out).decision for c in (None, "strict", "lenient")]


def test_a_learned_allow_does_not_overrule_a_stricter_learned_decision(charter):
    # two fixed decisions without a rule id (the decision model's): the strictest stands
    from accord.gate.policy import decide
    from accord.types import Score

    scores = [Score(principle="harm", score=0.1, source="decision", decision="allow"),
              Score(principle="privacy", score=0.7, source="decision:principle-text", decision="escalate")]
    for order in (scores, scores[::-1]):
        assert decide(charter, order).decision == "escalate"


def test_a_learned_decision_bounds_the_learned_scores():
    """The decision model's escalate stays escalate when a principle score is past its block
    threshold; a hard rule still blocks; without a learned decision the score blocks as before."""
    learned = Score(principle="high", score=0.8, source="decision", decision="escalate")
    over = s("crit", 0.9)  # past critical's block threshold (0.6)
    assert decide(C, [over]).decision == "block"
    assert decide(C, [learned, over]).decision == "escalate"
    assert decide(C, [over, learned], community="strict").decision == "escalate"
    rule = Score(principle="crit", score=1.0, source="rule:r-block", rule="r-block", decision="block")
    assert decide(C, [learned, over, rule]).decision == "block"
    # only an escalate bounds: a learned revise (a redaction) does not stop a score from blocking
    revise = Score(principle="med", score=0.3, source="decision", decision="revise", revised="x")
    assert decide(C, [revise, over]).decision == "block"
