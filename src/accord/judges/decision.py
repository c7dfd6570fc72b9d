"""The ``decision`` judge: a thin adapter from :class:`~accord.learning.decision.DecisionModel` to the
judge protocol, plus judgment of the principles a team added to its charter.

For each case the model gives P(allow), P(block), P(escalate). When it decides ``block`` or
``escalate``, the judge returns one *learned decision*: a :class:`~accord.types.Score` whose
``decision`` is set (the policy keeps the strictest decision) and whose ``rule`` is ``None`` (no
hand-written rule fired), for the charter principle the model's principle head finds most at
stake, with the words that pushed the decision as evidence. An allowed case gets no score from
this judge; later stages (the value model) still score it.

**Principles the model was never trained on** are judged from the charter itself, with no
retraining: each such principle's examples (upholds / violates) and text are embedded once per
charter; a case at least ``min_similarity`` from a *violates* example, and closer to it than to
any *upholds* example, is stopped (``block`` for critical principles, ``escalate`` otherwise).
A principle without examples cannot be judged that way: a case close to its text is escalated to
a person (the judge cannot tell, and never silently allows).

A case near-identical to one a team taught (``accord learn``) takes the team's decision, as the
value model's precedents do: the model's own confidence does not overrule a person.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from accord.charter.model import Charter
from accord.types import Case, Decision, Evidence, Score

if TYPE_CHECKING:
    from accord.learning.decision import DecisionModel


class _CharterPrinciples:
    """Embedded examples of the charter principles the model does not know."""

    def __init__(self, charter: Charter, model: DecisionModel) -> None:
        known = set(model.principles_) | set(model.card_.get("known_principles", []))
        unknown = [p for p in charter.principles if p.id not in known]
        # every example and text of every unknown principle in one batch (a charter of 2,000 such
        # principles took 8 s embedded one principle at a time), then sliced back per principle
        cases: list[Case] = []
        spans: list[tuple[str, slice, slice, slice]] = []
        for p in unknown:
            at = len(cases)
            violates, upholds = p.examples.pairs("violates"), p.examples.pairs("upholds")
            cases += [Case(context=c, action=a) for c, a in violates + upholds]
            cases.append(Case(context="", action=p.text))  # the joint space: the text as an action
            v, u = at + len(violates), at + len(violates) + len(upholds)
            spans.append((p.id, slice(at, v), slice(v, u), slice(u, u + 1)))
        J = model.featurizer.joint(cases) if cases else np.zeros((0, model.featurizer.joint_dim), np.float32)
        self.items: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = [
            (pid, J[v], J[u], J[t]) for pid, v, u, t in spans]


class DecisionJudge:
    """Judge protocol over a :class:`DecisionModel` (registered as ``decision``).

    Args:
        model: the fitted decision model.
        min_similarity: how close (cosine of joint embeddings) a case must be to a charter
            example of an unknown principle to be judged by it.
        text_similarity: how close a case must be to the text of an unknown principle without
            examples to be escalated.
        allow_confidence: a case the model allows with at least this probability gets a learned
            ``allow``: later stages are not asked, and the value model's thresholds do not overrule
            a confident decision model (a hard rule and a charter principle's examples still do).
            ``None`` always asks the later stages.
        settle_similarity: a case at least this close (cosine) to one a team taught takes the
            taught decision (a person decided a near-identical case). At 0.8 the default gate's XSTest false
            positives fall from 23% to 19% and ASSEBench F1 rises from 0.77 to 0.88, for 5 points
            of XSTest recall (``docs/decision-model.md``).
    """

    name = "decision"

    def __init__(self, model: DecisionModel, *, min_similarity: float = 0.8, text_similarity: float = 0.55,
                 allow_confidence: float | None = 0.8, settle_similarity: float = 0.9) -> None:
        self.model = model
        self.settle_similarity = settle_similarity
        self.allow_confidence = allow_confidence
        self.min_similarity = min_similarity
        self.text_similarity = text_similarity
        self._charters: dict[int, tuple[Charter, _CharterPrinciples]] = {}
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        return self.model.version

    @property
    def cases_per_budget(self) -> int:
        """Cases per ``judge_timeout_ms`` (see :class:`~accord.judges.base.Judge`): static features
        take well under a millisecond a case; a semantic encoder 10-35 ms on one core, the
        cross-encoder another 10-30 ms."""
        if getattr(self.model, "cross_", None) is not None:
            return 8
        return 16 if self.model.semantic else 256

    def warm_up(self) -> None:
        """Load the encoders, the stacked value model and the neighbour index now, so the first
        check is not the one that pays for them (and times out)."""
        self.model.analyse([Case(context="warm-up", action="warm-up")])

    def prepare(self, charter: Charter) -> None:
        """Embed the examples and texts of the charter's principles the model does not know (the
        gate calls this when it is built: with a semantic encoder a charter of nine unknown
        principles took over the 2 s budget of the first case it judged, which then failed closed)."""
        self._unknown(charter)

    def _unknown(self, charter: Charter) -> _CharterPrinciples:
        with self._lock:
            hit = self._charters.get(id(charter))
            if hit is None or hit[0] is not charter:
                hit = (charter, _CharterPrinciples(charter, self.model))
                self._charters = {id(charter): hit}  # one charter at a time is the common case
            return hit[1]

    def judge(self, cases: Sequence[Case], charter: Charter) -> list[list[Score]]:
        if not cases:
            return []
        proba, pp, J = self.model.analyse(cases)
        decisions = self.model.decide(proba, cases)
        settled = self.model.taught_precedent(J, self.settle_similarity)
        ids = set(charter.principle_ids)
        cols = [(j, pid) for j, pid in enumerate(self.model.principles_) if pid in ids]
        out: list[list[Score]] = []
        for i, (case, d) in enumerate(zip(cases, decisions, strict=True)):
            scores: list[Score] = []
            near = settled[i]
            if near is not None:  # a person decided a near-identical case: follow them
                m = self.model.memory_[near[0]]
                pid = m.get("principle") if m.get("principle") in ids else (max(cols, key=lambda t: pp[i, t[0]])[1] if cols else None)
                if pid is not None:
                    scores.append(Score(principle=pid, score=round(near[1], 4), source=f"{self.name}:precedent",
                                        decision=m["decision"], settled=True))
                    scores.extend(self._charter_scores(charter, J[i]))
                    out.append(scores)
                    continue
            if d != "allow" and cols:
                _, pid = max(cols, key=lambda t: pp[i, t[0]])
                words = self.model.word_weights(case, d)
                evidence = [Evidence(text=w, field="action") for w, _ in words]
                scores.append(Score(principle=pid, score=float(np.clip(1.0 - proba[i, 0], 0.0, 1.0)), source=self.name,
                                    evidence=evidence, decision=d))  # type: ignore[arg-type]
            elif d == "allow" and cols and self.allow_confidence is not None and proba[i, 0] >= self.allow_confidence:
                _j, pid = max(cols, key=lambda t: pp[i, t[0]])
                scores.append(Score(principle=pid, score=float(np.clip(1.0 - proba[i, 0], 0.0, 1.0)), source=self.name,
                                    decision="allow"))
            scores.extend(self._charter_scores(charter, J[i]))
            out.append(scores)
        return out

    def _charter_scores(self, charter: Charter, j: np.ndarray) -> list[Score]:
        unknown = self._unknown(charter)
        out: list[Score] = []
        for pid, violates, upholds, text in unknown.items:
            if len(violates):
                sv = float(np.max(violates @ j))
                su = float(np.max(upholds @ j)) if len(upholds) else -1.0
                if sv >= self.min_similarity and sv > su:
                    sev = charter.principle(pid).severity
                    d: Decision = "block" if sev == "critical" else "escalate"
                    out.append(Score(principle=pid, score=round(min(max(sv, 0.0), 1.0), 4), source=f"{self.name}:examples",
                                     decision=d))
            elif float(text[0] @ j) >= self.text_similarity:
                out.append(Score(principle=pid, score=round(float(text[0] @ j), 4), source=f"{self.name}:principle-text",
                                 decision="escalate"))
        return out


def packaged_decision_dir() -> Path:
    from importlib import resources

    return Path(str(resources.files("accord.data").joinpath("models", "decision")))


def decision_judge(path: str | Path | None = None, *, value_model: str | Path | None = None,
                      **options: float | None) -> DecisionJudge:
    """``path``, else the decision model taught along with ``value_model`` (or the current value
    model), else the packaged one."""
    from accord.learning.decision import DecisionModel
    from accord.learning.models import load_decision_model

    model = DecisionModel.load(path) if path else load_decision_model(value_model)
    judge = DecisionJudge(model, **options)  # type: ignore[arg-type]
    judge.warm_up()
    return judge

