"""Group metrics over recorded decisions: does the gate decide differently for different groups?

Computed with Fairlearn's :class:`~fairlearn.metrics.MetricFrame` (the ``accord[fairness]`` extra),
over what the audit store already holds: per community (``Case.community``) or per *declared
attribute* of the person a case is about, which a caller records in the case's ``meta``:

.. code-block:: python

    gate.check(context=..., action=..., meta={"subject": {"gender": "female", "age_band": "60+"}})

``group_metrics(store.iter_decisions(), by="gender")`` then gives, per gender value, how many
decisions there were and the rate of each decision, with the largest difference and the smallest
ratio between groups (Fairlearn's ``difference()`` and ``ratio()``). A group metric shows a
disparity; it does not say whether the cases in the groups were alike (see ``docs/fairness.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from accord.errors import InputError

DECISIONS = ("allow", "revise", "escalate", "block")
NO_GROUP = "(not declared)"


def declared_value(case: Mapping[str, Any], by: str) -> str | None:
    """The group a recorded case belongs to: its ``community`` for ``by="community"``, else
    ``meta.subject[by]`` (or ``meta.attributes[by]``) as declared when the case was checked."""
    if by == "community":
        v = case.get("community")
        return None if v is None else str(v)
    meta = case.get("meta") or {}
    for key in ("subject", "attributes"):
        d = meta.get(key)
        if isinstance(d, Mapping) and d.get(by) is not None:
            return str(d[by])
    return None


def _as_pair(rec: Any) -> tuple[Mapping[str, Any], str]:
    if isinstance(rec, Mapping):  # a dict: {"case": {...}, "decision": "..."} or a flat case with "decision"
        inner = rec.get("case")
        case: Mapping[str, Any] = inner if isinstance(inner, Mapping) else rec
        return case, str(rec["decision"])
    return rec.case_json, rec.decision  # a DecisionRecord from the store


def group_metrics(records: Iterable[Any], by: str = "community", *, include_undeclared: bool = False) -> dict[str, Any]:
    """Decision rates per group, with Fairlearn's MetricFrame.

    Args:
        records: recorded decisions: :class:`accord.store.DecisionRecord` objects (``store.iter_decisions()``),
            or dicts ``{"case": {...}, "decision": "allow"}``.
        by: ``"community"``, or the name of a declared attribute in ``meta.subject`` (``"gender"``, ``"age_band"``...).
        include_undeclared: count the records that declare no value as a group of their own, ``"(not declared)"``.

    Returns:
        ``{"by", "n", "undeclared", "groups": {value: {"n", "allow_rate", "revise_rate", "escalate_rate",
        "block_rate"}}, "difference": {rate: max - min}, "ratio": {rate: min / max}, "library"}``; with fewer than
        one group ``groups`` is empty and ``difference``/``ratio`` are ``{}``.

    Raises:
        InputError: Fairlearn is not installed (``pip install 'accord[fairness]'``).
    """
    try:
        import fairlearn
        import numpy as np
        from fairlearn.metrics import MetricFrame, count, selection_rate
    except ImportError:
        raise InputError("group metrics need Fairlearn", hint="pip install 'accord[fairness]'") from None
    groups: list[str] = []
    decisions: list[str] = []
    undeclared = 0
    for rec in records:
        case, decision = _as_pair(rec)
        g = declared_value(case, by)
        if g is None:
            undeclared += 1
            if not include_undeclared:
                continue
            g = NO_GROUP
        groups.append(g)
        decisions.append(decision)
    out: dict[str, Any] = {"by": by, "n": len(decisions), "undeclared": undeclared, "groups": {}, "difference": {},
                           "ratio": {}, "library": f"fairlearn {fairlearn.__version__} MetricFrame"}
    if not decisions:
        return out
    y = np.asarray(decisions, dtype=object)
    def rate(decision: str) -> Any:
        return lambda yt, yp: selection_rate(yt, yp, pos_label=decision)

    metrics: dict[str, Any] = {"n": count, **{f"{d}_rate": rate(d) for d in DECISIONS}}
    frame = MetricFrame(metrics=metrics, y_true=y, y_pred=y, sensitive_features=np.asarray(groups, dtype=object))
    table = frame.by_group
    for g, row in table.iterrows():
        out["groups"][str(g)] = {k: (int(row[k]) if k == "n" else round(float(row[k]), 4)) for k in metrics}
    if len(out["groups"]) > 1:
        diff, ratio = frame.difference(), frame.ratio()
        for k in metrics:
            if k != "n":
                out["difference"][k] = round(float(diff[k]), 4)
                r = float(ratio[k])
                out["ratio"][k] = None if r != r else round(r, 4)  # NaN when no group has the decision
    return out
