"""``accord_drift_*`` on ``/metrics``: the proxy's (accord serve) and the review app's (accord ui), over real HTTP."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from tests.monitor.conftest import NORMAL, T0, fill

from accord.charter import load_charter
from accord.gate.gate import Gate
from accord.judges.rules import RuleJudge
from accord.monitor import DriftMonitor, register_drift_metrics
from accord.monitor.simulate import Stream
from accord.server.proxy import MemorySinks, ProxyConfig
from accord.server.proxy import create_app as proxy_app
from accord.server.proxy.testing import serve_in_thread
from accord.server.review import create_app as review_app


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture
def drifting(store, clock) -> DriftMonitor:
    s = Stream(NORMAL, seed=2, per_day=250, shift="escalates", onset=8, reviews_per_day=0, escalate_band=(0.2, 0.95))
    fill(store, clock, s, range(0, 9))
    return DriftMonitor(store, novelty=None, reference=(T0, T0 + timedelta(days=7)),
                        clock=lambda: T0 + timedelta(days=9))


def test_proxy_metrics_carry_the_drift_gauges(drifting):
    app = proxy_app(ProxyConfig(upstream="http://127.0.0.1:9/v1"), Gate(load_charter(None), judges=[RuleJudge()]),
                    sinks=MemorySinks())
    register_drift_metrics(app.state.metrics.registry, drifting)
    try:
        with serve_in_thread(app) as url:
            before = _samples(httpx.get(url + "/metrics").text)
            assert before[("accord_drift_runs_total", ())] == 0
            assert not any(k[0] == "accord_drift_alarm" for k in before)  # no report yet: no stale gauges
            drifting.run_once()
            r = httpx.get(url + "/metrics")
    finally:
        app.state.writer.close()
        app.state.guard.close()
    assert r.status_code == 200
    m = _samples(r.text)
    assert m[("accord_drift_runs_total", ())] == 1
    assert m[("accord_drift_alarm", (("kind", "decisions"),))] == 1.0
    assert m[("accord_drift_alarm", (("kind", "agreement"),))] == 0.0
    assert m[("accord_drift_decision_tvd", (("community", "(all)"),))] >= 0.03
    assert 0 < m[("accord_drift_decision_cramers_v", (("community", "(all)"),))] <= 1
    assert m[("accord_drift_decision_rate", (("community", "(all)"), ("decision", "escalate"), ("window", "recent")))] \
        > m[("accord_drift_decision_rate", (("community", "(all)"), ("decision", "escalate"), ("window", "reference")))]
    assert any(k[0] == "accord_drift_score_psi" for k in m)
    assert m[("accord_drift_last_run_timestamp_seconds", ())] > 0
    assert "accord_review_queue_size" in r.text  # the proxy's own metrics are still there


def test_review_app_serves_drift_metrics_only_with_a_monitor(store, charter, drifting):
    drifting.run_once()
    with TestClient(review_app(store, charter, secret=b"s" * 32, drift=drifting)) as c:
        r = c.get("/metrics")
        assert r.status_code == 200 and 'accord_drift_alarm{kind="decisions"} 1.0' in r.text
    with TestClient(review_app(store, charter, secret=b"s" * 32)) as c:
        assert c.get("/metrics").status_code == 404
