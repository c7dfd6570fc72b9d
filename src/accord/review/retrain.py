"""Closing the loop: retrain the judge from reviews, and promote the new version only if it is not worse.

:func:`retrain_from_store` turns every review into feedback (:mod:`accord.review.feedback`),
trains a candidate with :func:`accord.learning.trainer.learn`, and compares it with the model in
use on data neither was trained on:

* **held-out reviews**: a seeded share of the items reviewed since the current model was
  trained (no model has seen them);
* **earlier held-out reviews**: the items held out at every earlier retrain of this model
  name. They are never trained on, so they form a growing test set that new reviews cannot
  rewrite: a flood of careless or malicious reviews makes a candidate worse here, and it is
  refused;
* **reference suites**: labelled cases the team trusts (``suites``), and, for the decision model
  unless turned off, the packaged one (:data:`PACKAGED_SUITE`): 260 minimal pairs no shipped model
  was trained on, an acceptable case beside its twin that crosses the line.

The candidate is promoted only if, on every set, it makes no more mistakes than the current
model beyond ``tolerance`` (a share of the set) **and lets through no more unacceptable cases**
beyond ``tolerance`` (a share of the set's unacceptable cases): fewer false stops do not buy more
missed harm. Where the reviews also teach the decision model (the model the default gate decides
with), the taught decision model is held to the same rules on the same sets and the packaged
suite, its stops (block or escalate) read against ``unacceptable``: a lesson of correct "allow"
verdicts frees harmful look-alikes of the reviewed cases while it fixes more false stops, so its
error count falls and only the second rule refuses it (measured in ``bench/promotion.py``). Either
way the candidate is saved and registered, and the decision is recorded: a promotion as a model
event, a refusal as an audit event, both with who, when and why.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from accord.charter.model import Charter
from accord.errors import InputError
from accord.learning import registry
from accord.learning.feedback import feedback_to_training, read_labels
from accord.learning.metrics import binary_metrics
from accord.learning.registry import DEFAULT_NAME, ensure_current, find_version, promote, rollback
from accord.learning.registry import current_path as current_model_path
from accord.learning.trainer import learn
from accord.learning.value_model import ValueModel
from accord.review.agreement import ResolveMethod
from accord.review.feedback import ReviewFeedback, build_feedback
from accord.store import ModelVersion, Store
from accord.types import Case, Label

if TYPE_CHECKING:
    from accord.learning.decision import DecisionModel

#: the registry's functions, re-exported where the promotion gate's callers have always found them
__all__ = ["DEFAULT_NAME", "PACKAGED_SUITE", "IncrementalLearner", "PromotionResult", "SetComparison",
           "current_model_path", "ensure_current", "evaluate_labels", "find_version", "packaged_suite", "promote",
           "promotion_gate", "retrain_from_store", "rollback"]
SET_HELDOUT = "held-out reviews"
SET_ANCHOR = "earlier held-out reviews"
#: appended to a set's name where the row compares the decision models taught with the value models
DECISION_SET = " (decision model)"
#: the packaged reference suite (``scripts/build_reference_suite.py``), by its name in the comparison
PACKAGED_SUITE = "reference pairs (packaged)"


# ---------------------------------------------------------------------- evaluation
def evaluate_labels(model: ValueModel, labels: Sequence[Label]) -> dict[str, Any]:
    """Agreement of a model with labels: n, errors, accuracy, F1, AUPRC, Brier score."""
    if not labels:
        return {"n": 0}
    p = model.predict_proba([(r.context, r.action) for r in labels])[:, 1]
    y = np.array([int(r.verdict == "unacceptable") for r in labels])
    m = binary_metrics(y, p)
    flagged = p >= 0.5
    errors = int((flagged.astype(int) != y).sum())
    return {"n": len(labels), "errors": errors, **_missed(y, flagged), "accuracy": m.accuracy, "f1": m.f1,
            "auprc": m.auprc, "brier": round(float(np.mean((p - y) ** 2)), 4)}


def _missed(y: np.ndarray, flagged: np.ndarray) -> dict[str, int]:
    """How many unacceptable cases there are and how many of them a model let through."""
    return {"unacceptable": int(y.sum()), "missed": int((y.astype(bool) & ~flagged).sum())}


def evaluate_decisions(model: DecisionModel, labels: Sequence[Label]) -> dict[str, Any]:
    """Agreement of a decision model with labels, the way the gate uses it: its decision (block or
    escalate: a stop) against ``unacceptable``; AUPRC and Brier score of its probability of a stop."""
    if not labels:
        return {"n": 0}
    cases = [Case(context=r.context, action=r.action) for r in labels]
    proba = model.predict_proba(cases)
    p = 1.0 - proba[:, 0]
    stop = np.array([d != "allow" for d in model.decide(proba, cases)], dtype=bool)
    y = np.array([int(r.verdict == "unacceptable") for r in labels])
    m = binary_metrics(y, p, flagged=stop)
    return {"n": len(labels), "errors": int((stop.astype(int) != y).sum()), **_missed(y, stop), "accuracy": m.accuracy,
            "f1": m.f1, "auprc": m.auprc, "brier": round(float(np.mean((p - y) ** 2)), 4)}


@dataclass
class SetComparison:
    """The current model and the candidate on one evaluation set."""

    name: str
    current: dict[str, Any]
    candidate: dict[str, Any]
    worse: bool
    why: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "current": self.current, "candidate": self.candidate, "worse": self.worse,
                "why": self.why}


@dataclass
class PromotionResult:
    """What a retrain produced and whether the promotion gate let it through.

    ``promoted`` tells whether the candidate is now in use; ``reason`` says why (or why not) in
    one sentence; ``comparison`` holds the per-set metrics of both models.
    """

    promoted: bool
    reason: str
    name: str
    version: str
    path: Path | None
    model_id: int | None
    previous: ModelVersion | None
    comparison: list[SetComparison] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    model: ValueModel | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (for ``--json``)."""
        return {"promoted": self.promoted, "reason": self.reason, "name": self.name, "version": self.version,
                "path": str(self.path) if self.path else None, "model_id": self.model_id,
                "previous": self.previous.version if self.previous else None,
                "comparison": [c.as_dict() for c in self.comparison], "counts": self.counts}


def _compare(name: str, cur: ValueModel, cand: ValueModel, labels: Sequence[Label], tolerance: float) -> SetComparison:
    return _versus(name, evaluate_labels(cur, labels), evaluate_labels(cand, labels), tolerance)


def _versus(name: str, a: dict[str, Any], b: dict[str, Any], tolerance: float) -> SetComparison:
    """Worse when the candidate ``b`` makes more mistakes than ``a`` beyond ``tolerance`` of the set,
    or lets through more unacceptable cases beyond ``tolerance`` of those (at least one more: a
    set with few unacceptable cases may not lose one of them for free)."""
    why = []
    if b["errors"] > a["errors"] + int(np.floor(tolerance * a["n"] + 1e-9)):
        why.append(f"worse on {name}: agreement {a['accuracy']:.3f} → {b['accuracy']:.3f} "
                   f"({b['errors']} errors vs {a['errors']} of {a['n']})")
    if b.get("missed", 0) > a.get("missed", 0) + int(np.floor(tolerance * a.get("unacceptable", 0) + 1e-9)):
        why.append(f"lets through more unacceptable cases of {name}: {b['missed']} vs {a['missed']} of "
                   f"{a['unacceptable']} (agreement {a['accuracy']:.3f} → {b['accuracy']:.3f})")
    return SetComparison(name, a, b, bool(why), "; ".join(why))


def _split(items: list[int], holdout: float, seed: int) -> set[int]:
    if len(items) < 5 or holdout <= 0:
        return set()
    rng = np.random.default_rng(seed)
    k = max(1, round(len(items) * holdout))
    return {int(i) for i in rng.choice(sorted(items), size=k, replace=False)}


def _load_suite(s: str | Path | Sequence[Label]) -> tuple[str, list[Label]]:
    if isinstance(s, str | Path):
        return f"suite {Path(s).name}", read_labels(s)
    return "reference suite", list(s)


def packaged_suite() -> list[Label]:
    """The packaged reference suite: every minimal pair of corpus authors c61-c66 (520 cases, half
    unacceptable), which no shipped model was trained on (``scripts/build_reference_suite.py``)."""
    from importlib import resources

    return read_labels(Path(str(resources.files("accord.data").joinpath("reference", "pairs.jsonl"))))


def retrain_from_store(
    store: Store,
    charter: Charter,
    *,
    base_model_dir: str | Path | None = None,
    out_dir: str | Path,
    suites: Sequence[str | Path | Sequence[Label]] = (),
    packaged: bool = True,
    actor: str = "accord",
    name: str = DEFAULT_NAME,
    method: ResolveMethod = "majority",
    holdout: float = 0.2,
    tolerance: float = 0.02,
    from_scratch: bool = False,
    random_state: int = 0,
    promote_if_better: bool = True,
    teach: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
) -> PromotionResult:
    """Retrain the value model from every review in the store; promote it only if it is not worse.

    Args:
        store: the audit store holding the reviews, the feedback and the model registry.
        charter: the charter the model judges against.
        base_model_dir: the model in use when the store has none registered under ``name``
            (registered and promoted as the baseline); default the packaged model.
        out_dir: a folder for model versions; the candidate is saved in ``out_dir/<version>``.
        suites: reference suites: labelled-case JSONL files or lists of labels; the candidate
            must not be worse on any of them.
        packaged: also hold the taught decision model to the packaged reference suite
            (:func:`packaged_suite`, rows named :data:`PACKAGED_SUITE` ``(decision model)``; the
            value model, which reads agent actions near chance there, is not held to it). Turn it
            off only for a charter that does not stop what it stops (an unrequested charge, someone
            else's data, a gamed objective); it costs about 15 s a model on two cores.
        actor: who asked (recorded with the version and the promotion or refusal).
        name: the model name in the registry.
        method: how disagreeing reviews become one label: ``majority`` or ``reliability``.
        holdout: share of the freshly reviewed items held out for the comparison.
        tolerance: how many more mistakes than the current model the candidate may make on a
            set, as a share of the set (0.02: 2 more per 100 cases).
        from_scratch: train on the feedback and the charter's examples alone instead of
            building on the current model.
        random_state: seed of the hold-out split and of training.
        promote_if_better: ``False`` registers the candidate and reports without promoting.
        teach: also teach the decision model the reviews (escalate for "depends on the
            community" and "needs discussion", allow/block for the rest), saved with the
            candidate; the promotion gate then compares the decision models too (rows named
            ``<set> (decision model)``). ``False`` retrains the value model alone and saves 15–30 s
            on two cores.
        progress: called with ``(stage, number, of)`` as each training stage starts (the CLI
            shows it; see :func:`accord.learning.trainer.learn`), and with ``(stage, 0, 0)`` when
            the comparison starts.

    Returns:
        A :class:`PromotionResult` (``accord.cli.promotion_view`` prints its comparison).
    """
    if not 0 <= holdout < 1:
        raise InputError(f"holdout must be in [0, 1) (got {holdout})")
    if tolerance < 0:
        raise InputError(f"tolerance must not be negative (got {tolerance})")
    references = [_load_suite(s) for s in suites]  # a bad suite is reported before anything is registered or trained
    current = ensure_current(store, name, base_model_dir, actor=actor)
    cur_model = ValueModel.load(current.path)
    fb = build_feedback(store, method=method)
    if not fb.records:
        raise InputError("the store holds no reviews or feedback to learn from",
                         hint="review escalated cases with `accord review` or `accord ui` first")
    labelled = {i for i, r in zip(fb.items, fb.records, strict=True) if i is not None and isinstance(r, Label)}
    anchors = registry.anchor_items(store, name) & labelled
    since = registry.trained_until(current)
    fresh = sorted(i for i in labelled - anchors if since is None or fb.reviewed_at[i] > since)
    held = _split(fresh, holdout, random_state)
    train_items = set(fb.reviewed_at) - anchors - held
    train = fb.subset(train_items)
    if not train:
        raise InputError("every review is held out for evaluation; nothing is left to train on",
                         hint="review more cases, or lower the hold-out share")

    from accord.learning.models import load_decision_model

    result = learn(train, charter, base=None if from_scratch else cur_model, from_scratch=from_scratch,
                   holdout=0.0, random_state=random_state, source="review", encoder=cur_model.encoder,
                   decision_base=None if from_scratch else load_decision_model(current.path), teach=teach,
                   progress=progress)
    cand = result.model
    if progress is not None:
        progress("compare with the model in use", 0, 0)
    sets = [(SET_HELDOUT, fb.labels_of(held)), (SET_ANCHOR, fb.labels_of(anchors))]
    sets += references
    comparison = [_compare(n, cur_model, cand, labels, tolerance) for n, labels in sets if labels]
    if result.decision is not None:  # the model the default gate decides with: it must not get worse either
        cur_decision = load_decision_model(current.path)  # the one in use beside the current value model
        if packaged:
            sets.append((PACKAGED_SUITE, packaged_suite()))
        comparison += [_versus(f"{n}{DECISION_SET}", evaluate_decisions(cur_decision, labels),
                               evaluate_decisions(result.decision, labels), tolerance) for n, labels in sets if labels]
    counts = {**fb.counts, "trained_items": len(train_items), "held_out": len(held), "anchors": len(anchors),
              "training_records": len(train)}

    version = cand.version
    known = registry.is_registered(store, name, version)
    if known:
        return PromotionResult(False, f"the retrained model is identical to registered version {known.id} "
                               f"({version}); nothing to promote", name, version, Path(known.path), known.id,
                               current, comparison, counts, cand)
    path = Path(out_dir) / version
    result.save(path, name=name)
    trained_until = max((fb.reviewed_at[i] for i in train_items), default=None)
    until = trained_until or since
    metrics = {"comparison": [c.as_dict() for c in comparison], "holdout_items": sorted(held),
               "trained_until": until.isoformat() if until is not None else None,
               "counts": counts, "method": method, "base": current.version}
    ok, reason = promotion_gate(comparison, current.version)
    if ok and not promote_if_better:
        ok, reason = False, "registered, not promoted (asked not to): it would pass — " + reason
    return _register_and_decide(store, name, cand, path, metrics, actor, current, comparison, counts, ok, reason)


def promotion_gate(comparison: Sequence[SetComparison], current_version: str, *,
                   success: str | None = None) -> tuple[bool, str]:
    """May the candidate replace the current model? ``(promoted, reason)`` from its comparisons.

    Refused when it is worse than the current model on any set; a full retrain (``success``
    ``None``) is also refused when there is nothing to compare the value model on (the packaged
    suite holds the decision model only). ``success`` replaces the reason given when the candidate
    passes (the incremental learner says what it learned from).
    """
    worse = [c for c in comparison if c.worse]
    if worse:
        return False, "refused: " + "; ".join(c.why for c in worse)
    if success is not None:
        return True, success
    if not [c for c in comparison if not c.name.endswith(DECISION_SET)]:
        return False, ("refused: nothing to compare the value model on (fewer than 5 freshly reviewed items, no "
                       "earlier held-out reviews and no reference suite); registered, not promoted")
    desc = ", ".join(f"{c.name} {c.current['accuracy']:.3f} → {c.candidate['accuracy']:.3f} (n={c.current['n']})"
                     for c in comparison)
    return True, f"not worse than {current_version} on any evaluation set: agreement {desc}"


def _register_and_decide(store: Store, name: str, model: ValueModel, path: Path, metrics: dict[str, Any], actor: str,
                         current: ModelVersion, comparison: list[SetComparison], counts: dict[str, int], ok: bool,
                         reason: str) -> PromotionResult:
    """Register the saved candidate, record the promotion gate's answer, and report it."""
    mid = registry.register(store, name, model, path, metrics=metrics, actor=actor)
    registry.decide(store, mid, name=name, version=model.version, current_version=current.version, promoted=ok,
                    reason=reason, actor=actor)
    return PromotionResult(ok, reason, name, model.version, path, mid, current, comparison, counts, model)


# ---------------------------------------------------------------------- incremental
class IncrementalLearner:
    """``partial_fit`` the model in use after every ``every`` new reviews, as a new registered version.

    Each update builds on the version in use, learns from the items reviewed since it was
    trained, is saved under ``models_dir/<version>`` and registered; it is promoted unless it is
    worse on the earlier held-out reviews (the same gate as a full retrain, without a fresh
    hold-out). Thread-safe: the web app calls :meth:`maybe_update` after each review.
    """

    def __init__(self, store: Store, charter: Charter, models_dir: str | Path, *, every: int = 50,
                 name: str = DEFAULT_NAME, base_model_dir: str | Path | None = None, actor: str = "incremental",
                 method: ResolveMethod = "majority", tolerance: float = 0.02) -> None:
        import threading

        if every < 1:
            raise InputError(f"incremental retraining needs every >= 1 (got {every})")
        self.store, self.charter, self.models_dir = store, charter, Path(models_dir)
        self.every, self.name, self.base, self.actor = every, name, base_model_dir, actor
        self.method, self.tolerance = method, tolerance
        self._lock = threading.Lock()
        self._attempted_at = 0

    def pending(self) -> int:
        """Reviews newer than the model in use was trained on."""
        cur = self.store.current_model(self.name)
        since = registry.trained_until(cur) if cur is not None else None
        return sum(1 for r in self.store.reviews() if since is None or r.created_at > since)

    def maybe_update(self, force: bool = False) -> PromotionResult | None:
        """Update when ``every`` reviews are pending (or ``force``); ``None`` when nothing was done."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            n = self.pending()
            if not force and (n < self.every or n < self._attempted_at + self.every):
                return None
            self._attempted_at = n
            return self._update()
        finally:
            self._lock.release()

    def _update(self) -> PromotionResult | None:
        current = ensure_current(self.store, self.name, self.base, actor=self.actor)
        since = registry.trained_until(current)
        fb: ReviewFeedback = build_feedback(self.store, method=self.method, include_feedback=False)
        anchors = registry.anchor_items(self.store, self.name)
        new_items = {i for i, t in fb.reviewed_at.items() if (since is None or t > since) and i not in anchors}
        records = fb.subset(new_items, other=False)
        if not records:
            return None
        model = copy.deepcopy(ValueModel.load(current.path))
        data = feedback_to_training(records, model, source="review")
        model.partial_fit(data.cases, data.y, **data.fit_kwargs())
        cur_model = ValueModel.load(current.path)
        comparison = []
        anchor_labels = fb.labels_of(anchors)
        if anchor_labels:
            comparison.append(_compare(SET_ANCHOR, cur_model, model, anchor_labels, self.tolerance))
        version = model.version
        if registry.is_registered(self.store, self.name, version):
            return None
        path = model.save(self.models_dir / version, name=self.name)
        trained_until = max(fb.reviewed_at[i] for i in new_items)
        counts = {"items": len(new_items), "records": len(records)}
        metrics = {"comparison": [c.as_dict() for c in comparison], "holdout_items": [], "counts": counts,
                   "trained_until": trained_until.isoformat(), "method": self.method, "base": current.version,
                   "incremental": True}
        ok, reason = promotion_gate(comparison, current.version, success=(
            f"incremental: partial_fit of {current.version} on {len(new_items)} newly reviewed items"))
        return _register_and_decide(self.store, self.name, model, path, metrics, self.actor, current, comparison,
                                    counts, ok, reason)
