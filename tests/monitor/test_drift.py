"""The drift tests on simulated windows (pure core, no store): each shift raises its alarm, the control none."""

from __future__ import annotations

import numpy as np
import pytest
from tests.monitor.conftest import NORMAL, T0

from accord.monitor import MonitorConfig, Window, compare, psi
from accord.monitor.simulate import Stream


def _window(stream: Stream, days: range) -> Window:
    return stream.window(days, T0, max_sample=5000)


def test_psi_is_zero_for_the_same_distribution_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.beta(1, 8, 5000)
    assert psi(a, a) == pytest.approx(0.0, abs=1e-9)
    assert psi(a, rng.beta(1, 8, 5000)) < 0.02
    assert psi(a, rng.beta(2, 6, 5000)) > 0.25


@pytest.mark.parametrize("seed", [0, 1])
def test_control_stream_raises_no_alarm(seed):
    s = Stream(NORMAL, seed=seed, per_day=1000)
    ref = _window(s, range(0, 7))
    for d in (7, 8, 9):
        r = compare(ref, _window(s, range(d, d + 1)))
        assert r.alarms == [], [a.message for a in r.alarms]
        assert all(x.p_adjusted is not None for x in r.decisions if not x.note)


@pytest.mark.parametrize(("shift", "kind"), [("escalates", "decisions"), ("creep", "scores"), ("reviewers", "agreement")])
def test_each_shift_raises_its_alarm_in_the_first_window(shift, kind):
    s = Stream(NORMAL, seed=3, per_day=1500, shift=shift, onset=7)
    ref = _window(s, range(0, 7))
    before = compare(ref, _window(s, range(6, 7)))  # a day inside the reference: nothing to see
    assert not before.firing(kind)
    r = compare(ref, _window(s, range(7, 8)))
    assert r.firing(kind), r.as_dict()["alarms"]
    if shift == "escalates":
        d = next(x for x in r.decisions if x.community == "(all)")
        assert d.recent_rates["escalate"] > d.reference_rates["escalate"]
        assert d.cramers_v is not None and d.cramers_v > 0 and d.tvd >= 0.03
    if shift == "creep":
        assert [x.principle for x in r.scores if x.alarm] == ["privacy"]
    if shift == "reviewers":
        assert r.agreement is not None and r.agreement.recent < r.agreement.reference


def test_too_few_decisions_is_reported_not_alarmed():
    s = Stream(NORMAL, seed=0, per_day=30, shift="escalates", onset=1, reviews_per_day=5)
    ref, rec = _window(s, range(0, 1)), _window(s, range(1, 2))
    r = compare(ref, rec, MonitorConfig(min_decisions=50))
    assert r.alarms == []
    assert all("too few" in d.note for d in r.decisions)
    assert r.scores == []
    assert "too few" in r.agreement.note


def test_report_is_json_ready():
    import json

    s = Stream(NORMAL, seed=0, per_day=300, shift="escalates", onset=1)
    r = compare(_window(s, range(0, 1)), _window(s, range(1, 2)))
    d = json.loads(json.dumps(r.as_dict()))
    assert d["schema_version"] == 1 and {"reference", "recent", "alarms", "decisions", "scores"} <= set(d)
    assert d["recent"]["decisions"] == r.recent.decisions


def test_config_rejects_unknown_keys_and_bad_values():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        MonitorConfig(alpah=0.01)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        MonitorConfig(alpha=2)


def test_public_names():
    import accord.monitor as m

    assert set(m.__all__) == {
        "KINDS", "AgreementDrift", "Alarm", "Cluster", "DecisionShift", "DriftCollector", "DriftMonitor",
        "DriftReport", "InputDrift", "MonitorConfig", "NoveltyModel", "SampledCase", "ScoreDrift", "Window",
        "compare", "default_reference", "post_webhook", "psi", "queue_cluster", "read_window",
        "register_drift_metrics", "run_monitor"}
    assert all(getattr(m, n).__doc__ for n in m.__all__ if n != "KINDS")
