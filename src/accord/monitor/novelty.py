"""Input drift: how far cases are from everything the model was trained on, and new clusters of them.

The packaged decision model remembers the joint embedding (context and action, wordllama) of
every case it was trained on (``memory_vectors_``): that is the training set the distance is
measured to. A case is *far* when its most similar training case is less similar than most
training cases are to their own nearest neighbour (the ``novelty_quantile`` of the training
set's leave-one-out nearest-neighbour similarities), i.e. it lies where the model has no data.

Far cases of the recent window are clustered (average linkage on cosine distance, scikit-learn);
a cluster is *new* when the region of input space it occupies (cases as close to its centre as
nine in ten of its members) holds significantly more of the recent window than of the reference
window (Fisher's exact test, corrected with the run's other tests): a kind of request that was
not there before, or far rarer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from accord.types import Case

__all__ = ["Cluster", "NoveltyModel"]


@dataclass
class Cluster:
    """A group of similar far cases in the recent window."""

    size: int
    share: float  # of the recent window's sample
    reference_similarity: float  # median similarity of members to their nearest reference case
    reference_share: float = 0.0  # share of the reference sample in the cluster's region
    region_share: float = 0.0  # share of the recent sample in the cluster's region
    p: float = 1.0  # Fisher's exact test: the region holds more of the recent window than of the reference
    p_adjusted: float | None = None
    new: bool = False  # the region is significantly more frequent than in the reference window
    examples: list[dict[str, str]] = field(default_factory=list)  # the members nearest the centre
    trace_ids: list[str] = field(default_factory=list)  # members, nearest the centre first (≤ 100)

    def as_dict(self) -> dict[str, Any]:
        return {"size": self.size, "share": round(self.share, 4), "new": self.new,
                "reference_similarity": round(self.reference_similarity, 4),
                "reference_share": round(self.reference_share, 4), "region_share": round(self.region_share, 4),
                "p": self.p, "p_adjusted": self.p_adjusted, "examples": self.examples, "trace_ids": self.trace_ids}


class NoveltyModel:
    """Embeds cases as the decision model does and measures their distance to its training set.

    Args:
        training: the training set's joint embeddings (unit rows).
        embed: cases → unit-row embeddings (the decision model's ``featurizer.joint``).
        quantile: see :attr:`MonitorConfig.novelty_quantile`.
        name: what the training set is, for reports.
    """

    def __init__(self, training: np.ndarray, embed: Any, *, quantile: float = 0.05, name: str = "training set",
                 random_state: int = 0) -> None:
        self.training = np.ascontiguousarray(training, dtype=np.float32)
        self._embed = embed
        self.name = name
        self._cache: dict[tuple[str, str], tuple[np.ndarray, float]] = {}
        rng = np.random.default_rng(random_state)
        idx = rng.choice(len(self.training), size=min(3000, len(self.training)), replace=False)
        sims = self.training[idx] @ self.training.T
        sims[np.arange(len(idx)), idx] = -np.inf  # leave one out
        self.loo = sims.max(axis=1)
        self.threshold = float(np.quantile(self.loo, quantile))

    @classmethod
    def packaged(cls, *, quantile: float = 0.05, model_dir: str | None = None) -> NoveltyModel:
        """The decision model in use (``accord.learning.models.load_decision_model``) and its memory."""
        from accord.learning.models import decision_model_dir, load_decision_model

        m = load_decision_model(model_dir)
        return cls(m.memory_vectors_, m.featurizer.joint, quantile=quantile,
                   name=f"{len(m.memory_vectors_)} training cases of {decision_model_dir(model_dir).name} "
                        f"({m.version})")

    def embed(self, cases: Sequence[Case]) -> tuple[np.ndarray, np.ndarray]:
        """Unit embeddings of ``cases`` and each one's similarity to its nearest training case.

        Both are cached by text (traffic repeats itself, and the reference window is read again
        on every run).
        """
        keys = [(c.context_text, c.action_text) for c in cases]
        missing = [k for k in dict.fromkeys(keys) if k not in self._cache]
        if missing:
            vecs = np.asarray(self._embed([Case(context=c, action=a) for c, a in missing]), dtype=np.float32)
            sims = self.similarity(vecs)
            if len(self._cache) > 200_000:
                self._cache.clear()
            for k, v, sim in zip(missing, vecs, sims, strict=True):
                self._cache[k] = (v, float(sim))
        if not keys:
            return np.zeros((0, self.training.shape[1]), np.float32), np.zeros(0, np.float32)
        return (np.stack([self._cache[k][0] for k in keys]),
                np.array([self._cache[k][1] for k in keys], dtype=np.float32))

    def similarity(self, X: np.ndarray) -> np.ndarray:
        """Per row, the cosine similarity of its nearest training case."""
        out = np.empty(len(X), np.float32)
        for i in range(0, len(X), 2048):
            out[i:i + 2048] = (X[i:i + 2048] @ self.training.T).max(axis=1)
        return out

    def clusters(self, far_recent: np.ndarray, reference: np.ndarray, recent: np.ndarray,
                 texts: Sequence[tuple[str, str, str]], *, n_recent: int, min_size: int,
                 distance: float, examples: int = 3) -> list[Cluster]:
        """Clusters of the recent window's far cases, largest first.

        Args:
            far_recent: embeddings of the recent window's far cases.
            reference: embeddings of the reference window's sample (all of it).
            recent: embeddings of the recent window's sample (all of it).
            texts: per far recent case, ``(trace_id, context, action)``.
            n_recent: size of the recent window's sample (for shares).
            min_size: smallest cluster reported.
            distance: cosine distance at which clusters stop merging.
        """
        from sklearn.cluster import AgglomerativeClustering

        if len(far_recent) < min_size:
            return []
        cap = 1500  # average linkage is quadratic: cluster a sample of the far cases at most this large
        idx = np.arange(len(far_recent))
        if len(idx) > cap:
            idx = np.sort(np.random.default_rng(0).choice(idx, cap, replace=False))
        X = far_recent[idx]
        labels = AgglomerativeClustering(n_clusters=None, distance_threshold=distance, metric="cosine",
                                         linkage="average").fit_predict(X)
        scale = len(far_recent) / len(idx)
        out = []
        for lab in np.unique(labels):
            members = idx[labels == lab]
            if len(members) * scale < min_size:
                continue
            M = far_recent[members]
            ref_sim = float(np.median((M @ reference.T).max(axis=1))) if len(reference) else 0.0
            centre = M.mean(axis=0)
            centre /= max(float(np.linalg.norm(centre)), 1e-9)
            order = members[np.argsort(-(M @ centre))]
            # the cluster's region: as close to its centre as most of its members; how much of each window lies there
            radius = float(np.quantile(M @ centre, 0.1))
            kb, ka = int(((recent @ centre) >= radius).sum()), int(((reference @ centre) >= radius).sum())
            p = float(stats.fisher_exact([[kb, len(recent) - kb], [ka, len(reference) - ka]],
                                         alternative="greater").pvalue)
            out.append(Cluster(
                size=round(len(members) * scale), share=len(members) * scale / max(n_recent, 1),
                reference_similarity=ref_sim, reference_share=ka / max(len(reference), 1),
                region_share=kb / max(len(recent), 1), p=p,
                examples=[{"trace_id": texts[i][0], "context": texts[i][1][:300], "action": texts[i][2][:300]}
                          for i in order[:examples]],
                trace_ids=[texts[i][0] for i in order[:100]]))
        return sorted(out, key=lambda c: (c.p, -c.size))
