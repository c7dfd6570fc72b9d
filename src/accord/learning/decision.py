"""The decision model: learns allow / block / escalate directly, from cases people labelled.

The value model (:mod:`accord.judges.value_model`) scores how likely an action violates each
principle and leaves the decision to thresholds. That cannot express the failures accord exists
for: an action can be *probably right* and still need a person (a claim denied, a dose changed, an
employee dismissed by an agent), a question can be one on which communities disagree, and an
objective can be met in a way that defeats it. "A human must decide" is a target of its own here,
learned from cases labelled allow / block / escalate (``corpus/``, see its data card).

The features (:mod:`accord.learning.decision_features`): embeddings of the context, the action
and the two together, hashed words of each, the structure of a tool call and the packaged value
model's scores.

A multinomial logistic regression over the three decisions sits on top, and a second one over the
charter's principles (trained on the cases that must not simply be allowed) says which principle
is at stake, for the verdict's attribution and explanation. Both follow scikit-learn's estimator
contract; the fitted arrays are saved as JSON + ``.npz`` (never pickle) and the run time is numpy
and scipy only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from accord.errors import ModelError, NotFittedError
from accord.fairness.neutral import VIEW_VERSION
from accord.learning.context import scaffold
from accord.learning.cross_encoder import FILE as CROSS_FILE
from accord.learning.cross_encoder import ONNX_FILE as CROSS_ONNX
from accord.learning.cross_encoder import POOLED_DIM, CrossEncoder
from accord.learning.cross_encoder import find as find_cross_encoder
from accord.learning.decision_features import HASH_BITS, STOPWORDS, TOKEN, Featurizer
from accord.normalize import normalize
from accord.types import Case

DECISIONS: tuple[str, ...] = ("allow", "block", "escalate")
KINDS: dict[str, str] = {
    "harmful": "block", "spec_gaming": "block", "side_effect": "block", "high_stakes": "escalate",
    "contested": "escalate", "benign": "allow", "benign_edgy": "allow",
}
FORMAT = "accord-decision-model/1"
#: how many corpus cases one taught case counts for in the neighbour vote
TAUGHT_VOTE = 5.0
#: the L2 penalty on teaching's correction of the cross-encoder's head: set equal to the linear
#: head's, not tuned (``bench/teaching.py --pooled-l2`` compares values)
POOLED_L2 = 10.0
#: teaching holds this many remembered acceptable cases nearest each taught stop at their own
#: probabilities, each weighing as much as a taught case (chosen on bench/teaching.py's tuning concepts)
HOLD = 100
#: how far the neighbour vote lowers the cosine between a lone message and an action in context
#: (:meth:`DecisionModel.knn_proba`): more than any cosine's range, so the forms do not mix
FORM_GAP = 2.0


def is_lone(context: str | None) -> bool:
    """A message judged alone: no context around it (a user's first prompt). The neighbour vote reads
    it among its own form (:meth:`DecisionModel.knn_proba`) and the escalate floor leaves it to the
    threshold (:meth:`DecisionModel.decide`)."""
    return not (context or "").strip()


#: the threads the cross-encoder runs on beside the featurizer (one per core: the gate's own workers
#: may each be judging a batch); an executor starts its threads on first use, not at import
_CROSS_POOL = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="accord-cross")


def _floor(value: Any, d: Path) -> float | None:
    """``model.json``'s ``escalate_floor``: None, or a probability in (0, 1]."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value <= 1.0:
        raise ModelError(f"{d / 'model.json'}: escalate_floor {value!r} is not a probability in (0, 1] or null",
                         hint="fix the file, or retrain the model with scripts/train_decision_model.py")
    return float(value)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class DecisionModel:
    """Allow / block / escalate, learned from labelled cases.

    Args:
        encoder: the text encoder of the dense features (``wordllama``: fast, packaged).
        C: inverse regularisation of the decision head.
        stack: use the packaged value model's scores as features (see :class:`Featurizer`).
        stop_threshold: a case is allowed when P(block) + P(escalate) is below this; above it, the
            likelier of the two wins. Chosen on held-out folds by the training script.
        escalate_floor: a case in a context whose P(escalate) reaches this goes to a person even
            when its stop (P(block) + P(escalate)) is under the stop threshold: a model that gives
            "a human must decide" a one-in-three chance should not let the case through on its own
            (None: off; see :meth:`decide`). Chosen on the judgment dev set (docs/decision-model.md).
        knn_weight: the share of the decision probabilities that comes from the remembered cases most
            similar to the case (:meth:`knn_proba`) rather than from the linear head. The linear head
            generalises over words and structure; the neighbours carry what people decided about the
            nearest cases (a taught verdict among them at once). Chosen on held-out authors by the
            training script (0: the linear head alone).
        random_state: seed of the solver.
    """

    def __init__(self, encoder: str = "wordllama", *, C: float = 4.0, stop_threshold: float = 0.5,
                 escalate_share: float = 0.5, escalate_floor: float | None = None, hash_bits: int = HASH_BITS, stack: bool = True, knn_weight: float = 0.0, knn_k: int = 25,
                 knn_temperature: float = 0.05, semantic: str | None = None, neutral: bool = False,
                 random_state: int = 0) -> None:
        self.encoder = encoder
        self.neutral = neutral
        self.semantic = semantic
        self.stack = stack
        self.C = C
        self.stop_threshold = stop_threshold
        #: a stopped case goes to a person (escalate) rather than being blocked when P(escalate) is
        #: more than this share of P(block) + P(escalate); 0.5 is the likelier of the two
        self.escalate_share = escalate_share
        self.escalate_floor = escalate_floor
        self.knn_weight = knn_weight
        self.knn_k = knn_k
        self.knn_temperature = knn_temperature
        self.hash_bits = hash_bits
        self.random_state = random_state
        self.card_: dict[str, Any] = {}
        #: the fine-tuned cross-encoder whose logits join the linear head's (None: the head alone)
        self.cross_: CrossEncoder | None = None
        #: its decision logits for the remembered cases (what teaching starts from)
        self.memory_cross_: np.ndarray | None = None
        #: the mean-pooled vectors its head reads, for the remembered cases (what teaching corrects
        #: the cross-encoder's head on; None for an export without them)
        self.memory_pooled_: np.ndarray | None = None
        #: a team's correction of the cross-encoder's decision head, ``(3, 384)``, fitted by :meth:`teach`
        self.pooled_coef_: np.ndarray | None = None

    def attach_cross_encoder(self, cross: CrossEncoder | None, *, progress: Any = None) -> DecisionModel:
        """Use ``cross`` beside the linear head, and score the remembered cases with it once (teaching
        fits its correction on top of both). ``progress(done, total)`` is called between batches."""
        self.cross_ = cross
        self.memory_cross_ = self.memory_pooled_ = self.pooled_coef_ = None
        self.__dict__.pop("_version", None)
        if cross is not None and getattr(self, "memory_", None):
            mem = [Case(context=m["context"], action=m["action"]) for m in self.memory_]
            out, pooled = [], []
            for i in range(0, len(mem), 256):
                z, _, h = cross.run(mem[i:i + 256])
                out.append(z)
                if h is not None:
                    pooled.append(h)
                if progress:
                    progress(min(i + 256, len(mem)), len(mem))
            self.memory_cross_ = np.vstack(out).astype(np.float16)
            if cross.has_pooled:
                self.memory_pooled_ = np.vstack(pooled).astype(np.float16)
        return self

    # ------------------------------------------------------------------ fitting
    @property
    def featurizer(self) -> Featurizer:
        return Featurizer(self.encoder, self.hash_bits, self.stack, self.semantic, self.neutral)

    def fit(self, cases: Sequence[Case], decisions: Sequence[str], principles: Sequence[str | None],
            sample_weight: Sequence[float] | None = None, *, memory: Sequence[bool] | None = None) -> DecisionModel:
        """Fit both heads. ``principles`` may be None for allowed cases; ``memory`` marks the cases
        kept as precedents (default: all)."""
        from sklearn.linear_model import LogisticRegression

        if not len(cases):
            raise ValueError("no cases to fit")
        bad = sorted({d for d in decisions if d not in DECISIONS})
        if bad:
            raise ValueError(f"unknown decision(s) {bad}; expected one of {DECISIONS}")
        X, J = self.featurizer.transform(cases)
        y = np.array([DECISIONS.index(d) for d in decisions])
        sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        head = LogisticRegression(C=self.C, max_iter=3000, random_state=self.random_state)
        head.fit(X, y, sample_weight=sw)
        self.classes_ = tuple(DECISIONS[i] for i in head.classes_)
        if self.classes_ != DECISIONS:
            raise ValueError(f"every decision needs examples; got only {self.classes_}")
        # kept at float16 precision (what is saved), so a loaded model is the fitted one, bit for bit
        self.coef_ = head.coef_.astype(np.float16).astype(np.float32)
        self.intercept_ = head.intercept_.astype(np.float32)
        stop = np.array([d != "allow" and p is not None for d, p in zip(decisions, principles, strict=True)])
        tags = [p for p, s in zip(principles, stop, strict=True) if s]
        if len(set(tags)) >= 2:
            d_dense = X[:, : self.featurizer.dense_dim][stop]
            ph = LogisticRegression(C=1.0, max_iter=2000, random_state=self.random_state)
            ph.fit(d_dense, tags, sample_weight=sw[stop])
            self.principles_ = [str(p) for p in ph.classes_]
            self.principle_coef_ = ph.coef_.astype(np.float32) if len(self.principles_) > 2 else \
                np.vstack([-ph.coef_, ph.coef_]).astype(np.float32)
            self.principle_intercept_ = ph.intercept_.astype(np.float32) if len(self.principles_) > 2 else \
                np.array([-ph.intercept_[0], ph.intercept_[0]], np.float32)
        else:
            self.principles_ = sorted({str(t) for t in tags}) or ["harm"]
            self.principle_coef_ = np.zeros((len(self.principles_), self.featurizer.dense_dim), np.float32)
            self.principle_intercept_ = np.zeros(len(self.principles_), np.float32)
        keep = np.ones(len(y), bool) if memory is None else np.asarray(memory, bool)
        self.memory_: list[dict[str, Any]] = [{"context": c.context_text, "action": c.action_text, "decision": d, "principle": p}
                        for c, d, p, k in zip(cases, decisions, principles, keep, strict=True) if k]
        self.memory_vectors_ = J[keep].astype(np.float16)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("this DecisionModel is not fitted yet; call fit() or load()")

    # ------------------------------------------------------------------ predicting
    def _raw(self, X: sparse.csr_matrix) -> np.ndarray:
        # the transposed weights, contiguous and cached: scipy would copy a transposed view (6 MB)
        # on every product, which was a tenth of a single check's time
        hit = self.__dict__.get("_coef_t")
        if hit is None or hit[0] is not self.coef_:
            hit = (self.coef_, np.ascontiguousarray(self.coef_.T))
            self.__dict__["_coef_t"] = hit
        return np.asarray(X @ hit[1]) + self.intercept_

    def predict_proba(self, cases: Sequence[Case]) -> np.ndarray:
        """``(n, 3)`` probabilities over :data:`DECISIONS` (allow, block, escalate)."""
        return self.analyse(cases)[0]

    def analyse(self, cases: Sequence[Case]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Decision probabilities, principle probabilities and joint embeddings in one pass.

        With a cross-encoder (:attr:`cross_`), its decision logits are added to the linear head's
        (a product of the two experts: each vetoes what the other is sure of) and the principle
        probabilities are the mean of the two heads'."""
        self._check_fitted()
        if not cases:
            return np.zeros((0, 3)), np.zeros((0, len(self.principles_))), np.zeros((0, 0), np.float32)
        # the cross-encoder (ONNX Runtime, which lets go of the GIL) reads the cases on another
        # thread while this one computes the features: on two cores a single agent action's
        # latency is the longer of the two, not their sum (each runs on one thread, as before, so
        # the numbers are the same bit for bit)
        cross = _CROSS_POOL.submit(self.cross_.run, cases) if self.cross_ is not None else None
        X, J = self.featurizer.transform(cases)
        z = self._raw(X)
        dense = X[:, : self.featurizer.dense_dim].toarray()
        pp = _softmax(dense @ self.principle_coef_.T + self.principle_intercept_)
        if cross is not None:
            zc, pc, h = cross.result()
            z = z + zc
            if self.pooled_coef_ is not None:  # a team's correction of the cross-encoder's head
                assert h is not None  # load() refuses a correction without a cross-encoder that gives h
                z = z + h @ self.pooled_coef_.T
            pp = 0.5 * pp + 0.5 * self._cross_principles(_softmax(pc))
        p = _softmax(z)
        if self.knn_weight > 0 and len(self.memory_):
            lone = np.array([is_lone(c.context_text) for c in cases], dtype=bool)
            p = (1.0 - self.knn_weight) * p + self.knn_weight * self.knn_proba(J, lone)
        return p, pp, J

    def _memory_index(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The remembered cases as the vote reads them, built once per memory: the float32 vectors,
        one-hot labels times their vote weight, the rows of taught cases, and which cases have no
        context (the vote reads a case among its own form, :meth:`knn_proba`). The cache holds the
        memory's own list and array and is rebuilt when either is replaced or the list grows, so a
        memory swapped for another of the same size is never read through the old one's index."""
        held = self.__dict__.get("_knn_of")  # the list and array the cached index was built from
        cache = self.__dict__.get("_knn")
        if (cache is None or held is None or held[0] is not self.memory_ or held[1] is not self.memory_vectors_
                or cache[0] != len(self.memory_)):
            labels = np.array([DECISIONS.index(m["decision"]) for m in self.memory_], dtype=np.int64)
            taught = np.array([i for i, m in enumerate(self.memory_) if m.get("taught")], dtype=np.int64)
            # a team's own verdict outweighs a corpus case in the vote (TAUGHT_VOTE): four taught
            # cases among 25 neighbours would otherwise barely move a case from another domain
            vote = np.ones(len(self.memory_), np.float32)
            vote[taught] = TAUGHT_VOTE
            M = np.ascontiguousarray(self.memory_vectors_, dtype=np.float32).reshape(len(self.memory_), -1)
            lone = np.array([is_lone(m.get("context")) for m in self.memory_], dtype=bool)
            cache = (len(self.memory_), M, np.eye(3, dtype=np.float32)[labels] * vote[:, None], taught, lone)
            self.__dict__["_knn"], self.__dict__["_knn_of"] = cache, (self.memory_, self.memory_vectors_)
        return cache

    def knn_proba(self, J: np.ndarray, lone: np.ndarray | None = None) -> np.ndarray:
        """``(n, 3)`` decision shares among the :attr:`knn_k` remembered cases nearest each joint
        embedding, weighted by ``exp(cosine / knn_temperature)`` (the nearest count most).

        With ``lone`` (per row: the case has no context), a case votes among remembered cases of its
        own form: a message judged alone among lone messages, an action in context among actions in
        context. A user's "companion plants for tomatoes" says nothing about whether a garden
        centre's reply may sign the customer up for a subscription, yet by topic it is the reply's
        nearest neighbour. Cross-form cosines are lowered by :data:`FORM_GAP`, so they count only
        where a form has fewer than :attr:`knn_k` remembered cases."""
        _, M, Y, _, mem_lone = self._memory_index()
        sims = np.asarray(J, np.float32) @ M.T
        if lone is not None and len(M):
            sims -= FORM_GAP * (np.asarray(lone, bool)[:, None] != mem_lone[None, :])
        k = min(self.knn_k, sims.shape[1])
        idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        s = np.take_along_axis(sims, idx, axis=1)
        w = np.exp((s - s.max(axis=1, keepdims=True)) / self.knn_temperature)
        out = np.einsum("nk,nkc->nc", w, Y[idx])
        return out / out.sum(axis=1, keepdims=True)

    def _cross_principles(self, pc: np.ndarray) -> np.ndarray:
        """The cross-encoder's principle probabilities in this model's principle order."""
        assert self.cross_ is not None
        out = np.zeros((len(pc), len(self.principles_)))
        for j, name in enumerate(self.cross_.principles):
            if name in self.principles_:
                out[:, self.principles_.index(name)] = pc[:, j]
        s = out.sum(axis=1, keepdims=True)
        return np.where(s > 0, out / np.maximum(s, 1e-12), 1.0 / len(self.principles_))

    def decide(self, proba: np.ndarray, cases: Sequence[Case] | None = None) -> list[str]:
        """Decisions from :meth:`predict_proba` rows: stopped at the model's stop threshold, and a
        stopped case escalated when P(escalate) is over :attr:`escalate_share` of the stop.

        A case under the threshold is escalated when P(escalate) reaches :attr:`escalate_floor` and
        it has a context (without ``cases``, every row counts as having one). A lone message judged
        on its own, such as a user's first prompt, is left to the threshold: what is contested is
        what a system does with a request in a situation, not a question about a disputed topic
        (measured in docs/decision-model.md)."""
        floor = np.inf if self.escalate_floor is None else self.escalate_floor
        out = []
        for i, (_pa, pb, pe) in enumerate(proba):
            stop = pb + pe
            if stop < self.stop_threshold:
                situated = cases is None or not is_lone(cases[i].context_text)
                out.append("escalate" if situated and pe >= floor else "allow")
            else:
                out.append("escalate" if pe > self.escalate_share * stop else "block")
        return out

    def predict(self, cases: Sequence[Case]) -> list[str]:
        return self.decide(self.predict_proba(cases), cases)

    def word_weights(self, case: Case, decision: str, top: int = 3) -> list[tuple[str, float]]:
        """The action's words that pushed hardest toward ``decision`` over allow: each word's share
        of the hashed unigram and bigram weights (the model is linear in them)."""
        self._check_fitted()
        k = DECISIONS.index(decision)
        w = self.coef_[k] - self.coef_[0]
        off = self.featurizer.dense_dim
        mask = (1 << self.hash_bits) - 1
        from sklearn.utils import murmurhash3_32

        text = normalize(case.action_text).lower()
        words = TOKEN.findall(text)
        score: dict[str, float] = {}
        for i, wd in enumerate(words):
            if wd in STOPWORDS or len(wd) < 3 or wd.replace(",", "").replace(".", "").isdigit():
                continue  # weights on function words and bare numbers explain nothing to a reader
            s = float(w[off + (murmurhash3_32("a:" + wd, positive=True) & mask)])
            for g in (f"{words[i - 1]} {wd}" if i else None, f"{wd} {words[i + 1]}" if i + 1 < len(words) else None):
                if g:
                    s += 0.5 * float(w[off + (murmurhash3_32("a:" + g, positive=True) & mask)])
            score[wd] = max(score.get(wd, -1e9), s)
        best = sorted(score.items(), key=lambda t: -t[1])
        return [(wd.strip("'-_"), round(s, 3)) for wd, s in best[:top] if s > 0]

    def taught_precedent(self, J: np.ndarray, min_similarity: float) -> list[tuple[int, float] | None]:
        """Per joint embedding, the most similar case a team taught (``teach``) when it is at least
        ``min_similarity`` close: a person has decided a near-identical case."""
        self._check_fitted()
        _, M, _, idx, _ = self._memory_index()
        if not len(idx) or not len(J):
            return [None] * len(J)
        sims = np.asarray(J, np.float32) @ M[idx].T
        best = sims.argmax(axis=1)
        return [(idx[b], float(sims[r, b])) if sims[r, b] >= min_similarity else None for r, b in enumerate(best)]

    def neighbours(self, J: np.ndarray, k: int = 3, min_similarity: float = 0.6) -> list[list[tuple[int, float]]]:
        """The ``k`` most similar remembered cases per joint embedding (index, cosine)."""
        self._check_fitted()
        if not len(self.memory_):
            return [[] for _ in range(len(J))]
        sims = np.asarray(J, np.float32) @ self._memory_index()[1].T
        out = []
        for row in sims:
            idx = np.argsort(-row)[:k]
            out.append([(int(i), float(row[i])) for i in idx if row[i] >= min_similarity])
        return out

    # ------------------------------------------------------------------ teaching
    def teach(self, cases: Sequence[Case], decisions: Sequence[str], principles: Sequence[str | None], *,
              pairs: Sequence[tuple[Case, Case]] = (), share: float = 0.01, l2: float = 10.0,
              pooled_l2: float = POOLED_L2, max_iter: int = 200, hold: int = HOLD, hold_weight: float = 1.0) -> DecisionModel:
        """A copy taught a team's verdicts and preferences (``(chosen, rejected)`` pairs), without
        forgetting what it knew; see :func:`accord.learning.decision_teach.teach`."""
        from accord.learning.decision_teach import teach

        return teach(self, cases, decisions, principles, pairs=pairs, share=share, l2=l2, pooled_l2=pooled_l2,
                     max_iter=max_iter, hold=hold, hold_weight=hold_weight)

    # ------------------------------------------------------------------ persistence
    @property
    def version(self) -> str:
        """A hash of the fitted arrays (computed once: every verdict names it)."""
        self._check_fitted()
        key = (id(self.coef_), id(self.intercept_), id(self.principle_coef_), id(self.cross_), id(self.pooled_coef_),
               id(self.memory_vectors_), id(self.memory_), len(self.memory_), self.knn_weight, self.knn_k, self.knn_temperature,
               self.semantic, self.neutral, self.escalate_share, self.escalate_floor)
        cached = self.__dict__.get("_version")
        if cached is None or cached[0] != key:
            h = hashlib.sha256(self.coef_.tobytes() + self.intercept_.tobytes() + self.principle_coef_.tobytes())
            if self.knn_weight > 0:  # the remembered cases vote: two models that remember differently decide differently
                h.update(f"knn {self.knn_weight} {self.knn_k} {self.knn_temperature}".encode())
                h.update(np.ascontiguousarray(self.memory_vectors_).tobytes())
                h.update(self._memory_index()[2].tobytes())  # each case's vote: its decision, weighted if taught
            if self.semantic:
                h.update(f"semantic {self.semantic}".encode())
            if self.neutral:  # the view's edition changes what the same arrays decide
                h.update(f"neutral {VIEW_VERSION}".encode())
            if self.escalate_share != 0.5:  # it changes decisions (the stop threshold predates this and is not hashed)
                h.update(f"escalate share {self.escalate_share}".encode())
            if self.escalate_floor is not None:
                h.update(f"escalate floor {self.escalate_floor}".encode())
            if self.cross_ is not None:
                h.update(self.cross_.digest)
            if self.pooled_coef_ is not None:
                h.update(b"pooled" + self.pooled_coef_.tobytes())
            h.update(scaffold().version.encode())  # what the model reads of a long context
            cached = (key, f"decision-{h.hexdigest()[:10]}")
            self.__dict__["_version"] = cached
        return cached[1]

    def save(self, directory: str | Path) -> Path:
        """Write ``model.json`` + ``arrays.npz`` + ``memory.jsonl`` into ``directory``."""
        self._check_fitted()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        nz = np.flatnonzero(np.any(self.coef_ != 0, axis=0))
        arrays: dict[str, Any] = {
            "coef_cols": nz.astype(np.int32), "coef_vals": self.coef_[:, nz].astype(np.float16),
            "intercept": self.intercept_, "principle_coef": self.principle_coef_,
            "principle_intercept": self.principle_intercept_, "memory": self.memory_vectors_}
        if self.memory_cross_ is not None:
            arrays["memory_cross"] = self.memory_cross_.astype(np.float16)
        if self.memory_pooled_ is not None:
            arrays["memory_pooled"] = self.memory_pooled_.astype(np.float16)
        if self.pooled_coef_ is not None:
            arrays["pooled_coef"] = self.pooled_coef_.astype(np.float32)
        np.savez_compressed(d / "arrays.npz", **arrays)
        # the cross-encoder's file goes along under its own format's name, and an ONNX export's adapter
        # (the float LoRA weights it was merged from, 1-3 MB) with it when it sits beside the export,
        # for continued fine-tuning (scripts/finetune_decision.py --init); a stale file of either format goes
        for name in (CROSS_FILE, CROSS_ONNX):
            target = d / name
            source = None
            if self.cross_ is not None:
                source = self.cross_.path if self.cross_.path.suffix == Path(name).suffix else self.cross_.path.with_name(name)
            if source is not None and source.is_file():
                if source.resolve() != target.resolve():
                    shutil.copyfile(source, target)
            elif target.exists():
                target.unlink()
        meta = {"format": FORMAT, "version": self.version, "encoder": self.encoder, "semantic": self.semantic,
                "neutral": self.neutral, "hash_bits": self.hash_bits,
                "C": self.C, "stack": self.stack, "stop_threshold": self.stop_threshold,
                "escalate_share": self.escalate_share, "escalate_floor": self.escalate_floor, "dim": int(self.coef_.shape[1]),
                "knn": {"weight": self.knn_weight, "k": self.knn_k, "temperature": self.knn_temperature},
                "principles": self.principles_, "card": self.card_}
        (d / "model.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
        with (d / "memory.jsonl").open("w") as f:
            for m in self.memory_:
                f.write(json.dumps(m, ensure_ascii=False, sort_keys=True) + "\n")
        return d

    @classmethod
    def load(cls, directory: str | Path) -> DecisionModel:
        """Read a model written by :meth:`save`; a missing or foreign file is a ``ModelError``."""
        d = Path(directory)
        try:
            meta = json.loads((d / "model.json").read_text())
            arrays = np.load(d / "arrays.npz", allow_pickle=False)
            memory = [json.loads(line) for line in (d / "memory.jsonl").read_text().splitlines() if line.strip()]
        except (OSError, ValueError) as e:
            raise ModelError(f"cannot read the decision model in {d}: {e}",
                             hint="retrain it with scripts/train_decision_model.py") from e
        if meta.get("format") != FORMAT:
            raise ModelError(f"{d / 'model.json'}: format {meta.get('format')!r} is not {FORMAT!r}")
        knn = meta.get("knn") or {}
        m = cls(meta["encoder"], C=meta["C"], stop_threshold=meta["stop_threshold"],
                escalate_share=float(meta.get("escalate_share", 0.5)), escalate_floor=_floor(meta.get("escalate_floor"), d), hash_bits=meta["hash_bits"],
                stack=bool(meta.get("stack", False)), knn_weight=float(knn.get("weight", 0.0)),
                knn_k=int(knn.get("k", 25)), knn_temperature=float(knn.get("temperature", 0.05)),
                semantic=meta.get("semantic"), neutral=bool(meta.get("neutral", False)))
        coef = np.zeros((len(DECISIONS), meta["dim"]), np.float32)
        coef[:, arrays["coef_cols"]] = arrays["coef_vals"].astype(np.float32)
        m.coef_, m.intercept_ = coef, arrays["intercept"].astype(np.float32)
        m.principle_coef_ = arrays["principle_coef"].astype(np.float32)
        m.principle_intercept_ = arrays["principle_intercept"].astype(np.float32)
        m.principles_, m.classes_ = list(meta["principles"]), DECISIONS
        m.memory_, m.memory_vectors_ = memory, arrays["memory"]
        m.card_ = meta.get("card", {})
        cross = find_cross_encoder(d)
        if cross is not None:
            m.cross_ = CrossEncoder(cross)
            m.memory_cross_ = arrays["memory_cross"] if "memory_cross" in arrays.files else None
            if m.memory_cross_ is None or len(m.memory_cross_) != len(memory):
                raise ModelError(f"{d / 'arrays.npz'}: the cross-encoder's scores of the remembered cases are missing "
                                 "or do not match memory.jsonl", hint="retrain the model with scripts/train_decision_model.py")
            if "memory_pooled" in arrays.files and m.cross_.has_pooled:
                m.memory_pooled_ = arrays["memory_pooled"]
                if m.memory_pooled_.shape != (len(memory), POOLED_DIM):
                    raise ModelError(f"{d / 'arrays.npz'}: memory_pooled is {m.memory_pooled_.shape}, expected "
                                     f"({len(memory)}, {POOLED_DIM})", hint="retrain the model with scripts/train_decision_model.py")
        if "pooled_coef" in arrays.files:
            if m.cross_ is None or not m.cross_.has_pooled:
                raise ModelError(f"{d / 'arrays.npz'}: a taught correction of the cross-encoder's head, but "
                                 f"{'no cross-encoder' if m.cross_ is None else 'a cross-encoder without pooled vectors'} in {d}",
                                 hint="teach the model again (accord learn) or reinstall accord")
            m.pooled_coef_ = arrays["pooled_coef"].astype(np.float32)
            if m.pooled_coef_.shape != (len(DECISIONS), POOLED_DIM):
                raise ModelError(f"{d / 'arrays.npz'}: pooled_coef is {m.pooled_coef_.shape}, expected ({len(DECISIONS)}, {POOLED_DIM})")
        for name in ("coef_", "intercept_", "principle_coef_", "principle_intercept_", "pooled_coef_"):
            if getattr(m, name) is not None and not np.all(np.isfinite(getattr(m, name))):
                raise ModelError(f"{d / 'arrays.npz'}: {name.rstrip('_')} holds NaN or infinite values",
                                 hint="the file is damaged; retrain or reinstall the model")
        if not (0.0 <= m.knn_weight <= 1.0 and m.knn_k >= 1 and m.knn_temperature > 0):
            raise ModelError(f"{d / 'model.json'}: knn {knn} is out of range (weight in [0, 1], k >= 1, temperature > 0)")
        if m.memory_vectors_.ndim != 2 or (len(m.memory_vectors_) and m.memory_vectors_.shape[1] != m.featurizer.joint_dim):
            raise ModelError(f"{d / 'arrays.npz'}: the remembered cases' vectors are {m.memory_vectors_.shape[1:]} wide, "
                             f"the encoders give {m.featurizer.joint_dim}", hint="retrain it with scripts/train_decision_model.py")
        if len(m.memory_) != len(m.memory_vectors_):
            raise ModelError(f"{d}: memory.jsonl has {len(m.memory_)} cases but arrays.npz {len(m.memory_vectors_)}")
        return m
