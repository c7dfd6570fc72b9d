"""The gate: runs the judges (a cascade) on cases and turns their scores into verdicts.

``Gate.check_many`` reads top to bottom: validate the batch → judge (the cascade, within its
time budget) → decide (the pure policy, :mod:`accord.gate.policy`) → explain (one call to
:mod:`accord.explain`, which asks the explaining judges for precedents and evidence) → record
(the recorder, e.g. the audit seam of :mod:`accord.review.audit`). It also chooses among candidate
actions by the reward head.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ParamSpec

from accord.charter.loader import load_charter
from accord.charter.model import Charter
from accord.errors import AccordError, InputError
from accord.explain.gather import explain_many, precedents_many
from accord.explain.sources import Explainer, Ranker
from accord.gate.policy import Outcome, decide, decision_of, decisions_of
from accord.judges.base import CASES_PER_BUDGET, Judge, get_judge
from accord.judges.cascade import Cascade, CaseResult
from accord.judges.rules import RuleJudge
from accord.judges.value_model import NeutralView, ValueModel
from accord.learning.models import load_model
from accord.speedups import gc_paused, trace_ids
from accord.types import (
    SCHEMA_VERSION,
    Case,
    Decision,
    Evidence,
    Explanation,
    Message,
    Score,
    ToolCall,
    Verdict,
)

Recorder = Callable[[Case, Verdict], None]

#: the packaged default gate's cascade: hard rules, the decision model (allow / block / escalate
#: learned from labelled cases, and the charter's own principles judged from their examples), then
#: the value model's per-principle scores
DEFAULT_JUDGES = "rules,decision,model"
P = ParamSpec("P")

class Gate:
    """Judge cases against a charter and decide: allow, revise, block or escalate.

    Args:
        charter: the team's values.
        judges: the cascade's stages, cheapest first (default: rules, then the value model).
        model: the value model used for precedents, occlusion and candidate ranking (the one in
            ``judges`` when present).
        recorder: called with every (case, verdict); the audit store's ``record`` fits here.
        band: the cascade's uncertainty band.
    """

    def __init__(
        self,
        charter: Charter,
        judges: Sequence[Judge] | None = None,
        *,
        model: ValueModel | None = None,
        recorder: Recorder | None = None,
        band: tuple[float, float] = (0.2, 0.8),
        precedents: int = 3,
    ) -> None:
        self.charter = charter
        if judges is None:
            judges = [RuleJudge()] + ([model] if model is not None else [])
        self.model: Explainer | None = model or next((j for j in judges if isinstance(j, Explainer)), None)
        self.cascade = Cascade(judges, band=band)
        #: the stages that explain their own scores (occlusion evidence), by the name their scores carry
        self._explainers = {j.name: j for j in self.cascade.stages if isinstance(j, Explainer)}
        self.recorder = recorder
        self.n_precedents = precedents
        for j in self.cascade.stages:  # charter-dependent set-up now, not inside the first case's time budget
            prepare = getattr(j, "prepare", None)
            if callable(prepare):
                prepare(charter)

    # ------------------------------------------------------------------ construction
    @classmethod
    def default(cls, *, recorder: Recorder | None = None) -> Gate:
        """The packaged default charter, decision model and value model (:data:`DEFAULT_JUDGES`)."""
        return cls.from_charter(None, recorder=recorder)

    @classmethod
    def from_charter(cls, path: str | Path | None = None, *, model: str | Path | ValueModel | None = None,
                     judges: str | Sequence[str | Judge] | None = None, recorder: Recorder | None = None,
                     model_dirs: Mapping[str, str | Path] | None = None, **kwargs: Any) -> Gate:
        """A gate from a charter file (``None``: the default) and a model directory (``None``: current).

        ``judges`` names the cascade's stages, cheapest first, from the judge registry, as a list or
        a comma-separated string: ``"rules,decision,model,strong"`` adds the packaged stronger tier,
        ``"rules,decision,model,llm"`` an LLM judge, ``"rules,model"`` is the chat fast path. ``model``
        is the value model that ``"model"`` stands for. Default: :data:`DEFAULT_JUDGES`.
        ``model_dirs`` gives other registry judges their model directory (``{"strong": path}``);
        the gate never looks a model up in a database itself.
        """
        judges = DEFAULT_JUDGES if judges is None else judges
        names = (
            [n.strip() for n in judges.split(",") if n.strip()] if isinstance(judges, str) else list(judges))
        if not names:
            raise InputError("no judge named", hint=f"e.g. {DEFAULT_JUDGES} or rules,model")
        model_path = model if model is None or isinstance(model, str | Path) else None  # a directory, or a loaded model
        given = None if model is None or isinstance(model, str | Path) else model
        vm = (given if given is not None else load_model(model_path)) if "model" in names else None
        where = model_path  # the decision model taught with it, if any
        dirs = dict(model_dirs or {})
        stages: list[Judge] = [vm if n == "model" and vm is not None else
                               get_judge(n, value_model=where) if n == "decision" else
                               get_judge(n, path=dirs[n]) if isinstance(n, str) and n in dirs else
                               get_judge(n) if isinstance(n, str) else n for n in names]
        if vm is not None and any(getattr(getattr(s, "model", None), "neutral", False) is True for s in stages):
            # behind a decision model that reads the attribute-neutral view, the value model scores it too
            stages = [NeutralView(vm) if s is vm else s for s in stages]
        return cls(load_charter(path), stages, model=vm, recorder=recorder, **kwargs)

    @property
    def version(self) -> str:
        return f"{self.charter.name}@{self.cascade.version}"

    # ------------------------------------------------------------------ checking
    def check(
        self,
        context: str | list[Message] | list[dict[str, str]] | Case = "",
        action: str | ToolCall | dict[str, Any] = "",
        *,
        community: str | None = None,
        candidates: Sequence[str] | None = None,
        case_id: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Verdict:
        """Judge one action in its context.

        With ``candidates`` (alternative actions), every option is judged and the verdict picks
        the best acceptable one by the reward head: ``chosen`` is its index in
        ``[action, *candidates]`` and, when it is not the original, ``decision`` is ``revise`` with
        the chosen text in ``revised``. A :class:`Case` may stand for ``context`` and ``action``
        (``gate.check(case)``).
        """
        if isinstance(context, Case):
            if action != "" or case_id is not None or meta is not None:
                raise InputError("gate.check(case) takes the case alone: put the action, id and meta in the Case")
            case = context if community is None else context.model_copy(update={"community": community})
        else:
            case = Case.coerce({"context": context, "action": action, "community": community,
                                "id": case_id, "meta": meta or {}})
        if not candidates:
            return self.check_many([case])[0]
        options = [case] + [case.model_copy(update={"action": c}) for c in candidates]
        verdicts = self.check_many(options, record=False)
        return self._choose(case, options, verdicts)

    def check_case(self, case: Case) -> Verdict:
        return self.check_many([case])[0]

    def check_many(self, cases: Sequence[Case | dict[str, Any]], *, record: bool = True) -> list[Verdict]:
        """Judge a batch in one pass (batch encoding), in input order; a case may be a dict."""
        batch = [Case.coerce(c) for c in cases]
        for c in batch:
            if c.community is not None and c.community not in self.charter.communities:
                known = ", ".join(self.charter.communities) or "none"
                raise InputError(f"unknown community {c.community!r}; the charter defines: {known}")
        with gc_paused(len(batch) >= 256):
            return self._check_many(batch, record=record)

    def _check_many(self, cases: Sequence[Case], *, record: bool) -> list[Verdict]:
        """Judge → decide → explain → record (``check_many`` validated the batch)."""
        t0 = time.perf_counter()
        results = self._judge(cases)
        precedents = precedents_many(self.model, cases, self.n_precedents)  # the explanation's, gathered early
        outcomes = [decide(self.charter, r.scores, community=c.community, error=bool(r.errors) and not r.timed_out,
                           timed_out=r.timed_out) for c, r in zip(cases, results, strict=True)]
        explained = explain_many(self.charter, cases, [r.scores for r in results], [r.errors for r in results], outcomes,
                                 decide=self._decision_of, precedents=precedents, explainers=self._explainers)
        per_case_ms = (time.perf_counter() - t0) * 1000 / max(len(cases), 1)
        version = self.version  # once per batch: each stage's version is a property (about 20 µs a verdict)
        verdicts = [self._verdict(c, r, o, e, tid, per_case_ms, version) for c, r, o, e, tid
                    in zip(cases, results, outcomes, explained, trace_ids(len(cases)), strict=True)]
        if record and self.recorder is not None:
            for c, v in zip(cases, verdicts, strict=True):
                self.recorder(c, v)
        return verdicts

    def _judge(self, cases: Sequence[Case]) -> list[CaseResult]:
        """The cascade's scores, within the charter's time budget.

        One budget per as many cases as the slowest stage handles in one (256 for the fast tier),
        so a large batch is not failed for being large.
        """
        n = len(cases)
        per = min(max(1, int(getattr(j, "cases_per_budget", CASES_PER_BUDGET))) for j in self.cascade.stages)
        budget = self.charter.policy.judge_timeout_ms / 1000 * max(1, -(-n // per))
        return self.cascade.run(cases, self.charter, budget) if n else []

    def _decision_of(self, scores: list[Score], community: str | None) -> Decision:
        """The policy's decision for these scores: handed to the explanation for its counterfactual."""
        return decision_of(self.charter, scores, community=community)

    def _verdict(self, case: Case, r: CaseResult, outcome: Outcome,
                 explained: tuple[Explanation, dict[str, list[Evidence]]], trace_id: str, ms: float,
                 version: str) -> Verdict:
        error = bool(r.errors) and not r.timed_out
        communities: dict[str, Decision] = {}
        if self.charter.communities:
            others = [c for c in (None, *self.charter.communities) if c != case.community]
            decided = dict(zip(others, decisions_of(self.charter, r.scores, others, error=error, timed_out=r.timed_out),
                               strict=True))
            decided[case.community] = outcome.decision
            communities = {"default" if c is None else c: decided[c] for c in (None, *self.charter.communities)}
        explanation, evidence = explained
        principles = [p.trusted_copy(evidence=evidence[p.id]) if p.id in evidence and not p.evidence else p
                      for p in outcome.principles]
        # built from validated parts (scores are clipped to [0, 1] by the judges, risk by the policy):
        # constructing without re-validation keeps the gate's per-case overhead small
        return Verdict.trusted(
            schema_version=SCHEMA_VERSION,
            trace_id=trace_id,
            case_id=case.id,
            decision=outcome.decision,
            risk=outcome.risk,
            principles=principles,
            explanation=explanation,
            communities=communities,
            contested=len(set(communities.values())) > 1,
            revised=outcome.revised,
            chosen=None,
            judge_version=version,
            errors=r.errors,
            latency_ms=round(ms, 3),
        )

    def _choose(self, case: Case, options: list[Case], verdicts: list[Verdict]) -> Verdict:
        ok = [i for i, v in enumerate(verdicts) if v.decision in ("allow", "revise")]
        ranker = self.model if isinstance(self.model, Ranker) else None
        if not ok or ranker is None:
            chosen_idx = 0 if not ok else ok[0]
        else:
            rewards = ranker.reward(options)
            chosen_idx = max(ok, key=lambda i: (float(rewards[i]), -i))
        v = verdicts[chosen_idx] if ok else verdicts[0]
        update: dict[str, Any] = {"chosen": chosen_idx if ok else None}
        if ok and chosen_idx != 0:
            update["decision"] = "revise"
            update["revised"] = verdicts[chosen_idx].revised or options[chosen_idx].action_text
            update["explanation"] = v.explanation.model_copy(update={
                "summary": f"Revised: candidate {chosen_idx} is the best acceptable option by the reward head "
                           f"(the original was {verdicts[0].decision}). " + v.explanation.summary})
        out = v.model_copy(update=update)
        if self.recorder is not None:
            self.recorder(case, out)
        return out


class Blocked(AccordError):
    """Raised by :func:`guard` when the gate does not let a response through."""

    exit_code = 1

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(f"{verdict.decision}: {verdict.explanation.summary}")
        self.verdict = verdict


def guard(gate: Gate | None = None, *, context_arg: str | int = 0, refusal: str | None = None,
          ) -> Callable[[Callable[P, str]], Callable[P, str]]:
    """Decorate a function that returns an AI response so every response passes the gate.

    ``context_arg`` names (or indexes) the argument that holds the prompt. An allowed response is
    returned as is, a revised one in its revised form; a blocked or escalated one raises
    :class:`Blocked`, or returns ``refusal`` when given.
    """

    def wrap(fn: Callable[P, str]) -> Callable[P, str]:
        state: dict[str, Gate] = {}

        @functools.wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> str:
            g = gate or state.get("g") or state.setdefault("g", Gate.default())
            if isinstance(context_arg, int):
                ctx = args[context_arg] if len(args) > context_arg else ""
            else:
                ctx = kwargs.get(context_arg, "")
            response = fn(*args, **kwargs)
            v = g.check(context=str(ctx), action=str(response))
            if v.decision == "allow":
                return response
            if v.decision == "revise" and v.revised is not None:
                return v.revised
            if refusal is not None:
                return refusal
            raise Blocked(v)

        inner.last_gate = state  # type: ignore[attr-defined]
        return inner

    return wrap
