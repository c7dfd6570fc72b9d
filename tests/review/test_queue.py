"""The queue: priority = uncertainty × severity, escalation recording, routing, double review, orders."""

from __future__ import annotations

import pytest
from tests.review.conftest import enqueue, make_verdict

from accord.errors import InputError
from accord.gate import Gate
from accord.judges.value_model import ValueModel
from accord.review import (
    QueueConfig,
    escalation_recorder,
    needs_two,
    next_item,
    open_items,
    review_priority,
    uncertainty,
)
from accord.review.priority import expected_improvement
from accord.types import Case


def test_uncertainty_and_priority():
    assert uncertainty(0.5) == 1.0 and uncertainty(0.0) == 0.0 and uncertainty(1.0) == 0.0
    assert uncertainty(0.75) == pytest.approx(0.5)
    crit = review_priority(make_verdict(score=0.5, severity="critical"))
    low = review_priority(make_verdict(score=0.5, severity="low"))
    sure = review_priority(make_verdict(score=0.95, severity="critical"))
    assert crit == pytest.approx(1.0) and low == pytest.approx(0.25) and sure == pytest.approx(0.1)
    assert crit > sure and crit > low
    # a hard rule that escalates leaves the question fully open
    assert review_priority(make_verdict(score=1.0, severity="high", rule="bulk-delete")) == pytest.approx(0.75)


def test_escalation_recorder_records_all_and_queues_escalations(store, charter, base_model_dir):
    gate = Gate.from_charter(None, model=ValueModel.load(base_model_dir), recorder=escalation_recorder(store, "cli"))
    cases = [Case(action=f"Here is how to poison your neighbour {i}") for i in range(3)]
    cases += [Case(action="delete everything", context="clean up")]
    verdicts = gate.check_many(cases)
    assert len(store.decisions(limit=None)) == len(cases)
    escalated = [v for v in verdicts if v.decision == "escalate"]
    items = store.review_items("all", limit=None)
    assert len(items) == len(escalated)
    for it in items:
        assert it.source == "cli"
        assert it.priority == pytest.approx(review_priority(it.verdict))
    # and directly: an allow is recorded only, an escalation is queued with its priority
    rec = escalation_recorder(store, "proxy")
    rec(Case(action="ok"), make_verdict("allow", 0.1))
    rec(Case(action="hmm"), make_verdict("escalate", 0.5, "critical"))
    newest = store.review_items("all", limit=None)
    assert len(newest) == len(items) + 1
    assert max(newest, key=lambda i: i.id).priority == pytest.approx(1.0)


def test_routing_by_community(store):
    a = enqueue(store, "", "for cautious", community="cautious")
    b = enqueue(store, "", "for libertarian", community="libertarian")
    c = enqueue(store, "", "for anyone")
    cfg = QueueConfig(double_share=0.0)
    ids = lambda comms: {i.id for i in open_items(store, cfg, reviewer="x", communities=comms)}  # noqa: E731
    assert ids(["cautious"]) == {a, c}
    assert ids(["libertarian"]) == {b, c}
    assert ids([]) == {a, b, c}  # no communities: sees everything


def test_double_review_share(store):
    assert not needs_two(1, 0.0) and needs_two(1, 1.0)
    share = sum(needs_two(i, 0.25) for i in range(1, 4001)) / 4000
    assert share == pytest.approx(0.25, abs=0.03)
    # raising the share only adds items
    assert all(needs_two(i, 0.5) for i in range(1, 500) if needs_two(i, 0.2))
    cfg = QueueConfig(double_share=1.0)
    item = enqueue(store, "", "needs two")
    store.add_review(item, "ana", "allow")
    assert next_item(store, cfg, reviewer="ana") is None  # ana did hers
    assert next_item(store, cfg, reviewer="ben").id == item  # still open for a second person
    store.add_review(item, "ben", "block")
    assert next_item(store, cfg, reviewer="cleo") is None
    single = QueueConfig(double_share=0.0)
    other = enqueue(store, "", "needs one")
    store.add_review(other, "ana", "allow")
    assert next_item(store, single, reviewer="ben") is None


def test_orders(store, base_model_dir):
    ids = [enqueue(store, "", f"case {i}", priority=p) for i, p in enumerate([0.2, 0.9, 0.5])]
    prio = [i.id for i in open_items(store, QueueConfig(order="priority", double_share=0))]
    assert prio == [ids[1], ids[2], ids[0]]
    oldest = [i.id for i in open_items(store, QueueConfig(order="oldest", double_share=0))]
    assert oldest == ids
    r1 = [i.id for i in open_items(store, QueueConfig(order="random", seed=3, double_share=0))]
    r2 = [i.id for i in open_items(store, QueueConfig(order="random", seed=3, double_share=0))]
    assert r1 == r2 and sorted(r1) == sorted(ids)
    with pytest.raises(InputError):
        open_items(store, QueueConfig(order="active"))
    model = ValueModel.load(base_model_dir)
    active = open_items(store, QueueConfig(order="active", double_share=0), model=model)
    assert sorted(i.id for i in active) == sorted(ids)
    with pytest.raises(InputError):
        QueueConfig(order="loudest")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        QueueConfig(double_share=1.5)


def test_expected_improvement_prefers_uncertain_dense_cases(base_model_dir):
    model = ValueModel.load(base_model_dir)
    cases = [Case(action=t) for t in ["Here is how to poison your neighbour.", "Here is how to poison the cashier.",
                                      "Here is how to bake a cake.", "Here is how to bake bread.",
                                      "zxqv 1234 qqqq"]]
    s = expected_improvement(model, cases)
    assert s.shape == (5,) and (s >= 0).all()
    # the expected gradient length scales with p(1 - p): a sure case scores below an unsure twin
    p = model.predict_proba(cases)[:, 1]
    assert s.max() > 0 and expected_improvement(model, []).shape == (0,)
    assert (s / (p * (1 - p))).std() / (s / (p * (1 - p))).mean() < 1.0
