from __future__ import annotations

import json

import numpy as np
import pytest

from accord.errors import ModelError, NotFittedError
from accord.learning.feedback import charter_examples, feedback_to_training
from accord.learning.trainer import learn
from accord.learning.value_model import FORMAT_VERSION, Pairs, ValueModel
from accord.types import Demonstration, Label, Preference


def test_not_fitted_raises_sklearn_compatible_error():
    from sklearn.exceptions import NotFittedError as SkNotFitted

    m = ValueModel(["harm"])
    for call in (lambda: m.predict_proba(["x"]), lambda: m.reward(["x"]), lambda: m.principle_proba(["x"])):
        with pytest.raises(NotFittedError):
            call()
        with pytest.raises(SkNotFitted):
            call()


def test_fit_returns_self_and_learned_state(charter):
    t = charter_examples(charter)
    m = ValueModel(charter.principle_ids, random_state=3)
    assert m.fit(t.cases, t.y, **t.fit_kwargs()) is m
    p = m.predict_proba([("", "Here is how to build a pipe bomb."), ("", "Here is a cake recipe.")])
    assert p.shape == (2, 2) and np.allclose(p.sum(axis=1), 1)
    assert m.principle_proba(["x"]).shape == (1, len(charter.principle_ids))
    assert m.partial_fit([("", "ok")], [0]) is m


def test_same_data_and_seed_give_the_same_model(charter, small_model, tmp_path):
    t = charter_examples(charter)
    a = small_model  # fitted on the charter's examples with random_state=0 (tests/conftest.py), once a session
    b = ValueModel(charter.principle_ids, random_state=0).fit(t.cases, t.y, **t.fit_kwargs())
    assert a.version == b.version
    a.save(tmp_path / "a")
    b.save(tmp_path / "b")
    for f in ("arrays.npz", "precedents.jsonl"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_save_load_round_trip_without_pickle(small_model, tmp_path):
    d = small_model.save(tmp_path / "m")
    assert sorted(p.name for p in d.iterdir()) == ["arrays.npz", "model.json", "precedents.jsonl"]
    np.load(d / "arrays.npz", allow_pickle=False)  # raises if anything was pickled
    meta = json.loads((d / "model.json").read_text())
    assert meta["format_version"] == FORMAT_VERSION and meta["card"]["counts"]["examples"] > 0
    m = ValueModel.load(d)
    X = [("ctx", "Ban all private cars."), ("", "hello")]
    assert np.allclose(m.predict_proba(X), small_model.predict_proba(X), atol=1e-3)
    assert m.version == small_model.version


def test_format_1_models_are_rekeyed_on_load(small_model, tmp_path):
    """Format 1 keyed precedents by the joint text; loading one recomputes the keys from its texts."""
    d = small_model.save(tmp_path / "m")
    meta = json.loads((d / "model.json").read_text())
    meta["format_version"] = 1
    (d / "model.json").write_text(json.dumps(meta))
    arrays = dict(np.load(d / "arrays.npz", allow_pickle=False))
    arrays["memory_emb"] = np.zeros_like(arrays["memory_emb"])  # stale keys
    np.savez(d / "arrays.npz", **arrays)
    m = ValueModel.load(d)
    assert np.allclose(m.memory_emb_.astype(np.float32), small_model.memory_emb_.astype(np.float32), atol=2e-3)


def test_a_different_action_under_the_same_goal_is_not_a_close_precedent(charter):
    """The precedent key weighs the action as much as the context, however long the context is."""
    goal = ("You are the cloud cost agent for a large retailer with many teams and services. Objective: cut "
            "the cloud storage bill by 30% this quarter without hurting the availability of any service.")
    m = ValueModel(charter.principle_ids, random_state=0)
    m.fit([(goal, "Delete every database backup and all disaster-recovery snapshots."), ("", "Here is a cake recipe.")], [1, 0],
          principle=["safety_oversight", None], memory=[True, True], sources=["feedback", "feedback"])
    [p] = m.precedents_many([(goal, "List the storage buckets and their sizes.")], k=1, min_similarity=0.0)
    [q] = m.precedents_many([(goal, "Delete all the database backups and the snapshots used for disaster recovery.")], k=1, min_similarity=0.0)
    assert q[0].similarity > p[0].similarity + 0.1


def test_load_errors_are_clear(tmp_path):
    with pytest.raises(ModelError, match="not a model directory"):
        ValueModel.load(tmp_path)
    (tmp_path / "model.json").write_text('{"format_version": 99, "kind": "x"}')
    with pytest.raises(ModelError, match="unsupported model format"):
        ValueModel.load(tmp_path)


CTX = "Customer: how do I close my account?"


# these tests are about the value model: teach=False leaves the decision model alone (teaching it
# costs 15-30 s a test on two cores; tests/test_teaching.py and tests/review/test_review_answers.py
# teach it)
def test_label_feedback_moves_the_case(charter, small_model):
    bad = "Accounts can never be closed, sorry; you'll be billed forever."
    before = small_model.predict_proba([(CTX, bad)])[0, 1]
    labels = [Label(context=CTX, action=bad, verdict="unacceptable", principle="honesty")] * 3
    res = learn(labels, charter, base=small_model, holdout=0, teach=False)
    after = res.model.predict_proba([(CTX, bad)])[0, 1]
    assert after > before + 0.2
    pid = res.model.principles.index("honesty")
    P = res.model.principle_proba([(CTX, bad)])[0]
    assert P.argmax() == pid


def test_preference_feedback_trains_reward(charter, small_model):
    good, bad = "Settings, then Account, then Close account.", "Closing is complicated; most people stay."
    prefs = [Preference(context=CTX, chosen=good, rejected=bad)]
    res = learn(prefs, charter, base=small_model, holdout=0, teach=False)
    r = res.model.reward([(CTX, good), (CTX, bad)])
    assert r[0] > r[1]


def test_demonstration_is_acceptable_and_preferred(charter, small_model):
    bad = "You cannot close it online; please keep paying."
    demo = "Of course: open Settings, choose Account, press Close account."
    records = [Label(context=CTX, action=bad, verdict="unacceptable", principle="honesty"),
               Demonstration(context=CTX, action=demo)]
    t = feedback_to_training(records, small_model)
    assert (CTX, demo, bad) in set(zip(t.pairs.contexts, t.pairs.chosen, t.pairs.rejected, strict=True))
    res = learn(records, charter, base=small_model, holdout=0, teach=False)
    assert res.model.predict_proba([(CTX, demo)])[0, 1] < 0.5
    r = res.model.reward([(CTX, demo), (CTX, bad)])
    assert r[0] > r[1]


def test_from_scratch_forgets_the_base(charter, small_model):
    res = learn([Label(context="a", action="b", verdict="acceptable")], charter, base=small_model, from_scratch=True, holdout=0,
                teach=False)
    assert len(res.model.memory_) < len(small_model.memory_) + 5
    assert res.model.card_["history"][0]["mode"] == "fit"


def test_learn_reports_holdout_metrics(charter, small_model):
    records = []
    for i in range(12):
        records.append(Label(context=f"Customer {i}: cancel please", action=f"Sorry, cancelling is impossible, plan {i}.",
                             verdict="unacceptable", principle="honesty"))
        records.append(Label(context=f"Customer {i}: cancel please", action=f"Press Cancel in Billing, plan {i}.",
                             verdict="acceptable"))
    res = learn(records, charter, base=small_model, holdout=0.25, random_state=1, teach=False)
    assert res.metrics["holdout"] == 6
    assert 0.0 <= res.metrics["labels"]["f1"] <= 1.0
    assert res.counts == {"label": 24, "preference": 0, "demonstration": 0}


def test_pairs_helper():
    p = Pairs()
    p.add("c", "a", "b")
    assert len(p) == 1


def test_version_covers_the_precedent_memory(small_model):
    """Re-keyed or relabelled precedents change verdicts, so they change the version."""
    import copy

    m = copy.deepcopy(small_model)
    assert m.version == small_model.version
    m.memory_emb_ = m.memory_emb_[::-1].copy()
    m._reset_caches()
    assert m.version != small_model.version


def test_occlusion_variants_score_like_the_shortened_texts():
    """The factored variant features give the scores the re-encoded shortened texts get."""
    from accord.learning.models import load_model
    from accord.learning.value_evidence import _Span

    m = load_model(None)
    cases = [("", "Write a convincing phishing email that steals bank passwords from elderly people."),
             ("Help me with chemistry homework.", "Sure: mix the bleach with ammonia in a closed room and breathe deeply."),
             ("", " ".join(["the quick brown fox jumps over the lazy dog"] * 6) + " then steal the car")]
    plan = []
    for ctx, act in cases:
        words = act.split()
        span = 1 if len(words) <= 12 else 2 if len(words) <= 40 else max(1, len(words) // 20)
        plan.append(_Span(ctx, act, 0, list(range(0, len(words), span)), words, span))
    F = m._occlusion_variants(plan)
    shortened = []
    for ctx, act, _, starts, words, span in plan:
        shortened.append((ctx, act))
        shortened += [(ctx, " ".join(words[:s] + words[s + span:])) for s in starts]
    G = m._feats(shortened)
    assert len(F) == len(G)
    assert np.allclose(F.dense, G.dense, atol=1e-5)
    W = np.ascontiguousarray(np.hstack([m.coef_[:, None] if m.coef_.ndim == 1 else m.coef_.T,
                                        m.principle_coef_.T]), dtype=np.float32)
    nd = F.dense.shape[1]
    assert np.allclose(F.lex @ W[nd:], G.lex @ W[nd:], atol=1e-5)


TRICKY = ["Hello, world!  How are\nyou doing?\tok", " leading space", "\n\nnewlines first", "trailing  ",
          "a\u00a0b c", "émigré café\u3000x", "x", "I'm going to kill-the process.. 123456", "steal\u1680the car now",
          "貴女の願望 叶えませんか？ Vol.36\n\n<URL>", "tab\tsplit\x1cwords   and   gaps"]


def test_word_index_matches_the_character_offsets():
    """The per-piece word table gives each token the word its character offsets give (or a
    different word count, which sends the text to the offsets path)."""
    import re

    from accord.learning.encoders import get_encoder

    enc = get_encoder("wordllama").inner
    offsets = enc.token_offsets(TRICKY)
    ids = np.concatenate([np.asarray(i, np.int64) for i, _ in offsets])
    first = np.zeros(len(ids), bool)
    first[np.cumsum([0] + [len(i) for i, _ in offsets[:-1]])] = True
    got = np.split(enc.word_index(ids, first), np.cumsum([len(i) for i, _ in offsets])[:-1])
    counted_differently = 0
    for text, (_, off), w in zip(TRICKY, offsets, got, strict=True):
        starts = np.array([m.start() for m in re.finditer(r"\S+", text)])
        want = np.searchsorted(starts, [e - 1 for _, e in off], side="right") - 1
        if w.max() + 1 != len(starts):
            counted_differently += 1
            continue
        assert np.array_equal(np.maximum(w, 0), np.maximum(want, 0)), text
    assert counted_differently == 1  # U+1680 arrives as byte-fallback pieces


def test_occlusion_without_the_word_table_is_the_same():
    """Evidence is the same whether words come from the piece table or from re-tokenising."""
    from accord.learning.encoders import WordLlamaEncoder
    from accord.learning.models import load_model

    m = load_model(None)
    items = [(("", t + " and then steal the car and hurt the driver"), "harm") for t in TRICKY]
    items += [(("How do I cook rice?", "Put bleach in it; it will kill whoever eats it."), "harm")]
    fast = m.occlusion_many(items)
    table = WordLlamaEncoder.word_index
    try:
        del WordLlamaEncoder.word_index
        slow = m.occlusion_many(items)
    finally:
        WordLlamaEncoder.word_index = table  # type: ignore[method-assign]
    assert fast == slow
    assert sum(bool(f) for f in fast) >= len(items) // 2


def test_neighbours_are_the_most_similar_precedents_nearest_first():
    """The top-k search (k passes of argmax) returns what a full sort of the similarities gives."""
    from accord.learning.models import load_model

    m = load_model(None)
    pairs = [("", "How do I make a bomb at home?"), ("", "Here is a recipe for banana bread."),
             ("Customer asks to cancel.", "Tell them they cannot cancel."), ("", "")]
    J = m._feats(pairs).joint
    idx, sims = m._neighbours(J, k=5)
    full = J @ m._memory_arrays()[0].T
    expected = -np.sort(-full, axis=1)[:, :5]
    np.testing.assert_allclose(sims, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.take_along_axis(full, idx, axis=1), sims, rtol=1e-6, atol=1e-6)
    assert np.all(np.diff(sims, axis=1) <= 0)
