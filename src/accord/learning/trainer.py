"""Value learning: feedback (+ the charter's examples) → a new value model, with held-out metrics.

By default learning *builds on* the current model (``partial_fit``: the feedback is added to what
it already knows); ``from_scratch`` trains on the given data and the charter's examples alone.
Metrics come from a seeded hold-out of the feedback, scored by a model trained without it; the
model that is saved is then trained on all of it.

The same labels also teach the decision model (:meth:`DecisionModel.teach`: unacceptable → block,
acceptable and demonstrations → allow, and a reviewer's "depends on the community" or "needs
discussion" (an :class:`~accord.types.Escalation`) → escalate). It is saved in the value model's
directory under ``decision/``, and a gate built on that directory uses it (:func:`accord.learning.models.decision_model_dir`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from accord.charter.model import Charter
from accord.learning.decision import DecisionModel
from accord.learning.feedback import TrainingSet, charter_examples, feedback_to_training
from accord.learning.metrics import binary_metrics, pairwise_accuracy
from accord.learning.value_model import Pairs, ValueModel
from accord.types import Demonstration, Escalation, Label, Preference

DECISION_SUBDIR = "decision"

FeedbackRecord = Label | Preference | Demonstration | Escalation


@dataclass
class LearnResult:
    """A trained model, its held-out metrics, and what it was trained on."""

    model: ValueModel
    metrics: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    decision: DecisionModel | None = None

    def save(self, out: str | Path, *, name: str | None = None) -> Path:
        """Save the value model and, when labels taught it, the decision model in ``out/decision``."""
        path = self.model.save(out, name=name)
        if self.decision is not None:
            self.decision.save(Path(path) / DECISION_SUBDIR)
        return path


def _split(n: int, holdout: float, seed: int) -> tuple[list[int], list[int]]:
    if n < 10 or holdout <= 0:
        return list(range(n)), []
    idx = np.random.default_rng(seed).permutation(n)
    cut = max(1, round(n * holdout))
    return sorted(idx[cut:].tolist()), sorted(idx[:cut].tolist())


def learn(
    records: Sequence[FeedbackRecord],
    charter: Charter,
    *,
    base: ValueModel | None = None,
    from_scratch: bool = False,
    holdout: float = 0.2,
    random_state: int = 0,
    source: str = "feedback",
    encoder: str = "wordllama",
    decision_base: DecisionModel | None = None,
    teach: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
) -> LearnResult:
    """Train a value model from feedback; see the module docstring (``encoder``: from scratch only).

    ``decision_base`` is the decision model the labels teach (default: the one that goes with
    ``base``, else the packaged one); ``teach=False`` leaves the decision model alone (it costs
    ~15–30 s on two cores: the corpus it remembers is featurised again). ``progress`` is called
    with ``(stage, number, of)`` as each stage starts (the CLI shows it)."""
    counts = {k: sum(r.kind == k for r in records) for k in ("label", "preference", "demonstration")}
    if escalations := sum(r.kind == "escalation" for r in records):
        counts["escalation"] = escalations
    train_idx, test_idx = _split(len(records), holdout, random_state)
    stages = ([f"training on {len(train_idx)} records to measure", f"measuring on {len(test_idx)} held-out records"]
              if test_idx else [])
    stages.append(f"training the value model on all {len(records)} records")
    if teach:
        stages.append("teaching the decision model (its remembered corpus is featurised again)")
    step = iter(range(1, len(stages) + 1))

    def stage() -> None:
        i = next(step)
        if progress is not None:
            progress(stages[i - 1], i, len(stages))

    metrics: dict[str, Any] = {}
    if test_idx:
        stage()
        trial = _train([records[i] for i in train_idx], charter, base, from_scratch, random_state, source, encoder)
        stage()
        metrics = evaluate_feedback(trial, [records[i] for i in test_idx])
        metrics["holdout"] = len(test_idx)
    stage()
    model = _train(list(records), charter, base, from_scratch, random_state, source, encoder)
    model.card_.setdefault("learn_metrics", []).append({"counts": counts, **metrics})
    decision = None
    if teach:
        stage()
        decision = teach_decision(records, decision_base)
    return LearnResult(model=model, metrics=metrics, counts=counts, decision=decision)


def teach_decision(records: Sequence[FeedbackRecord], base: DecisionModel | None = None) -> DecisionModel | None:
    """The decision model taught the labels, demonstrations, escalations and preferences among
    ``records`` (None without any)."""
    taught = [(r.context, r.action, "block" if r.verdict == "unacceptable" else "allow", r.principle)
              for r in records if isinstance(r, Label)]
    taught += [(r.context, r.action, "allow", None) for r in records if isinstance(r, Demonstration)]
    taught += [(r.context, r.action, "escalate", r.principle) for r in records if isinstance(r, Escalation)]
    prefs = [r for r in records if isinstance(r, Preference)]
    if not taught and not prefs:
        return None
    from accord.learning.models import load_decision_model
    from accord.types import Case

    base = base or load_decision_model(None)
    return base.teach([Case(context=c, action=a) for c, a, _, _ in taught], [d for _, _, d, _ in taught],
                      [p for _, _, _, p in taught],
                      pairs=[(Case(context=r.context, action=r.chosen), Case(context=r.context, action=r.rejected))
                             for r in prefs])


def _train(records: list[FeedbackRecord], charter: Charter, base: ValueModel | None, from_scratch: bool,
           seed: int, source: str, encoder: str = "wordllama") -> ValueModel:
    warm = base is not None and not from_scratch
    model = copy.deepcopy(base) if warm else ValueModel(charter.principle_ids, encoder=encoder, random_state=seed)
    assert model is not None
    data = TrainingSet()
    data.extend(charter_examples(charter))
    data.extend(feedback_to_training(records, model if warm else None, source=source))
    if warm:
        return model.partial_fit(data.cases, data.y, **data.fit_kwargs())
    return model.fit(data.cases, data.y, **data.fit_kwargs())


def evaluate_feedback(model: ValueModel, records: Sequence[FeedbackRecord]) -> dict[str, Any]:
    """Agreement of a model with held-out feedback: label metrics and pairwise accuracy."""
    out: dict[str, Any] = {}
    labels = [r for r in records if isinstance(r, Label)]
    if labels:
        p = model.predict_proba([(r.context, r.action) for r in labels])[:, 1]
        y = [int(r.verdict == "unacceptable") for r in labels]
        out["labels"] = binary_metrics(y, p).as_dict()
    pairs = Pairs()
    for r in records:
        if isinstance(r, Preference):
            pairs.add(r.context, r.chosen, r.rejected)
    if len(pairs):
        rc = model.reward(list(zip(pairs.contexts, pairs.chosen, strict=True)))
        rr = model.reward(list(zip(pairs.contexts, pairs.rejected, strict=True)))
        out["pairwise_accuracy"] = pairwise_accuracy(rc, rr)
        out["pairs"] = len(pairs)
    demos = [r for r in records if isinstance(r, Demonstration)]
    if demos:
        p = model.predict_proba([(r.context, r.action) for r in demos])[:, 1]
        out["demonstrations_acceptable"] = round(float((p < 0.5).mean()), 4)
    return out


def save_learned(result: LearnResult, out: str | Path, name: str | None = None) -> Path:
    """Save the model directory; the data card records counts and metrics."""
    return result.save(out, name=name)
