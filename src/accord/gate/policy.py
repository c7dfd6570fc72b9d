"""The gate's pure policy: charter + scores (+ failures) → decision, risk, per-community decisions.

No I/O, no models: the same inputs always give the same decision, which is what makes verdicts
auditable and the policy easy to test exhaustively.

Rules:

* a fixed decision stands (``block`` > ``escalate`` > ``revise``; ``allow`` only says the case needs
  no more judging): a hard rule's, or a *learned decision* of the decision model (a score with a
  ``decision`` and no ``rule``);
* a learned score is scaled by the community's weight for that principle and compared with the
  threshold for its severity (or the community's override): at or above ``block`` blocks, at or
  above ``escalate`` goes to a person;
* a learned ``escalate`` (the strictest learned decision) bounds the learned scores: they may not
  raise it to ``block`` (the decision model learned from people when to block and when a person
  must decide; a principle's score crossing its block threshold does not overrule that);
* the strictest outcome wins; a judge error or time-out raises the decision to the policy's
  ``on_error`` / ``on_timeout`` (``escalate`` or ``block``), so a failure is never ``allow``.

``risk`` is the largest fraction of the way to blocking over all principles (1.0 = at a block
threshold); a blocking rule or a judge failure makes it 1.0, an escalating rule at least 0.5.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

from accord.charter.model import Charter
from accord.types import DECISION_ORDER, Decision, PrincipleResult, Score, trusted_instance


@dataclass(frozen=True)
class Outcome:
    """What the policy decided for one community (or the default, ``community=None``)."""

    decision: Decision
    risk: float
    principles: list[PrincipleResult]
    decisive: list[str]
    rule: str | None
    revised: str | None


_RULE_RISK: dict[Decision, float] = {"block": 1.0, "escalate": 0.5, "revise": 0.25, "allow": 0.0}


def _stricter(a: Decision, b: Decision) -> Decision:
    return a if DECISION_ORDER[a] >= DECISION_ORDER[b] else b


_DECISIONS: tuple[Decision, ...] = ("allow", "revise", "escalate", "block")  # by DECISION_ORDER
_SCORE = operator.attrgetter("score")


def decision_of(charter: Charter, scores: Sequence[Score], *, community: str | None = None, error: bool = False,
                timed_out: bool = False) -> Decision:
    """``decide(...).decision`` without the rest of the outcome."""
    return decisions_of(charter, scores, (community,), error=error, timed_out=timed_out)[0]


def decisions_of(charter: Charter, scores: Sequence[Score], communities: Sequence[str | None], *, error: bool = False,
                 timed_out: bool = False) -> list[Decision]:
    """:func:`decision_of` for several communities (``None``: the default) in one pass over the scores.

    The gate asks it for every other community of every case (the verdict shows each community's
    decision), so it skips the principle lines, risk and ordering :func:`decide` builds, and reads
    the rule scores once for all communities.
    """
    ruled = 0
    learned_best = -1  # the strictest learned decision: an escalate bounds what learned scores can reach
    allow_rule = False
    learned: list[tuple[str, float]] = []
    for s in scores:
        if s.decision is not None:
            o = DECISION_ORDER[s.decision]
            ruled = o if o > ruled else ruled
            allow_rule = allow_rule or s.decision == "allow"
            if s.rule is None:
                learned_best = o if o > learned_best else learned_best
        else:
            learned.append((s.principle, s.score))
    cap = 2 if learned_best == 2 else 3
    floor = 0  # a failure raises every community's decision to the policy's floor
    if error:
        floor = max(floor, DECISION_ORDER[charter.policy.on_error])
    if timed_out:
        floor = max(floor, DECISION_ORDER[charter.policy.on_timeout])
    out: list[Decision] = []
    for community in communities:
        best = ruled
        if not allow_rule and best < 3:
            table = charter.policy_table(community)
            for pid, x in learned:
                row = table.get(pid)
                if row is not None:
                    eff = x * row[2]
                    eff = eff if eff < 1.0 else 1.0
                    o = 3 if eff >= row[1] else 2 if eff >= row[0] else 0
                    o = o if o < cap else cap
                    best = o if o > best else best
        out.append(_DECISIONS[best if best > floor else floor])
    return out


def decide(
    charter: Charter,
    scores: Sequence[Score],
    *,
    community: str | None = None,
    error: bool = False,
    timed_out: bool = False,
) -> Outcome:
    """Apply the charter's policy to one case's scores (:func:`decision_of` when only the decision is needed)."""
    table = charter.policy_table(community)
    decision: Decision = "allow"
    risk = 0.0
    decisive: list[str] = []
    rule: str | None = None
    revised: str | None = None
    results: dict[str, PrincipleResult] = {}

    rule_scores = [s for s in scores if s.decision is not None]
    # strictest first: the first fixed decision sets the outcome (a learned decision has no rule id,
    # so "no rule yet" cannot mean "nothing decided yet")
    for k, s in enumerate(sorted(rule_scores, key=lambda s: -DECISION_ORDER[s.decision or "allow"])):
        d: Decision = s.decision or "allow"
        if d == "revise" and s.revised is not None and revised is None:
            revised = s.revised
        if k == 0 or DECISION_ORDER[d] > DECISION_ORDER[decision]:
            decision, rule = d, s.rule
        if d != "allow" and s.principle not in decisive:
            decisive.append(s.principle)
        risk = max(risk, _RULE_RISK[d])
        # a hand-written rule is certain; a learned decision (no rule) shows its probability
        results[s.principle] = PrincipleResult.trusted(
            id=s.principle, score=(1.0 if d != "allow" else 0.0) if s.rule is not None else s.score, violated=d != "allow",
            severity=table[s.principle][3], evidence=s.evidence, source=s.source)

    allow_rule = any(s.decision == "allow" for s in rule_scores)
    learned_decisions = [DECISION_ORDER[s.decision] for s in rule_scores if s.rule is None and s.decision is not None]
    cap = 2 if learned_decisions and max(learned_decisions) == 2 else 3
    ruled = {s.principle for s in rule_scores}
    model_best = 0  # DECISION_ORDER of the strictest learned decision
    model_decisive: list[tuple[int, float, str]] = []
    for s in scores:
        if s.decision is not None:
            continue
        pid = s.principle
        row = table.get(pid)
        if row is None:
            continue
        escalate, block, weight, severity = row
        eff = s.score * weight
        if eff > 1.0:
            eff = 1.0
        o = 3 if eff >= block else 2 if eff >= escalate else 0
        o = o if o < cap else cap
        if not allow_rule:
            frac = eff / block if block > 0 else 1.0
            if frac > risk:
                risk = frac if frac < 1.0 else 1.0
            if o:
                model_best = o if o > model_best else model_best
                model_decisive.append((o, frac, pid))
        if pid not in ruled:  # a rule's line for a principle outranks a learned one
            results[pid] = trusted_instance(PrincipleResult, {  # every value is computed here and in range
                "id": pid, "score": round(eff, 4), "violated": o != 0 and not allow_rule, "severity": severity,
                "evidence": s.evidence, "source": s.source})
    model_decision = _DECISIONS[model_best]
    final = _stricter(decision, model_decision)
    rule = rule if final == decision else None
    decision = final
    # the principles that set the final decision come first
    rule_decisive = decisive
    decisive = [pid for _, _, pid in sorted(model_decisive, reverse=True)]
    if rule is not None or model_decision != final:
        decisive = rule_decisive + [p for p in decisive if p not in rule_decisive]
    else:
        decisive += [p for p in rule_decisive if p not in decisive]

    if error:
        decision, risk = _stricter(decision, charter.policy.on_error), 1.0
    if timed_out:
        decision, risk = _stricter(decision, charter.policy.on_timeout), 1.0
    if decision != "revise":
        revised = None
    ordered = sorted(results.values(), key=_SCORE, reverse=True)  # stable: ties keep their order
    return Outcome(decision=decision, risk=round(risk, 4), principles=ordered, decisive=decisive, rule=rule, revised=revised)
