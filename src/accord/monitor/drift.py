"""The drift tests: a recent window against a reference window.

Four families of tests, each a well-known statistic from scipy:

* **decisions**, per community (and over all traffic): a chi-square test of the 2 × k table of
  decisions (:func:`scipy.stats.chi2_contingency`), with Cramér's V
  (:func:`scipy.stats.contingency.association`) and the total variation distance between the
  two decision mixes as effect sizes;
* **scores**, per principle: the population stability index over the reference's deciles (PSI,
  a symmetric Kullback-Leibler divergence, :func:`scipy.special.rel_entr`), the two-sample
  Kolmogorov-Smirnov test (:func:`scipy.stats.ks_2samp`) and the Wasserstein distance
  (:func:`scipy.stats.wasserstein_distance`); a principle missing from a verdict scores 0 (no
  judge found it at stake);
* **input**: the share of cases far from the training set (:mod:`accord.monitor.novelty`),
  Fisher's exact test (one-sided: more far cases) and new clusters of far cases;
* **agreement**: the share of reviews that agree with the judge's leaning, Fisher's exact test
  (one-sided: less agreement).

Every p-value of one run goes through one Benjamini-Hochberg correction
(:func:`scipy.stats.false_discovery_control`). When nothing has drifted (every null hypothesis
true) the false discovery rate *is* the chance of any false alarm, so a quiet stream raises an
alarm in at most ``alpha`` of runs, however many principles and communities are tested; the
effect floors of :class:`MonitorConfig` keep it quieter still.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from scipy import stats
from scipy.special import rel_entr
from scipy.stats.contingency import association

from accord.monitor.config import MonitorConfig
from accord.monitor.novelty import Cluster, NoveltyModel
from accord.monitor.windows import ALL, Window

__all__ = ["KINDS", "AgreementDrift", "Alarm", "DecisionShift", "DriftReport", "InputDrift", "ScoreDrift",
           "compare", "psi"]

DECISIONS = ("allow", "revise", "block", "escalate")
#: the alarm kinds, one per family of tests
KINDS = ("decisions", "scores", "input", "agreement")
_FIXED_EDGES = np.array([0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9])


def psi(reference: np.ndarray, recent: np.ndarray, *, bins: int = 10, eps: float = 1e-4) -> float:
    """Population stability index of ``recent`` against ``reference``.

    Bins are the reference's deciles together with fixed cut points for scores in [0, 1] (so a
    reference piled up at 0 still has bins above it); empty bins count as ``eps``.
    """
    edges = np.unique(np.concatenate([np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]), _FIXED_EDGES]))
    a = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1) / max(len(reference), 1)
    b = np.bincount(np.searchsorted(edges, recent, side="right"), minlength=len(edges) + 1) / max(len(recent), 1)
    a, b = np.clip(a, eps, None), np.clip(b, eps, None)
    return float(np.sum(rel_entr(b, a) + rel_entr(a, b)))


@dataclass
class DecisionShift:
    """The decision mix of one community, reference against recent."""

    community: str
    reference_n: int
    recent_n: int
    reference_rates: dict[str, float]
    recent_rates: dict[str, float]
    chi2: float | None = None
    p: float | None = None
    p_adjusted: float | None = None
    cramers_v: float | None = None
    tvd: float | None = None
    alarm: bool = False
    note: str = ""


@dataclass
class ScoreDrift:
    """One principle's score distribution, reference against recent."""

    principle: str
    reference_mean: float
    recent_mean: float
    psi: float
    ks: float
    wasserstein: float
    p: float
    p_adjusted: float | None = None
    alarm: bool = False


@dataclass
class InputDrift:
    """Cases far from the training set: their share in each window, and new clusters."""

    threshold: float
    training: str
    reference_n: int
    recent_n: int
    reference_far: float
    recent_far: float
    p: float
    p_adjusted: float | None = None
    alarm: bool = False
    clusters: list[Cluster] = field(default_factory=list)

    @property
    def new_clusters(self) -> list[Cluster]:
        return [c for c in self.clusters if c.new]


@dataclass
class AgreementDrift:
    """The share of reviews that agree with the judge's leaning, in each window."""

    reference_n: int
    recent_n: int
    reference: float | None
    recent: float | None
    p: float | None = None
    p_adjusted: float | None = None
    alarm: bool = False
    note: str = ""


@dataclass(frozen=True)
class Alarm:
    """One alarm: its kind (:data:`KINDS`), what it is about and a sentence for a person."""

    kind: str
    subject: str
    message: str


@dataclass
class DriftReport:
    """Everything one monitor run found."""

    reference: Window
    recent: Window
    reference_how: str
    config: MonitorConfig
    decisions: list[DecisionShift]
    scores: list[ScoreDrift]
    input: InputDrift | None
    agreement: AgreementDrift | None
    alarms: list[Alarm]
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    notes: list[str] = field(default_factory=list)

    def firing(self, kind: str) -> bool:
        """Whether any alarm of ``kind`` fires."""
        return any(a.kind == kind for a in self.alarms)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the ``--json`` output and the webhook's body)."""
        def window(w: Window) -> dict[str, Any]:
            return {"start": w.start.isoformat(), "end": w.end.isoformat(), "decisions": w.decisions,
                    "sampled": len(w.sample), "reviews": len(w.agreement)}

        inp = None
        if self.input is not None:
            inp = {k: v for k, v in asdict(self.input).items() if k != "clusters"}
            inp["clusters"] = [c.as_dict() for c in self.input.clusters]
        return {
            "schema_version": 1,
            "created_at": self.created_at.isoformat(),
            "reference": {**window(self.reference), "how": self.reference_how},
            "recent": window(self.recent),
            "alpha": self.config.alpha,
            "alarms": [asdict(a) for a in self.alarms],
            "decisions": [asdict(d) for d in self.decisions],
            "scores": [asdict(s) for s in self.scores],
            "input": inp,
            "agreement": None if self.agreement is None else asdict(self.agreement),
            "notes": self.notes,
        }


def _rates(row: dict[str, int]) -> dict[str, float]:
    n = sum(row.values())
    return {d: (row.get(d, 0) / n if n else 0.0) for d in DECISIONS}


def _decision_tests(ref: Window, rec: Window, cfg: MonitorConfig) -> list[DecisionShift]:
    groups = [ALL, *sorted(g for g in set(ref.counts) | set(rec.counts) if g != ALL)]
    out = []
    for g in groups:
        a, b = ref.counts.get(g, {}), rec.counts.get(g, {})
        na, nb = sum(a.values()), sum(b.values())
        d = DecisionShift(g, na, nb, _rates(a), _rates(b))
        if na < cfg.min_decisions or nb < cfg.min_decisions:
            d.note = f"too few decisions (fewer than {cfg.min_decisions} in a window)"
            out.append(d)
            continue
        cols = [k for k in DECISIONS if a.get(k, 0) + b.get(k, 0) > 0]
        d.tvd = 0.5 * sum(abs(d.reference_rates[k] - d.recent_rates[k]) for k in DECISIONS)
        if len(cols) < 2:
            d.chi2, d.p, d.cramers_v = 0.0, 1.0, 0.0
        else:
            table = np.array([[a.get(k, 0) for k in cols], [b.get(k, 0) for k in cols]])
            res = stats.chi2_contingency(table, correction=False)
            d.chi2, d.p = float(res.statistic), float(res.pvalue)
            d.cramers_v = float(association(table, method="cramer", correction=False))
        out.append(d)
    return out


def _score_tests(ref: Window, rec: Window, cfg: MonitorConfig) -> list[ScoreDrift]:
    if len(ref.sample) < cfg.min_decisions or len(rec.sample) < cfg.min_decisions:
        return []
    principles = sorted({p for c in ref.sample for p in c.scores} | {p for c in rec.sample for p in c.scores})
    out = []
    for p in principles:
        a = np.array([c.scores.get(p, 0.0) for c in ref.sample])
        b = np.array([c.scores.get(p, 0.0) for c in rec.sample])
        ks = stats.ks_2samp(a, b, method="asymp")
        out.append(ScoreDrift(p, float(a.mean()), float(b.mean()), psi(a, b), float(ks.statistic),
                              float(stats.wasserstein_distance(a, b)), float(ks.pvalue)))
    return out


def _input_test(ref: Window, rec: Window, cfg: MonitorConfig, novelty: NoveltyModel) -> InputDrift | None:
    if len(ref.sample) < cfg.min_decisions or len(rec.sample) < cfg.min_decisions:
        return None
    Xa, sa = novelty.embed([c.as_case() for c in ref.sample])
    Xb, sb = novelty.embed([c.as_case() for c in rec.sample])
    fa, fb = sa < novelty.threshold, sb < novelty.threshold
    ka, kb = int(fa.sum()), int(fb.sum())
    res = stats.fisher_exact([[kb, len(fb) - kb], [ka, len(fa) - ka]], alternative="greater")
    far_cases = [rec.sample[i] for i in np.flatnonzero(fb)]
    clusters = novelty.clusters(Xb[fb], Xa, Xb, [(c.trace_id, c.context, c.action) for c in far_cases],
                                n_recent=len(fb), min_size=cfg.min_cluster, distance=cfg.cluster_distance)
    return InputDrift(novelty.threshold, novelty.name, len(fa), len(fb), ka / len(fa), kb / len(fb),
                      float(res.pvalue), clusters=clusters)


def _agreement_test(ref: Window, rec: Window, cfg: MonitorConfig) -> AgreementDrift:
    na, nb = len(ref.agreement), len(rec.agreement)
    ka, kb = sum(ref.agreement), sum(rec.agreement)
    d = AgreementDrift(na, nb, ka / na if na else None, kb / nb if nb else None)
    if na < cfg.min_reviews or nb < cfg.min_reviews:
        d.note = f"too few reviews (fewer than {cfg.min_reviews} in a window)"
        return d
    d.p = float(stats.fisher_exact([[kb, nb - kb], [ka, na - ka]], alternative="less").pvalue)
    return d


def compare(reference: Window, recent: Window, config: MonitorConfig | None = None, *,
            novelty: NoveltyModel | None = None, reference_how: str = "") -> DriftReport:
    """Run every drift test of ``recent`` against ``reference`` and decide the alarms.

    Args:
        reference: the window taken as normal.
        recent: the window to check.
        config: thresholds (default :class:`MonitorConfig`).
        novelty: the training-set distance; ``None`` skips the input tests.
        reference_how: how the reference window was chosen (for the report).
    """
    cfg = config or MonitorConfig()
    decisions = _decision_tests(reference, recent, cfg)
    scores = _score_tests(reference, recent, cfg)
    inp = _input_test(reference, recent, cfg, novelty) if novelty is not None else None
    agree = _agreement_test(reference, recent, cfg)

    tested: list[Any] = [d for d in decisions if d.p is not None] + scores + ([inp] if inp else []) \
        + ([agree] if agree.p is not None else []) + (inp.clusters if inp else [])
    if tested:
        adjusted = stats.false_discovery_control(np.array([t.p for t in tested]), method="bh")
        for t, q in zip(tested, adjusted, strict=True):
            t.p_adjusted = float(q)

    alarms: list[Alarm] = []
    for d in decisions:
        if d.p_adjusted is not None and d.p_adjusted < cfg.alpha and (d.tvd or 0) >= cfg.min_tvd:
            d.alarm = True
            moved = max(DECISIONS, key=lambda k: abs(d.recent_rates[k] - d.reference_rates[k]))
            alarms.append(Alarm("decisions", d.community,
                                f"decisions of {d.community} shifted: {moved} {d.reference_rates[moved]:.1%} → "
                                f"{d.recent_rates[moved]:.1%} (TVD {d.tvd:.3f}, Cramér's V {d.cramers_v:.3f}, "
                                f"p={d.p_adjusted:.2g})"))
    for s in scores:
        if s.p_adjusted is not None and s.p_adjusted < cfg.alpha and s.psi >= cfg.min_psi:
            s.alarm = True
            alarms.append(Alarm("scores", s.principle,
                                f"scores of {s.principle} drifted: mean {s.reference_mean:.3f} → {s.recent_mean:.3f} "
                                f"(PSI {s.psi:.3f}, KS {s.ks:.3f}, p={s.p_adjusted:.2g})"))
    if inp is not None:
        for c in inp.clusters:
            c.new = c.p_adjusted is not None and c.p_adjusted < cfg.alpha
        new = inp.new_clusters
        if inp.p_adjusted is not None and inp.p_adjusted < cfg.alpha \
                and inp.recent_far - inp.reference_far >= cfg.min_far_increase:
            inp.alarm = True
            alarms.append(Alarm("input", "far from training",
                                f"cases far from the training set: {inp.reference_far:.1%} → {inp.recent_far:.1%} "
                                f"(p={inp.p_adjusted:.2g}); {len(new)} new cluster(s)"))
        elif new:
            inp.alarm = True
            c = new[0]
            alarms.append(Alarm("input", "new cluster",
                                f"{len(new)} new cluster(s) of cases far from the training set; the largest holds "
                                f"{c.region_share:.1%} of recent cases against {c.reference_share:.1%} before "
                                f"(p={c.p_adjusted:.2g}), e.g. {c.examples[0]['context'][:80]!r}"))
    if agree.p_adjusted is not None and agree.p_adjusted < cfg.alpha and agree.reference is not None \
            and agree.recent is not None and agree.reference - agree.recent >= cfg.min_agreement_drop:
        agree.alarm = True
        alarms.append(Alarm("agreement", "judge vs reviewers",
                            f"reviewers agree with the judge less: {agree.reference:.1%} → {agree.recent:.1%} "
                            f"(p={agree.p_adjusted:.2g})"))
    return DriftReport(reference, recent, reference_how, cfg, decisions, scores, inp, agree, alarms)
