"""The learned judge: a value model that learns what people find acceptable.

Architecture (all arrays, saved as JSON + ``.npz``, never pickle):

* a text encoder (default ``wordllama``) embeds the action ``a``, the context ``c`` and the
  joint text ``c + a``; the features are ``[e(a), e(c) * e(a), e(c + a)]`` because embeddings carry
  topic more than valence, and the joint terms let the heads see *this* action *in this* context;
* an **acceptability head**: logistic regression for P(unacceptable), Platt-calibrated on a
  held-out slice;
* **principle heads**: one-vs-rest logistic regressions trained on unacceptable examples tagged
  with a principle; principle k's violation score is ``P(unacceptable) * q_k / max_j q_j``, so the
  most likely principle carries the whole risk and the others share it in proportion;
* a **reward head**: a linear Bradley-Terry model trained on preferences, labels within one
  context and demonstrations, used to rank candidate actions;
* a **precedent memory**: human-labelled cases with their joint embeddings. Near neighbours are
  cited as precedents and blend into the score in proportion to their similarity, so one
  reviewer verdict changes how the same kind of case (and its paraphrases) is judged at once.

It follows scikit-learn's estimator contract: ``fit`` / ``partial_fit`` return ``self``, learned
state ends in ``_``, ``predict_proba`` before fitting raises ``NotFittedError`` and randomness
comes from ``random_state``. ``partial_fit`` builds on the current weights (a Gaussian prior
centred on them) instead of starting over.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit, logit

from accord.charter.model import Charter
from accord.errors import ModelError, NotFittedError
from accord.judges.base import register_judge
from accord.learning.encoders import Encoder, get_encoder
from accord.learning.logistic import balanced_weights, fit_logistic
from accord.types import Case, Evidence, Precedent, Score

FORMAT_VERSION = 1
CaseLike = Case | tuple[str, str] | str


@dataclass(frozen=True)
class MemoryItem:
    """A human-labelled case kept for precedents."""

    context: str
    action: str
    verdict: str  # acceptable | unacceptable
    principle: str | None
    source: str


@dataclass
class Pairs:
    """Preference pairs for the reward head: ``chosen[i]`` is better than ``rejected[i]``."""

    contexts: list[str] = field(default_factory=list)
    chosen: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)

    def add(self, context: str, chosen: str, rejected: str, weight: float = 1.0) -> None:
        self.contexts.append(context)
        self.chosen.append(chosen)
        self.rejected.append(rejected)
        self.weights.append(weight)

    def __len__(self) -> int:
        return len(self.chosen)


def as_pair(x: CaseLike) -> tuple[str, str]:
    """``(context, action)`` text of a case-like input."""
    if isinstance(x, Case):
        return x.context_text, x.action_text
    if isinstance(x, tuple):
        return x[0], x[1]
    return "", x


class ValueModel:
    """A learned value judge; see the module docstring for the architecture.

    Args:
        principles: principle ids the principle heads cover (default: the charter's, set at fit).
        encoder: registered encoder name.
        lam: L2 strength (towards the prior) of the acceptability and principle heads.
        reward_lam: L2 strength of the reward head.
        memory_size: most precedents kept from large training sets (feedback is always kept).
        knn_k: neighbours consulted; knn_floor: cosine similarity below which a precedent has no pull.
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
        self.random_state = random_state
        self.card_: dict[str, Any] = {}

    # ------------------------------------------------------------------ encoding
    @property
    def _enc(self) -> Encoder:
        return get_encoder(self.encoder)

    def _embed(self, pairs: Sequence[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
        """Features ``[e(a), e(c)*e(a), e(c+a)]`` and the joint embedding used for precedents."""
        contexts = [c for c, _ in pairs]
        actions = [a for _, a in pairs]
        joint = [f"{c}\n{a}" if c else a for c, a in pairs]
        uniq = list(dict.fromkeys(actions + [c for c in contexts if c] + joint))
        index = {t: i for i, t in enumerate(uniq)}
        E = self._enc.encode(uniq)
        ea = E[[index[a] for a in actions]]
        ec = np.zeros_like(ea)
        has_c = [i for i, c in enumerate(contexts) if c]
        if has_c:
            ec[has_c] = E[[index[contexts[i]] for i in has_c]]
        ej = E[[index[j] for j in joint]]
        feats = np.hstack([ea, ec * ea * np.sqrt(self._enc.dim), ej]).astype(np.float32)
        return feats, ej

    def features(self, X: Sequence[CaseLike]) -> np.ndarray:
        """The feature matrix the heads see (useful for active learning and benchmarks)."""
        return self._embed([as_pair(x) for x in X])[0]

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        X: Sequence[CaseLike],
        y: Sequence[int] | np.ndarray,
        *,
        principle: Sequence[str | None] | None = None,
        sample_weight: Sequence[float] | np.ndarray | None = None,
        sources: Sequence[str] | None = None,
        pairs: Pairs | None = None,
        memory: Sequence[bool] | None = None,
    ) -> ValueModel:
        """Train from scratch. ``y[i] = 1`` means case i is unacceptable.

        ``principle[i]`` tags which principle an unacceptable case violates (or ``None``);
        ``pairs`` trains the reward head; ``memory[i]`` marks cases always kept as precedents
        (human feedback, charter examples), the rest are subsampled to ``memory_size``.
        """
        return self._train(X, y, principle, sample_weight, sources, pairs, memory, warm=False)

    def partial_fit(
        self,
        X: Sequence[CaseLike],
        y: Sequence[int] | np.ndarray,
        *,
        principle: Sequence[str | None] | None = None,
        sample_weight: Sequence[float] | np.ndarray | None = None,
        sources: Sequence[str] | None = None,
        pairs: Pairs | None = None,
        memory: Sequence[bool] | None = None,
    ) -> ValueModel:
        """Learn from more data, building on what the model already knows.

        The heads are refitted on the new batch with a prior centred on their current weights,
        and every new case joins the precedent memory. Unfitted, this is ``fit``.
        """
        warm = hasattr(self, "coef_")
        return self._train(X, y, principle, sample_weight, sources, pairs, memory, warm=warm)

    def _train(self, X, y, principle, sample_weight, sources, pairs, memory, *, warm: bool) -> ValueModel:  # type: ignore[no-untyped-def]
        pairs_xy = [as_pair(x) for x in X]
        y_arr = np.asarray(y, dtype=np.int64)
        n = len(pairs_xy)
        if n != len(y_arr):
            raise ValueError(f"X has {n} rows but y has {len(y_arr)}")
        tags = list(principle) if principle is not None else [None] * n
        sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        srcs = list(sources) if sources is not None else ["training"] * n
        keep = list(memory) if memory is not None else [False] * n
        rng = np.random.default_rng(self.random_state)
        for t in tags:
            if t is not None and t not in self.principles:
                self.principles.append(t)

        F, J = self._embed(pairs_xy) if n else (np.zeros((0, 3 * self._enc.dim), np.float32), np.zeros((0, self._enc.dim), np.float32))
        d = F.shape[1]
        if not warm:
            self.coef_, self.intercept_ = np.zeros(d, np.float32), 0.0
            self.calibration_ = (1.0, 0.0)
            self.principle_coef_ = np.zeros((0, d), np.float32)
            self.principle_intercept_ = np.zeros(0, np.float32)
            self.reward_coef_ = np.zeros(d, np.float32)
            self.memory_: list[MemoryItem] = []
            self.memory_emb_ = np.zeros((0, self._enc.dim), np.float16)
            self.card_ = {"sources": {}, "counts": {}, "history": []}
            self.n_features_in_ = d
        if n and len(set(y_arr.tolist())) > 1:
            self._fit_acceptability(F, y_arr, sw, rng, warm)
        elif n and not warm:
            raise ValueError("training needs both acceptable and unacceptable examples")
        elif n:
            # one class only: still move towards it, from the prior
            w, b = fit_logistic(F, y_arr, sample_weight=sw, lam=self.lam, w_prior=self.coef_, b_prior=self.intercept_)
            self.coef_, self.intercept_ = w, b
        self._fit_principles(F, y_arr, tags, sw, warm)
        if pairs is not None and len(pairs):
            self._fit_reward(pairs, warm)
        self._remember(pairs_xy, y_arr, tags, srcs, keep, J, rng)
        self._update_card(y_arr, srcs, pairs, warm)
        return self

    def _fit_acceptability(self, F: np.ndarray, y: np.ndarray, sw: np.ndarray, rng: np.random.Generator, warm: bool) -> None:
        w = balanced_weights(y, sw)
        w_prior = self.coef_ if warm else None
        b_prior = self.intercept_ if warm else 0.0
        if not warm and len(y) >= 40 and min(np.bincount(y, minlength=2)) >= 10:
            # Platt calibration on a held-out fifth, then refit on everything
            idx = rng.permutation(len(y))
            cut = len(y) // 5
            cal, tr = idx[:cut], idx[cut:]
            wt, bt = fit_logistic(F[tr], y[tr], sample_weight=w[tr], lam=self.lam)
            z = F[cal] @ wt + bt
            a, c = fit_logistic(z[:, None], y[cal], sample_weight=balanced_weights(y[cal]), lam=1e-3)
            self.calibration_ = (float(a[0]), float(c))
        self.coef_, self.intercept_ = fit_logistic(F, y, sample_weight=w, lam=self.lam, w_prior=w_prior, b_prior=b_prior)

    def _fit_principles(self, F: np.ndarray, y: np.ndarray, tags: list[str | None], sw: np.ndarray, warm: bool) -> None:
        k, d = len(self.principles), F.shape[1]
        if self.principle_coef_.shape[0] < k:  # new principles start from zero
            grow = k - self.principle_coef_.shape[0]
            self.principle_coef_ = np.vstack([self.principle_coef_, np.zeros((grow, d), np.float32)])
            self.principle_intercept_ = np.concatenate([self.principle_intercept_, np.zeros(grow, np.float32)])
        rows = [i for i, t in enumerate(tags) if t is not None and y[i] == 1]
        if not rows:
            return
        Fu = F[rows]
        for j, pid in enumerate(self.principles):
            target = np.array([tags[i] == pid for i in rows], dtype=np.int64)
            if not target.any():
                continue
            wj = balanced_weights(target, sw[rows]) if not target.all() else sw[rows]
            w, b = fit_logistic(Fu, target, sample_weight=wj, lam=self.lam,
                                w_prior=self.principle_coef_[j] if warm else None,
                                b_prior=float(self.principle_intercept_[j]) if warm else 0.0)
            self.principle_coef_[j], self.principle_intercept_[j] = w, b

    def _fit_reward(self, pairs: Pairs, warm: bool) -> None:
        Fc = self._embed(list(zip(pairs.contexts, pairs.chosen, strict=True)))[0]
        Fr = self._embed(list(zip(pairs.contexts, pairs.rejected, strict=True)))[0]
        D = np.vstack([Fc - Fr, Fr - Fc])
        t = np.concatenate([np.ones(len(pairs)), np.zeros(len(pairs))]).astype(np.int64)
        sw = np.concatenate([pairs.weights, pairs.weights])
        # no intercept: a difference of rewards has none; fit with b pinned by symmetry
        w, _ = fit_logistic(D, t, sample_weight=sw, lam=self.reward_lam, w_prior=self.reward_coef_ if warm else None)
        self.reward_coef_ = w

    def _remember(self, pairs_xy, y, tags, srcs, keep, J, rng) -> None:  # type: ignore[no-untyped-def]
        keep_idx = [i for i in range(len(y)) if keep[i]]
        rest = [i for i in range(len(y)) if not keep[i]]
        room = max(self.memory_size - len(keep_idx), 0)
        if len(rest) > room:
            rest = sorted(rng.choice(rest, size=room, replace=False).tolist())
        known = {(m.context, m.action, m.verdict) for m in self.memory_}
        chosen = [i for i in keep_idx + rest
                  if (pairs_xy[i][0], pairs_xy[i][1], "unacceptable" if y[i] else "acceptable") not in known]
        self.memory_ = list(self.memory_) + [
            MemoryItem(pairs_xy[i][0], pairs_xy[i][1], "unacceptable" if y[i] else "acceptable", tags[i], srcs[i]) for i in chosen
        ]
        self.memory_emb_ = np.vstack([self.memory_emb_, J[chosen].astype(np.float16)]) if chosen else self.memory_emb_

    def _update_card(self, y: np.ndarray, srcs: list[str], pairs: Pairs | None, warm: bool) -> None:
        card = self.card_
        for s, label in zip(srcs, y.tolist(), strict=True):
            c = card["sources"].setdefault(s, {"acceptable": 0, "unacceptable": 0})
            c["unacceptable" if label else "acceptable"] += 1
        card["counts"] = {
            "examples": int(sum(v["acceptable"] + v["unacceptable"] for v in card["sources"].values())),
            "preference_pairs": int(card.get("counts", {}).get("preference_pairs", 0) + (len(pairs) if pairs else 0)),
            "precedents": len(self.memory_),
        }
        card["history"].append({"at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                                "mode": "partial_fit" if warm else "fit", "examples": len(y)})

    # ------------------------------------------------------------------ inference
    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("this ValueModel is not fitted yet; call fit() or load a model directory")

    def _raw(self, F: np.ndarray) -> np.ndarray:
        a, b = self.calibration_
        return expit(a * (F @ self.coef_ + self.intercept_) + b)

    def predict_proba(self, X: Sequence[CaseLike]) -> np.ndarray:
        """``(n, 2)`` array: column 0 P(acceptable), column 1 P(unacceptable) (with precedents)."""
        self._check_fitted()
        F, J = self._embed([as_pair(x) for x in X])
        p = self._blend(self._raw(F), J)[0]
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Sequence[CaseLike]) -> np.ndarray:
        """1 where the case is more likely unacceptable than not."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def principle_proba(self, X: Sequence[CaseLike]) -> np.ndarray:
        """``(n, k)`` violation probability per principle (columns follow ``principles``)."""
        self._check_fitted()
        F, J = self._embed([as_pair(x) for x in X])
        return self._principle_scores(F, J)[0]

    def reward(self, X: Sequence[CaseLike]) -> np.ndarray:
        """The reward head's score: higher is better; compare only within one context."""
        self._check_fitted()
        F = self._embed([as_pair(x) for x in X])[0]
        r = F @ self.reward_coef_
        # a reward head never trained falls back on acceptability
        return r if np.any(self.reward_coef_) else -logit(np.clip(self._raw(F), 1e-6, 1 - 1e-6))

    def _neighbours(self, J: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not len(self.memory_):
            return np.zeros((len(J), 0), np.int64), np.zeros((len(J), 0), np.float32)
        sims = J @ self.memory_emb_.astype(np.float32).T
        k = min(self.knn_k, sims.shape[1])
        idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(sims, idx, axis=1)
        order = np.argsort(-top, axis=1)
        return np.take_along_axis(idx, order, axis=1), np.take_along_axis(top, order, axis=1)

    def _blend(self, p_head: np.ndarray, J: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Mix the head with near precedents; returns (p, alpha, neighbour idx, sims)."""
        idx, sims = self._neighbours(J)
        if idx.shape[1] == 0:
            return p_head, np.zeros(len(J)), idx, sims
        pull = np.clip((sims - self.knn_floor) / (1.0 - self.knn_floor), 0.0, 1.0) ** 2
        labels = np.array([[self.memory_[j].verdict == "unacceptable" for j in row] for row in idx], dtype=np.float64)
        wsum = pull.sum(axis=1)
        p_knn = np.where(wsum > 0, (pull * labels).sum(axis=1) / np.maximum(wsum, 1e-12), 0.5)
        alpha = self.knn_max_weight * pull.max(axis=1)
        return (1 - alpha) * p_head + alpha * p_knn, alpha, idx, sims

    def _principle_scores(self, F: np.ndarray, J: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        p, alpha, idx, sims = self._blend(self._raw(F), J)
        q = expit(F @ self.principle_coef_.T + self.principle_intercept_) if len(self.principles) else np.zeros((len(F), 0))
        if idx.shape[1] and len(self.principles):
            pos = {pid: j for j, pid in enumerate(self.principles)}
            tagged = np.zeros_like(q)
            for r, row in enumerate(idx):
                for c, m in enumerate(row):
                    item = self.memory_[m]
                    if item.verdict == "unacceptable" and item.principle in pos and sims[r, c] > self.knn_floor:
                        tagged[r, pos[item.principle]] = max(tagged[r, pos[item.principle]], sims[r, c])
            has = tagged.max(axis=1, keepdims=True) > 0
            q = np.where(has, (1 - alpha[:, None]) * q + alpha[:, None] * (tagged > 0), q)
        share = q / np.maximum(q.max(axis=1, keepdims=True), 1e-9) if q.shape[1] else q
        return p[:, None] * share, idx, sims, p

    # ------------------------------------------------------------------ judge protocol
    @property
    def version(self) -> str:
        self._check_fitted()
        h = hashlib.sha256(self.coef_.tobytes() + self.principle_coef_.tobytes() + self.reward_coef_.tobytes())
        h.update(str(len(self.memory_)).encode())
        return f"model-{h.hexdigest()[:10]}"

    def judge(self, cases: Sequence[Case], charter: Charter) -> list[list[Score]]:
        """Per-principle scores for the charter's principles, citing the nearest precedents."""
        self._check_fitted()
        if not cases:
            return []
        F, J = self._embed([as_pair(c) for c in cases])
        P, _, _, _ = self._principle_scores(F, J)
        col = {pid: j for j, pid in enumerate(self.principles)}
        out: list[list[Score]] = []
        for i in range(len(cases)):
            scores = []
            for pid in charter.principle_ids:
                if pid in col:
                    scores.append(Score(principle=pid, score=float(np.clip(P[i, col[pid]], 0.0, 1.0)), source="model"))
            out.append(scores)
        return out

    def precedents(self, case: CaseLike, k: int = 3, min_similarity: float = 0.5) -> list[Precedent]:
        """The most similar human-labelled cases the model learned from."""
        return self.precedents_many([case], k=k, min_similarity=min_similarity)[0]

    def precedents_many(self, cases: Sequence[CaseLike], k: int = 3, min_similarity: float = 0.5) -> list[list[Precedent]]:
        """:meth:`precedents` for a batch, in one matrix product."""
        self._check_fitted()
        pairs = [as_pair(c) for c in cases]
        J = self._enc.encode([f"{c}\n{a}" if c else a for c, a in pairs])
        idx, sims = self._neighbours(J)
        out = []
        for row, srow in zip(idx, sims, strict=True):
            lst = []
            for m, s in zip(row[:k], srow[:k], strict=True):
                if s >= min_similarity:
                    it = self.memory_[m]
                    lst.append(Precedent(context=it.context, action=it.action, verdict=it.verdict,  # type: ignore[arg-type]
                                         principle=it.principle, similarity=round(float(s), 3), source=it.source))
            out.append(lst)
        return out

    def occlusion(self, case: CaseLike, principle: str, top: int = 3) -> list[tuple[Evidence, float]]:
        """The words whose removal lowers the principle's score most, with the score without them."""
        return self.occlusion_many([(case, principle)], top=top)[0]

    def occlusion_many(self, items: Sequence[tuple[CaseLike, str]], top: int = 3) -> list[list[tuple[Evidence, float]]]:
        """:meth:`occlusion` for many ``(case, principle)`` items in one encoding pass."""
        self._check_fitted()
        variants: list[tuple[str, str]] = []
        plan: list[tuple[int, int, list[int], list[str], str] | None] = []
        for case, principle in items:
            ctx, act = as_pair(case)
            words = act.split()
            if len(words) < 2 or principle not in self.principles:
                plan.append(None)
                continue
            span = 1 if len(words) <= 12 else 2 if len(words) <= 40 else max(1, len(words) // 20)
            starts = list(range(0, len(words), span))
            plan.append((len(variants), self.principles.index(principle), starts, words, act))
            variants.append((ctx, act))
            variants.extend((ctx, " ".join(words[:s] + words[s + span:])) for s in starts)
        if not variants:
            return [[] for _ in items]
        F, J = self._embed(variants)
        P = self._principle_scores(F, J)[0]
        out: list[list[tuple[Evidence, float]]] = []
        for entry in plan:
            if entry is None:
                out.append([])
                continue
            first, j, starts, words, act = entry
            base = P[first, j]
            after = P[first + 1:first + 1 + len(starts), j]
            drops = base - after
            span = len(words) if len(starts) == 1 else starts[1] - starts[0]
            found = []
            for o in np.argsort(-drops)[:top]:
                if drops[o] <= 0.01:
                    break
                piece = " ".join(words[starts[o]:starts[o] + span])
                start = _word_offset(act, starts[o])
                found.append((Evidence(text=piece, start=start, end=start + len(piece), field="action"), float(after[o])))
            out.append(found)
        return out

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path, *, name: str | None = None) -> Path:
        """Write ``model.json`` + ``arrays.npz`` + ``precedents.jsonl`` (no pickle)."""
        self._check_fitted()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        meta = {
            "format_version": FORMAT_VERSION,
            "kind": "accord.ValueModel",
            "name": name or self.card_.get("name") or d.name,
            "version": self.version,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "params": {k: getattr(self, k) for k in ("encoder", "lam", "reward_lam", "memory_size", "knn_k",
                                                      "knn_floor", "knn_max_weight", "random_state")},
            "principles": self.principles,
            "intercept": self.intercept_,
            "calibration": list(self.calibration_),
            "card": self.card_,
        }
        tmp = d / ".arrays.tmp.npz"
        np.savez_compressed(tmp, coef=self.coef_, principle_coef=self.principle_coef_,
                            principle_intercept=self.principle_intercept_, reward_coef=self.reward_coef_,
                            memory_emb=self.memory_emb_)
        tmp.replace(d / "arrays.npz")
        with open(d / "precedents.jsonl.tmp", "w", encoding="utf-8") as f:
            for it in self.memory_:
                f.write(json.dumps(it.__dict__, ensure_ascii=False) + "\n")
        (d / "precedents.jsonl.tmp").replace(d / "precedents.jsonl")
        (d / "model.json.tmp").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
        (d / "model.json.tmp").replace(d / "model.json")
        return d

    @classmethod
    def load(cls, directory: str | Path) -> ValueModel:
        """Load a model directory written by :meth:`save`."""
        d = Path(directory)
        try:
            meta = json.loads((d / "model.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(f"{d}: not a model directory (no model.json)", hint="train one with `accord learn`") from None
        except json.JSONDecodeError as e:
            raise ModelError(f"{d / 'model.json'}: invalid JSON at line {e.lineno}") from None
        if meta.get("format_version") != FORMAT_VERSION or meta.get("kind") != "accord.ValueModel":
            raise ModelError(f"{d}: unsupported model format {meta.get('kind')!r} v{meta.get('format_version')}")
        try:
            arrays = np.load(d / "arrays.npz", allow_pickle=False)
            lines = (d / "precedents.jsonl").read_text(encoding="utf-8").splitlines()
        except (OSError, ValueError) as e:
            raise ModelError(f"{d}: incomplete model directory: {e}") from None
        m = cls(meta["principles"], **meta["params"])
        m.coef_ = arrays["coef"]
        m.intercept_ = float(meta["intercept"])
        m.calibration_ = tuple(meta["calibration"])  # type: ignore[assignment]
        m.principle_coef_ = arrays["principle_coef"]
        m.principle_intercept_ = arrays["principle_intercept"]
        m.reward_coef_ = arrays["reward_coef"]
        m.memory_emb_ = arrays["memory_emb"]
        m.memory_ = [MemoryItem(**json.loads(x)) for x in lines if x.strip()]
        m.n_features_in_ = m.coef_.shape[0]
        m.card_ = meta.get("card", {})
        m.card_["name"] = meta.get("name")
        return m


def _word_offset(text: str, word_index: int) -> int:
    pos = 0
    for i, w in enumerate(text.split()):
        pos = text.index(w, pos)
        if i == word_index:
            return pos
        pos += len(w)
    return 0


def _model_factory(path: str | Path | None = None) -> ValueModel:
    from accord.learning.models import default_model_dir

    return ValueModel.load(path or default_model_dir())


register_judge("model", _model_factory)
