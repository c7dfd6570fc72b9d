"""Agreement and disagreement: kappas against hand-computed values; every review is kept."""

from __future__ import annotations

import pytest
from tests.review.conftest import enqueue

from accord.errors import InputError
from accord.review import (
    cohen_kappa,
    fleiss_kappa,
    overall_fleiss,
    pairwise_kappas,
    resolve,
    reviewer_reliability,
)
from accord.review.feedback import build_feedback


def test_cohen_kappa_hand_computed():
    # 50 items: both yes 20, A yes/B no 5, A no/B yes 10, both no 15.
    # p_o = 35/50 = 0.70; A says yes 25/50, B says yes 30/50;
    # p_e = 0.5*0.6 + 0.5*0.4 = 0.50; kappa = (0.70 - 0.50) / (1 - 0.50) = 0.40
    a = ["y"] * 20 + ["y"] * 5 + ["n"] * 10 + ["n"] * 15
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.40)
    assert cohen_kappa(a, a) == pytest.approx(1.0)
    assert cohen_kappa(["y", "y"], ["y", "y"]) == 1.0
    with pytest.raises(InputError):
        cohen_kappa(["y"], [])


def test_cohen_kappa_small_hand_example():
    # 4 items: allow/allow, block/block, allow/block, block/block
    # p_o = 3/4; A: allow 2, block 2; B: allow 1, block 3; p_e = (2*1 + 2*3)/16 = 0.5
    # kappa = (0.75 - 0.5) / 0.5 = 0.5
    assert cohen_kappa(["allow", "block", "allow", "block"], ["allow", "block", "block", "block"]) == pytest.approx(0.5)


def test_fleiss_kappa_hand_computed():
    # Fleiss (1971) as worked on Wikipedia: 10 items, 14 raters, 5 categories -> kappa 0.210
    table = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]
    assert fleiss_kappa(table) == pytest.approx(0.20993, abs=1e-4)


def test_fleiss_kappa_two_raters_small():
    # 3 items, 2 raters each: (allow, allow), (block, block), (allow, block)
    # P_i = 1, 1, 0 -> P_bar = 2/3; p_allow = 3/6, p_block = 3/6 -> P_e = 0.5
    # kappa = (2/3 - 1/2) / (1/2) = 1/3
    rows = [{"allow": 2}, {"block": 2}, {"allow": 1, "block": 1}]
    assert fleiss_kappa(rows) == pytest.approx(1 / 3)
    with pytest.raises(InputError):
        fleiss_kappa([{"allow": 1}])


def test_two_reviewers_disagreeing_are_both_kept(store):
    item = enqueue(store, "ctx", "Here is how to paint the fence.")
    store.add_review(item, "ana", "allow", comment="fine")
    store.add_review(item, "ben", "block", principles=["harm"])
    kept = store.reviews(item)
    assert [(r.reviewer, r.decision) for r in kept] == [("ana", "allow"), ("ben", "block")]
    # a tie is not resolved into a label, but nothing is thrown away
    assert resolve(kept, "majority") == []
    fb = build_feedback(store)
    assert fb.ties == 1 and fb.counts["label"] == 0
    # a third reviewer settles it by majority; the minority review stays in the store
    store.add_review(item, "cleo", "block", principles=["harm"])
    (res,) = resolve(store.reviews(item), "majority")
    assert res.decision == "block" and res.contested and res.weight == pytest.approx(2 / 3, abs=1e-4)
    assert res.principles == ("harm",)
    assert len(store.reviews(item)) == 3


def test_kappa_from_store_reviews_matches_hand_value(store):
    # ana vs ben on 4 items: same as test_cohen_kappa_small_hand_example -> 0.5
    pairs = [("allow", "allow"), ("block", "block"), ("allow", "block"), ("block", "block")]
    for i, (a, b) in enumerate(pairs):
        item = enqueue(store, "", f"action {i}")
        store.add_review(item, "ana", a)
        store.add_review(item, "ben", b)
    (pair,) = pairwise_kappas(store.reviews())
    assert (pair.a, pair.b, pair.items) == ("ana", "ben", 4)
    assert pair.kappa == pytest.approx(0.5)
    assert pair.agreement == pytest.approx(0.75)
    # Fleiss over the same 4 items: P_i = 1,1,0,1 -> 0.75; p_allow = 3/8, p_block = 5/8
    # P_e = 9/64 + 25/64 = 34/64; kappa = (0.75 - 0.53125) / (1 - 0.53125) = 0.4667
    kappa, n = overall_fleiss(store.reviews())
    assert n == 4 and kappa == pytest.approx((0.75 - 34 / 64) / (1 - 34 / 64), abs=1e-4)


def test_amended_review_counts_once(store):
    item = enqueue(store, "", "x")
    first = store.add_review(item, "ana", "allow")
    store.add_review(item, "ana", "block", amends=first)
    store.add_review(item, "ben", "block")
    (res,) = resolve(store.reviews(), "majority")
    assert res.decision == "block" and not res.contested
    assert len(store.reviews(current=False)) == 3


def test_reliability_weighting_outvotes_a_careless_reviewer(store):
    # ana and ben agree on 6 shared items; cleo disagrees with both on all of them
    for i in range(6):
        item = enqueue(store, "", f"shared {i}")
        d = "block" if i % 2 else "allow"
        store.add_review(item, "ana", d)
        store.add_review(item, "ben", d)
        store.add_review(item, "cleo", "allow" if d == "block" else "block")
    rel = reviewer_reliability(store.reviews())
    assert rel["ana"] > 0.8 and rel["ben"] > 0.8 and rel["cleo"] < 0.3
    # on a contested item judged by ana (block) and cleo (allow), majority ties; reliability sides with ana
    item = enqueue(store, "", "contested")
    store.add_review(item, "ana", "block")
    store.add_review(item, "cleo", "allow")
    revs = store.reviews()
    assert all(r.item_id != item for r in resolve(revs, "majority"))
    res = next(r for r in resolve(revs, "reliability") if r.item_id == item)
    assert res.decision == "block" and res.contested
    with pytest.raises(InputError):
        resolve(revs, "vote")  # type: ignore[arg-type]
