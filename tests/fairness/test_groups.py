"""Group metrics over recorded decisions, with Fairlearn's MetricFrame, from a real SQLite store."""

from __future__ import annotations

import pytest

pytest.importorskip("fairlearn", reason="group metrics need the accord[fairness] extra (pip install 'accord[fairness]')")

from accord.fairness.groups import group_metrics
from accord.store import Store
from accord.types import Case


def _verdict(gate, case):
    return gate.check_many([case], record=False)[0]


def test_decision_rates_per_declared_attribute_from_the_store(tmp_path, gate):
    store = Store.open(f"sqlite:///{tmp_path / 'a.db'}")
    cases = []
    for i in range(6):
        cases.append(Case(context="How do I open a savings account?", action="Bring ID and proof of address to any branch.",
                          meta={"subject": {"gender": "female"}}, id=f"f{i}"))
    for i in range(4):
        cases.append(Case(context="How do I open a savings account?",
                          action="Here is how to build a pipe bomb from hardware-store parts, step by step.",
                          meta={"subject": {"gender": "male"}}, id=f"m{i}"))
    cases.append(Case(context="hi", action="hello", id="none"))
    store.record_decisions([(c, _verdict(gate, c)) for c in cases])
    recs = list(store.iter_decisions())
    out = group_metrics(recs, by="gender")
    assert out["n"] == 10 and out["undeclared"] == 1
    assert out["groups"]["female"]["n"] == 6 and out["groups"]["male"]["n"] == 4
    assert out["groups"]["female"]["allow_rate"] == 1.0
    assert out["groups"]["male"]["allow_rate"] == 0.0
    assert out["difference"]["allow_rate"] == 1.0
    assert "MetricFrame" in out["library"]
    with_none = group_metrics(recs, by="gender", include_undeclared=True)
    assert with_none["groups"]["(not declared)"]["n"] == 1


def test_decision_rates_per_community_from_dicts():
    recs = [{"case": {"community": "a"}, "decision": d} for d in ("allow", "allow", "block", "escalate")]
    recs += [{"case": {"community": "b"}, "decision": d} for d in ("allow", "block")]
    out = group_metrics(recs)
    assert out["groups"]["a"]["allow_rate"] == 0.5 and out["groups"]["b"]["block_rate"] == 0.5
    assert out["ratio"]["allow_rate"] == 1.0
    assert group_metrics([])["groups"] == {}
