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
* **reference suites**: labelled cases the team trusts (``suites``).

The candidate is promoted only if, on every set, it makes no more mistakes than the current
model beyond ``tolerance`` (a share of the set). Either way it is saved and registered, and the
decision is recorded: a promotion as a model event, a refusal as an audit event, both with who,
when and why.
"""

from __future__ import annotations

import copy
import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from accord.charter.model import Charter
from accord.errors import InputError
from accord.judges.value_model import ValueModel
from accord.learning.feedback import feedback_to_training, read_labels
from accord.learning.metrics import binary_metrics
from accord.learning.models import packaged_model_dir
from accord.learning.trainer import learn
from accord.review.agreement import ResolveMethod
from accord.review.feedback import ReviewFeedback, build_feedback
from accord.store import ModelVersion, Store
from accord.types import Label

#: the model name reviews train by default (``accord models`` lists every name)
DEFAULT_NAME = "default"
SET_HELDOUT = "held-out reviews"
SET_ANCHOR = "earlier held-out reviews"


# ---------------------------------------------------------------------- the registry
def ensure_current(store: Store, name: str = DEFAULT_NAME, base_model_dir: str | Path | None = None, *,
                   actor: str = "accord") -> ModelVersion:
    """The version of ``name`` in use; the first time, ``base_model_dir`` is registered and promoted as the baseline.

    ``base_model_dir`` defaults to the packaged model of that name (``strong``: the stronger tier;
    any other name: the default model). Registering the baseline makes the first retrain
    reversible: rolling it back returns to the baseline.
    """
    cur = store.current_model(name)
    if cur is not None:
        return cur
    path = Path(base_model_dir) if base_model_dir else packaged_model_dir(name)
    model = ValueModel.load(path)
    known = [m for m in store.model_versions(name) if m.version == model.version]
    mid = known[0].id if known else store.add_model_version(
        name, model.version, str(path.resolve()), card=_small_card(model), metrics={"baseline": True}, actor=actor)
    store.model_event(mid, "promote", actor, f"baseline: the model in use before the first retrain ({path})")
    cur = store.current_model(name)
    assert cur is not None
    return cur


def current_model_path(store: Store, name: str = DEFAULT_NAME) -> Path | None:
    """The directory of the version of ``name`` in use, or ``None`` when none is registered."""
    cur = store.current_model(name)
    return Path(cur.path) if cur is not None else None


def find_version(store: Store, ref: str, name: str | None = None) -> ModelVersion:
    """A registered version by id (``12``) or version string (``model-ab12…``, a unique prefix works)."""
    versions = store.model_versions(name)
    if ref.isdigit():
        hit = [m for m in versions if m.id == int(ref)]
    else:
        hit = [m for m in versions if m.version == ref] or [m for m in versions if m.version.startswith(ref)]
    if not hit:
        raise InputError(f"no model version {ref!r}" + (f" of {name!r}" if name else ""),
                         hint="list them with: accord models list")
    if len(hit) > 1:
        raise InputError(f"{ref!r} matches {len(hit)} versions; give the id", hint="accord models list")
    return hit[0]


def promote(store: Store, ref: str, *, actor: str, reason: str, name: str | None = None) -> ModelVersion:
    """Put a registered version in use (a ``promote`` model event with who and why)."""
    m = find_version(store, ref, name)
    if not Path(m.path, "model.json").exists():
        raise InputError(f"model version {m.id} ({m.version}) has no files at {m.path}",
                         hint="a model directory that was moved or deleted cannot be promoted")
    if m.current:
        raise InputError(f"model version {m.id} ({m.version}) is already in use")
    store.model_event(m.id, "promote", actor, reason)
    return find_version(store, str(m.id))


def rollback(store: Store, *, actor: str, reason: str, name: str = DEFAULT_NAME) -> tuple[ModelVersion, ModelVersion]:
    """Withdraw the version of ``name`` in use; the one promoted before it is in use again.

    Returns ``(withdrawn, restored)``. The baseline (nothing before it) cannot be rolled back.
    """
    cur = store.current_model(name)
    if cur is None:
        raise InputError(f"no version of {name!r} is in use", hint="accord models list")
    promoted_before = [m for m in store.model_versions(name) if m.status == "superseded"]
    if not promoted_before:
        raise InputError(f"{cur.version} is the only version of {name!r} ever promoted; there is nothing to roll back to")
    store.model_event(cur.id, "rollback", actor, reason)
    restored = store.current_model(name)
    assert restored is not None
    return find_version(store, str(cur.id)), restored


# ---------------------------------------------------------------------- evaluation
def evaluate_labels(model: ValueModel, labels: Sequence[Label]) -> dict[str, Any]:
    """Agreement of a model with labels: n, errors, accuracy, F1, AUPRC, Brier score."""
    if not labels:
        return {"n": 0}
    p = model.predict_proba([(r.context, r.action) for r in labels])[:, 1]
    y = np.array([int(r.verdict == "unacceptable") for r in labels])
    m = binary_metrics(y, p)
    errors = int(((p >= 0.5).astype(int) != y).sum())
    return {"n": len(labels), "errors": errors, "accuracy": m.accuracy, "f1": m.f1, "auprc": m.auprc,
            "brier": round(float(np.mean((p - y) ** 2)), 4)}


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

    def table(self) -> Table:
        """The promotion gate's comparison as a rich table."""
        prev = self.previous.version if self.previous else "current"
        t = Table(title=f"promotion gate: {prev} (current) vs {self.version} (candidate)", header_style="bold",
                  title_justify="left")
        for col in ("evaluation set", "n", "metric", "current", "candidate", ""):
            t.add_column(col, justify="right" if col in ("n", "current", "candidate") else "left")
        for c in self.comparison:
            first = True
            for metric in ("accuracy", "errors", "f1", "auprc", "brier"):
                if metric not in c.current:
                    continue
                a, b = c.current.get(metric), c.candidate.get(metric)
                mark = ("[red]worse[/]" if c.worse else "[green]ok[/]") if first else ""
                t.add_row(c.name if first else "", str(c.current.get("n", 0)) if first else "", metric,
                          "—" if a is None else str(a), "—" if b is None else str(b), mark)
                first = False
        return t

    def print(self, console: Console) -> None:
        """Print the comparison and the decision."""
        if self.comparison:
            console.print(self.table())
        verdict = "[bold green]promoted[/]" if self.promoted else "[bold red]not promoted[/]"
        console.print(verdict, ": ", sep="", end="")
        console.print(self.reason, markup=False, highlight=False)


def _compare(name: str, cur: ValueModel, cand: ValueModel, labels: Sequence[Label], tolerance: float) -> SetComparison:
    a, b = evaluate_labels(cur, labels), evaluate_labels(cand, labels)
    allowed = int(np.floor(tolerance * a["n"] + 1e-9))
    worse = b["errors"] > a["errors"] + allowed
    why = (f"worse on {name}: agreement {a['accuracy']:.3f} → {b['accuracy']:.3f} "
           f"({b['errors']} errors vs {a['errors']} of {a['n']})") if worse else ""
    return SetComparison(name, a, b, worse, why)


def _small_card(model: ValueModel) -> dict[str, Any]:
    card = dict(model.card_)
    card.pop("history", None)
    return card


def _anchor_items(store: Store, name: str) -> set[int]:
    """Items held out by the versions promoted and still standing (in use or superseded, not rolled back)."""
    out: set[int] = set()
    for m in store.model_versions(name):
        if m.status in ("current", "superseded"):
            out |= {int(i) for i in (m.metrics or {}).get("holdout_items", [])}
    return out


def _trained_until(m: ModelVersion) -> _dt.datetime | None:
    s = (m.metrics or {}).get("trained_until")
    return _dt.datetime.fromisoformat(s) if s else None


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


def retrain_from_store(
    store: Store,
    charter: Charter,
    *,
    base_model_dir: str | Path | None = None,
    out_dir: str | Path,
    suites: Sequence[str | Path | Sequence[Label]] = (),
    actor: str = "accord",
    name: str = DEFAULT_NAME,
    method: ResolveMethod = "majority",
    holdout: float = 0.2,
    tolerance: float = 0.02,
    from_scratch: bool = False,
    random_state: int = 0,
    promote_if_better: bool = True,
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

    Returns:
        A :class:`PromotionResult`; ``print(console)`` shows the promotion gate's comparison.
    """
    if not 0 <= holdout < 1:
        raise InputError(f"holdout must be in [0, 1) (got {holdout})")
    if tolerance < 0:
        raise InputError(f"tolerance must not be negative (got {tolerance})")
    current = ensure_current(store, name, base_model_dir, actor=actor)
    cur_model = ValueModel.load(current.path)
    fb = build_feedback(store, method=method)
    if not fb.records:
        raise InputError("the store holds no reviews or feedback to learn from",
                         hint="review escalated cases with `accord review` or `accord ui` first")
    labelled = {i for i, r in zip(fb.items, fb.records, strict=True) if i is not None and isinstance(r, Label)}
    anchors = _anchor_items(store, name) & labelled
    since = _trained_until(current)
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
                   decision_base=None if from_scratch else load_decision_model(current.path))
    cand = result.model
    sets = [(SET_HELDOUT, fb.labels_of(held)), (SET_ANCHOR, fb.labels_of(anchors))]
    sets += [_load_suite(s) for s in suites]
    comparison = [_compare(n, cur_model, cand, labels, tolerance) for n, labels in sets if labels]
    counts = {**fb.counts, "trained_items": len(train_items), "held_out": len(held), "anchors": len(anchors),
              "training_records": len(train)}

    version = cand.version
    known = [m for m in store.model_versions(name) if m.version == version]
    if known:
        return PromotionResult(False, f"the retrained model is identical to registered version {known[0].id} "
                               f"({version}); nothing to promote", name, version, Path(known[0].path), known[0].id,
                               current, comparison, counts, cand)
    path = Path(out_dir) / version
    result.save(path, name=name)
    trained_until = max((fb.reviewed_at[i] for i in train_items), default=None)
    until = trained_until or since
    metrics = {"comparison": [c.as_dict() for c in comparison], "holdout_items": sorted(held),
               "trained_until": until.isoformat() if until is not None else None,
               "counts": counts, "method": method, "base": current.version}
    mid = store.add_model_version(name, version, str(path.resolve()), card=_small_card(cand), metrics=metrics,
                                  actor=actor)
    worse = [c for c in comparison if c.worse]
    if not comparison:
        ok, reason = False, ("refused: nothing to compare on (fewer than 5 freshly reviewed items, no earlier "
                             "held-out reviews and no reference suite); registered, not promoted")
    elif worse:
        ok, reason = False, "refused: " + "; ".join(c.why for c in worse)
    else:
        desc = ", ".join(f"{c.name} {c.current['accuracy']:.3f} → {c.candidate['accuracy']:.3f} (n={c.current['n']})"
                         for c in comparison)
        ok, reason = True, f"not worse than {current.version} on any evaluation set: agreement {desc}"
    if ok and not promote_if_better:
        ok, reason = False, "registered, not promoted (asked not to): it would pass — " + reason
    if ok:
        store.model_event(mid, "promote", actor, reason)
    else:
        store.audit("model.refused", actor, {"name": name, "version": version, "model_id": mid, "reason": reason,
                                             "current": current.version})
    return PromotionResult(ok, reason, name, version, path, mid, current, comparison, counts, cand)


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
        since = _trained_until(cur) if cur is not None else None
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
        since = _trained_until(current)
        fb: ReviewFeedback = build_feedback(self.store, method=self.method, include_feedback=False)
        anchors = _anchor_items(self.store, self.name)
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
        if any(m.version == version for m in self.store.model_versions(self.name)):
            return None
        path = model.save(self.models_dir / version, name=self.name)
        trained_until = max(fb.reviewed_at[i] for i in new_items)
        counts = {"items": len(new_items), "records": len(records)}
        mid = self.store.add_model_version(self.name, version, str(path.resolve()), card=_small_card(model), metrics={
            "comparison": [c.as_dict() for c in comparison], "holdout_items": [], "counts": counts,
            "trained_until": trained_until.isoformat(), "method": self.method, "base": current.version,
            "incremental": True}, actor=self.actor)
        worse = [c for c in comparison if c.worse]
        if worse:
            reason = "refused: " + "; ".join(c.why for c in worse)
            self.store.audit("model.refused", self.actor, {"name": self.name, "version": version, "model_id": mid,
                                                           "reason": reason, "current": current.version})
            return PromotionResult(False, reason, self.name, version, path, mid, current, comparison, counts, model)
        reason = f"incremental: partial_fit of {current.version} on {len(new_items)} newly reviewed items"
        self.store.model_event(mid, "promote", self.actor, reason)
        return PromotionResult(True, reason, self.name, version, path, mid, current, comparison, counts, model)
