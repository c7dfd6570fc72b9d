"""Build the explanation carried by every verdict."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from accord.charter.model import Charter
from accord.types import Case, Decision, Evidence, Explanation, Precedent, PrincipleResult, Score

#: the gate's decision function, handed over as a value: (scores, community) → decision
DecideFn = Callable[[list[Score], "str | None"], Decision]


class OutcomeLike(Protocol):
    """What an explanation reads of the policy's outcome (:class:`accord.gate.policy.Outcome`)."""

    @property
    def decision(self) -> Decision: ...

    @property
    def principles(self) -> Sequence[PrincipleResult]: ...

    @property
    def decisive(self) -> list[str]: ...

    @property
    def rule(self) -> str | None: ...

_VERB = {"allow": "Allowed", "revise": "Revised", "block": "Blocked", "escalate": "Escalated to a person"}


def build_explanation(
    charter: Charter,
    case: Case,
    scores: list[Score],
    outcome: OutcomeLike,
    *,
    decide: DecideFn,
    occlusion: list[tuple[Evidence, float]],
    precedents: list[Precedent],
    errors: list[str],
    community: str | None,
) -> tuple[Explanation, dict[str, list[Evidence]]]:
    """The explanation, and occlusion evidence (the words that moved the score) per principle.

    ``decide`` is the gate's decision function for this charter (scores, community → decision),
    used for the counterfactual: what the decision would be without the words that weighed most.
    """
    top = outcome.principles[0] if outcome.principles else None
    # the decision model's learned decision, when it is the one that stands
    learned = next((s for s in scores if s.decision is not None and s.rule is None and s.decision == outcome.decision
                    and (not outcome.decisive or s.principle == outcome.decisive[0] or s.decision == "allow")), None)
    if outcome.rule is not None:
        learned = None
    if errors:
        summary = f"{_VERB[outcome.decision]}: a judge failed ({errors[0]}), and failures never allow."
    elif learned is not None:
        p = charter.principle(learned.principle)
        if learned.source.endswith(":precedent"):
            summary = (f"{_VERB[outcome.decision]}: people decided a near-identical case this way (similarity "
                       f"{learned.score:.2f}); at stake: '{p.id}' — {p.text.split(':')[0].rstrip('.')}.")
        elif learned.source.endswith(":examples"):
            summary = (f"{_VERB[outcome.decision]}: the case is close to an example the charter gives of a violation of "
                       f"'{p.id}' (similarity {learned.score:.2f}) — {p.text.split(':')[0].rstrip('.')}.")
        elif learned.source.endswith(":principle-text"):
            summary = (f"{_VERB[outcome.decision]}: the case concerns '{p.id}', a principle no model here was trained on "
                       f"and which has no examples to judge by, so a person decides — {p.text.split(':')[0].rstrip('.')}.")
        elif learned.decision == "allow":
            summary = (f"Allowed: the decision model, trained on cases people labelled, finds this acceptable "
                       f"(probability it should be stopped {learned.score:.2f}).")
        else:
            what = "a person should decide this" if learned.decision == "escalate" else "this must not go ahead"
            summary = (f"{_VERB[outcome.decision]}: the decision model, trained on cases people labelled, judges that {what} "
                       f"(probability it should be stopped {learned.score:.2f}); at stake: '{p.id}' — "
                       f"{p.text.split(':')[0].rstrip('.')}.")
    elif outcome.rule is not None and outcome.decision != "allow":
        r = next(r for r in charter.rules if r.id == outcome.rule)
        summary = f"{_VERB[outcome.decision]} by rule '{r.id}' ({r.principle}): {r.description or 'hard rule'}"
    elif outcome.decisive:
        parts = [f"{p.id} {p.score:.2f}" for p in outcome.principles if p.id in outcome.decisive][:3]
        pid = outcome.decisive[0]
        summary = f"{_VERB[outcome.decision]}: likely violates '{pid}' — {charter.principle(pid).text.split(':')[0].rstrip('.')}. Scores: {', '.join(parts)}."
    elif top is not None:
        summary = f"Allowed: no principle reached its threshold (highest: {top.id} {top.score:.2f})."
    else:
        summary = "Allowed: no judge raised a concern."

    counterfactual = ""
    evidence: dict[str, list[Evidence]] = {}
    learned_decisive = [pid for pid in outcome.decisive if any(s.principle == pid and s.decision is None for s in scores)]
    if occlusion and learned_decisive and not errors and outcome.rule is None:
        pid = learned_decisive[0]
        occl = occlusion
        if occl:
            ev, without = occl[0]
            evidence[pid] = [e for e, _ in occl]
            changed = [s.trusted_copy(score=min(s.score, without)) if s.principle == pid and s.decision is None else s
                       for s in scores]
            after = decide(changed, community)
            counterfactual = (f"Without “{ev.text}”, {pid} would score {without:.2f} and the decision would be "
                              f"{after}." if after != outcome.decision else
                              f"Even without “{ev.text}” ({pid} {without:.2f}) the decision would stay {outcome.decision}.")
    elif learned is not None and not errors:
        words = [e.text for e in learned.evidence]
        counterfactual = ("The words that weighed most toward this decision: " + ", ".join(f"“{w}”" for w in words) + "."
                          if words else "")
    elif outcome.rule is not None and outcome.decision != "allow":
        counterfactual = f"Had rule '{outcome.rule}' not matched, the value model's scores alone would decide."
    elif top is not None and not errors and outcome.decision == "allow":
        t = charter.threshold(top.id, community)
        counterfactual = f"It would be escalated if {top.id} scored {t.escalate:.2f} or more (it scored {top.score:.2f})."
    elif learned_decisive and not errors:  # stopped by a learned score without occlusion evidence
        pid = learned_decisive[0]
        line = next(p for p in outcome.principles if p.id == pid)
        t = charter.threshold(pid, community)
        counterfactual = f"It would be allowed if {pid} scored below {t.escalate:.2f} (it scored {line.score:.2f})."
    # every field is built here from validated parts: skip re-validating the precedents
    return Explanation.trusted(summary=summary, decisive=outcome.decisive, rule=outcome.rule, precedents=precedents,
                               counterfactual=counterfactual), evidence


def evidence_text(evidence: list[Evidence]) -> str:
    return "; ".join(f"“{e.text}”" for e in evidence[:3])
