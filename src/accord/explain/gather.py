"""Every verdict's explanation for a batch, in one call: precedents, occlusion evidence, words.

The gate hands over what it decided and how (the cases, each case's scores and judge errors, the
policy's outcomes, its decision function as a value, and the judges that can explain themselves);
this module asks those judges for precedents and evidence and writes the explanations with
:func:`~accord.explain.build.build_explanation`. Explanations never decide anything: a judge that
fails to explain, or an explanation that fails to build, leaves the verdict as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from accord.charter.model import Charter
from accord.explain.build import DecideFn, OutcomeLike, build_explanation
from accord.explain.sources import Explainer
from accord.types import Case, Evidence, Explanation, Precedent, Score

Explained = tuple[Explanation, dict[str, list[Evidence]]]


def explain_many(charter: Charter, cases: Sequence[Case], scores: Sequence[list[Score]], errors: Sequence[list[str]],
                 outcomes: Sequence[OutcomeLike], *, decide: DecideFn, precedents: Sequence[list[Precedent]],
                 explainers: Mapping[str, Explainer]) -> list[Explained]:
    """Per case, the explanation and the occlusion evidence per principle.

    ``precedents`` come from :func:`precedents_many` (gathered while the policy decides);
    ``explainers`` are the judges, by name, that compute occlusion evidence for their own scores.
    """
    occlusions = occlusions_many(cases, scores, errors, outcomes, explainers)
    out: list[Explained] = []
    for case, s, err, outcome, prec, occ in zip(cases, scores, errors, outcomes, precedents, occlusions, strict=True):
        try:
            out.append(build_explanation(charter, case, s, outcome, decide=decide, occlusion=occ, precedents=prec,
                                         errors=err, community=case.community))
        except Exception as e:  # an explanation failure must not turn into an allow or a crash
            out.append((Explanation(summary=f"{outcome.decision}: explanation unavailable ({type(e).__name__}: {e})"),
                        {}))
    return out


def precedents_many(model: Explainer | None, cases: Sequence[Case], k: int) -> list[list[Precedent]]:
    """Up to ``k`` precedents per case from ``model`` (none without one, or when it fails)."""
    if model is None or not k or not cases:
        return [[] for _ in cases]
    try:
        return model.precedents_many(cases, k=k)
    except Exception:  # precedents are explanation, never a reason to fail a verdict
        return [[] for _ in cases]


def occlusions_many(cases: Sequence[Case], scores: Sequence[list[Score]], errors: Sequence[list[str]],
                    outcomes: Sequence[OutcomeLike], explainers: Mapping[str, Explainer],
                    ) -> list[list[tuple[Evidence, float]]]:
    """Occlusion evidence for the decisive learned principle of every case that was not allowed.

    Computed by the judge whose score the verdict shows for that principle: the gate's own value
    model, or a later cascade stage (the stronger tier) that replaced its score. Evidence (and the
    counterfactual built from it) must explain the score shown, never another judge's.
    """
    out: list[list[tuple[Evidence, float]]] = [[] for _ in cases]
    todo: dict[str, list[tuple[int, str]]] = {}
    for i, (s, err, o) in enumerate(zip(scores, errors, outcomes, strict=True)):
        if o.decision == "allow" or not o.decisive or o.rule is not None or err:
            continue
        pid = o.decisive[0]
        source = next((x.source for x in s if x.principle == pid and x.decision is None), None)
        if source is not None and source in explainers:
            todo.setdefault(source, []).append((i, pid))
    for source, items in todo.items():
        try:
            found = explainers[source].occlusion_many([(cases[i], pid) for i, pid in items])
        except Exception:  # evidence is explanation, never a reason to fail a verdict
            continue
        for (i, _), f in zip(items, found, strict=True):
            out[i] = f
    return out
