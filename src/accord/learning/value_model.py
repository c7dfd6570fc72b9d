"""The learned judge: a value model that learns what people find acceptable.

Architecture (all arrays, saved as JSON + ``.npz``, never pickle):

* a text encoder (default ``wordllama``) embeds the action ``a``, the context ``c`` and the
  joint text ``c + a``; the dense features are ``[e(a), e(c) * e(a), e(c + a)]`` because embeddings
  carry topic more than valence, and the joint terms let the heads see *this* action *in this*
  context;
* **lexical features** of the action: case-folded token unigrams and hashed token bigrams
  (binary, L2-normalised), read off the encoder's own tokenisation. Mean-pooled static
  embeddings blur the few words that make a text unacceptable; the lexical block lets the heads
  weigh them directly (``lexical=0`` turns it off; encoders without token ids have none);
* an **acceptability head**: logistic regression for P(unacceptable), Platt-calibrated on a
  held-out slice;
* **principle heads**: one-vs-rest logistic regressions trained on unacceptable examples tagged
  with a principle; principle k's violation score is ``P(unacceptable) * q_k / max_j q_j``, so the
  most likely principle carries the whole risk and the others share it in proportion;
* a **reward head**: a linear Bradley-Terry model trained on preferences, labels within one
  context and demonstrations, used to rank candidate actions;
* a **precedent memory**: human-labelled cases keyed by ``e(a) + e(c)`` with both embeddings at
  unit length (``KEY_CONTEXT_WEIGHT``), so a long context cannot drown the action. Near neighbours are cited as
  precedents and blend into the score in proportion to their similarity, so one reviewer verdict
  changes how the same kind of case (and its paraphrases) is judged at once, while a different
  action under the same goal is not pulled towards that verdict.

With an additive (static) encoder the joint embedding is the normalised sum of the context's and
the action's token vectors, so a case is tokenised once per text, and occlusion (the score without
a few words) is computed by subtracting those words' token vectors instead of re-encoding.

It follows scikit-learn's estimator contract: ``fit`` / ``partial_fit`` return ``self``, learned
state ends in ``_``, ``predict_proba`` before fitting raises ``NotFittedError`` and randomness
comes from ``random_state``. ``partial_fit`` builds on the current weights (a Gaussian prior
centred on them) instead of starting over.

The code lives in layers, one module each, every layer building on the one before:

* :mod:`~accord.learning.value_features` encodes cases: dense features, the lexical block, precedent keys;
* :mod:`~accord.learning.value_memory` keeps the precedent memory and blends near precedents into a score;
* :mod:`~accord.learning.value_scoring` scores: calibrated probabilities, the judge protocol, precedents cited;
* :mod:`~accord.learning.value_evidence` explains: occlusion evidence (the words that carry a score);
* :mod:`~accord.learning.value_fitting` trains the heads (``fit``, ``partial_fit``);
* :mod:`~accord.learning.value_files` saves and loads a model directory.

This module joins them into :class:`ValueModel` and is where its public names are imported from.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from accord.learning.value_evidence import REENCODED_OCCLUSION_WORDS, OcclusionEvidence
from accord.learning.value_features import (
    KEY_CONTEXT_WEIGHT,
    STATIC_CASES_PER_BUDGET,
    CaseLike,
    as_pair,
)
from accord.learning.value_files import (
    FORMAT_VERSION,
    model_params,
    read_model,
    restore,
    write_model,
)
from accord.learning.value_fitting import Pairs, ValueFitting
from accord.learning.value_memory import MemoryItem

__all__ = ["FORMAT_VERSION", "KEY_CONTEXT_WEIGHT", "REENCODED_OCCLUSION_WORDS", "STATIC_CASES_PER_BUDGET", "CaseLike",
           "MemoryItem", "Pairs", "ValueModel", "as_pair"]


class ValueModel(ValueFitting, OcclusionEvidence):
    """A learned value judge; see the module docstring for the architecture.

    Args:
        principles: principle ids the principle heads cover (default: the charter's, set at fit).
        encoder: registered encoder name.
        lam: L2 strength (towards the prior) of the acceptability and principle heads.
        reward_lam: L2 strength of the reward head.
        memory_size: most precedents kept from large training sets (feedback is always kept).
        knn_k: neighbours consulted; knn_floor: cosine similarity below which a precedent has no pull.
        knn_max_weight: the most a precedent (at similarity 1) can weigh against the heads.
        human_floor: the similarity from which a *human* precedent (feedback, charter example) pulls,
            linearly; bulk-data precedents pull only above ``knn_floor``, quadratically. A team's own
            verdicts are its values stated outright, so paraphrases of them should follow them.
        lexical: hashed token-bigram buckets of the lexical block (0: no lexical features).
        lexical_scale: weight of the lexical block relative to the dense one.
        prior: the share of unacceptable cases the probabilities are calibrated for. Training
            balances the classes (and Platt scaling is fitted on balanced classes); the calibrated
            log-odds are then shifted by ``logit(prior)``, so 0.5 means "as likely as not" and a
            lower prior reflects traffic where most cases are fine.
        random_state: seed for the calibration split and memory subsampling.
    """

    name = "model"

    def __init__(
        self,
        principles: Sequence[str] = (),
        *,
        encoder: str = "wordllama",
        lam: float = 1.0,
        reward_lam: float = 1.0,
        memory_size: int = 4000,
        knn_k: int = 5,
        knn_floor: float = 0.8,
        knn_max_weight: float = 0.9,
        human_floor: float = 0.6,
        lexical: int = 65536,
        lexical_scale: float = 3.0,
        prior: float = 0.5,
        random_state: int = 0,
    ) -> None:
        self.principles = list(principles)
        self.encoder = encoder
        self.lam = lam
        self.reward_lam = reward_lam
        self.memory_size = memory_size
        self.knn_k = knn_k
        self.knn_floor = knn_floor
        self.knn_max_weight = knn_max_weight
        self.human_floor = human_floor
        self.lexical = lexical
        self.lexical_scale = lexical_scale
        if not 0.0 < prior < 1.0:
            raise ValueError(f"prior must be strictly between 0 and 1, got {prior}")
        self.prior = prior
        self.random_state = random_state
        self.card_: dict[str, Any] = {}
        self._reset_caches()


    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path, *, name: str | None = None) -> Path:
        """Write ``model.json`` + ``arrays.npz`` + ``precedents.jsonl`` (no pickle).

        The files are reproducible: with ``$SOURCE_DATE_EPOCH`` set, the same model gives the same
        bytes (the ``.npz`` entries carry a fixed time stamp).
        """
        return write_model(self, directory, name=name)

    @classmethod
    def load(cls, directory: str | Path) -> ValueModel:
        """Load a model directory written by :meth:`save`."""
        d = Path(directory)
        meta, arrays, lines = read_model(d)
        m = cls(meta["principles"], **model_params(meta))
        restore(d, m, meta, arrays, lines)
        return m
