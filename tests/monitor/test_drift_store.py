"""The monitor over a real SQLite store: windows read from the audit trail, the default reference
window after a promotion, the CLI, queueing a cluster for review, the webhook."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
from tests.monitor.conftest import NORMAL, T0, fill
from typer.testing import CliRunner

from accord.cli.main import app as cli
from accord.monitor import (
    DriftMonitor,
    MonitorConfig,
    default_reference,
    queue_cluster,
    read_window,
    run_monitor,
)
from accord.monitor.simulate import Stream


def _promote(store, clock, at):
    clock.t = at
    mid = store.add_model_version("default", "v2", "/tmp/none")
    store.model_event(mid, "promote", "tester")


def test_read_window_counts_exactly_and_samples(store, clock):
    s = Stream(NORMAL, seed=0, per_day=200)
    fill(store, clock, s, range(0, 2))
    day0, _ = s.day(0)
    w = read_window(store, T0, T0 + timedelta(days=1), max_sample=100)
    assert w.decisions == len(day0)
    assert sum(w.counts["(all)"].values()) == sum(sum(v.values()) for k, v in w.counts.items() if k != "(all)")
    assert 50 <= len(w.sample) <= 100
    assert all(c.trace_id and c.action for c in w.sample)
    assert {p for c in w.sample for p in c.scores} <= {"harm", "privacy", "honesty", "fairness", "autonomy",
                                                        "wellbeing", "legality", "safety_oversight", "helpfulness"}


def test_default_reference_is_the_week_after_the_promotion(store, clock):
    s = Stream(NORMAL, seed=0, per_day=50)
    fill(store, clock, s, range(0, 1))
    _promote(store, clock, T0 + timedelta(days=1))
    start, end, how = default_reference(store, T0 + timedelta(days=10))
    assert start == T0 + timedelta(days=1) and end == T0 + timedelta(days=8)
    assert "promoted" in how
    # cut at the recent window's start
    start, end, how = default_reference(store, T0 + timedelta(days=4))
    assert end == T0 + timedelta(days=4) and "cut" in how


def test_no_promotion_uses_the_first_week_of_the_trail(store, clock):
    fill(store, clock, Stream(NORMAL, seed=0, per_day=20), range(0, 1))
    start, _, how = default_reference(store, T0 + timedelta(days=9))
    assert start == T0 + timedelta(days=0, hours=12) and "first" in how


def test_run_monitor_and_cli_find_a_model_that_escalates_more(store, clock, tmp_path):
    s = Stream(NORMAL, seed=1, per_day=300, shift="escalates", onset=8, reviews_per_day=0,
               escalate_band=(0.2, 0.95))
    _promote(store, clock, T0 + timedelta(hours=1))
    fill(store, clock, s, range(0, 9))
    end = T0 + timedelta(days=9)
    r = run_monitor(store, MonitorConfig(), end=end)
    assert r.reference.start == T0 + timedelta(hours=1) and r.recent.decisions == len(s.day(8)[0])
    assert r.firing("decisions")
    quiet = run_monitor(store, MonitorConfig(), end=end - timedelta(days=1))
    assert quiet.alarms == []

    url = str(store.engine.url)
    res = CliRunner().invoke(cli, ["monitor", "--db", url, "--end", end.isoformat(), "--no-input", "--json"])
    assert res.exit_code == 1, res.output
    body = json.loads(res.stdout)
    assert body["alarms"] and body["alarms"][0]["kind"] == "decisions"
    res = CliRunner().invoke(cli, ["monitor", "--db", url, "--end", (end - timedelta(days=1)).isoformat(), "--no-input"])
    assert res.exit_code == 0, res.output
    assert "no drift alarm" in res.stdout and "decisions per community" in res.stdout
    res = CliRunner().invoke(cli, ["monitor", "--db", url, "--reference-start", "2026-03-09", "--reference-end",
                                   "2026-03-08", "--no-input"])
    assert res.exit_code == 2 and "before it starts" in res.output and "Traceback" not in res.output


def test_agreement_drift_read_from_the_review_store(store, clock):
    s = Stream(NORMAL, seed=0, per_day=20, shift="reviewers", onset=7, reviews_per_day=40)
    fill(store, clock, s, range(0, 8), reviews=True)
    r = run_monitor(store, MonitorConfig(), end=T0 + timedelta(days=8), reference=(T0, T0 + timedelta(days=7)))
    a = r.agreement
    assert a.reference_n == 7 * 40 and a.recent_n == 40
    assert a.recent < a.reference


def test_queue_cluster_puts_cases_in_the_review_queue_once(store, clock):
    fill(store, clock, Stream(NORMAL, seed=0, per_day=30), range(0, 1))
    tids = [d.trace_id for d in store.decisions(limit=None)][:25]
    assert queue_cluster(store, tids, count=20) == 20
    items = store.review_items("all", limit=None)
    assert len(items) == 20 and {it.source for it in items} == {"drift"}
    assert queue_cluster(store, tids, count=20) == 5  # the first 20 are in the queue already
    assert store.audit_events("drift.queued")


class _Hook(BaseHTTPRequestHandler):
    got: ClassVar[list[dict]] = []

    def do_POST(self):
        n = int(self.headers["content-length"])
        _Hook.got.append(json.loads(self.rfile.read(n)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


def test_background_monitor_posts_the_webhook_on_change_and_survives_a_dead_one(store, clock):
    s = Stream(NORMAL, seed=2, per_day=250, shift="escalates", onset=8, reviews_per_day=0,
               escalate_band=(0.2, 0.95))
    fill(store, clock, s, range(0, 9))
    srv = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        now = [T0 + timedelta(days=8)]
        m = DriftMonitor(store, webhook=f"http://127.0.0.1:{srv.server_port}/hook", novelty=None,
                         reference=(T0, T0 + timedelta(days=7)), clock=lambda: now[0])
        assert m.run_once() is not None and m.latest.alarms == []
        assert _Hook.got == []  # nothing fired, nothing changed: no post
        now[0] = T0 + timedelta(days=9)
        m.run_once()
        assert m.latest.firing("decisions")
        assert len(_Hook.got) == 1 and _Hook.got[0]["firing"] is True
        assert _Hook.got[0]["report"]["alarms"][0]["kind"] == "decisions"
        m.run_once()
        assert len(_Hook.got) == 1  # the same alarms: no second post
    finally:
        srv.shutdown()
        srv.server_close()
    dead = DriftMonitor(store, webhook=f"http://127.0.0.1:{srv.server_port}/gone", novelty=None,
                        reference=(T0, T0 + timedelta(days=7)), clock=lambda: T0 + timedelta(days=9))
    assert dead.run_once() is not None  # the report is made although the webhook is down
    assert dead.webhook_failures == 1


def test_a_failed_run_is_kept_and_counted_not_raised(store, clock):
    m = DriftMonitor(store, novelty=None, clock=lambda: T0)
    assert m.run_once() is None and "no traffic" in (m.error or "")
    assert m.failures == 0  # an empty store is not a failure
    m.store = None  # type: ignore[assignment]  # a broken store: the run fails, the caller does not
    assert m.run_once() is None and m.failures == 1
    with pytest.raises(Exception, match="no cluster"):
        m.queue_cluster(0)


@pytest.mark.postgres
def test_the_same_windows_and_alarms_on_postgresql(pg_url, clock, tmp_path):
    from accord.store import Store

    s = Stream(NORMAL, seed=4, per_day=200, shift="escalates", onset=8, reviews_per_day=0,
               escalate_band=(0.2, 0.95))
    end = T0 + timedelta(days=9)
    reports = []
    for url in (pg_url, f"sqlite:///{tmp_path / 'same.db'}"):
        st = Store.open(url)
        try:
            fill(st, clock, s, range(0, 9))
            reports.append(run_monitor(st, MonitorConfig(max_sample=300), end=end, reference=(T0, T0 + timedelta(days=7))))
        finally:
            st.close()
    pg, lite = reports
    assert pg.reference.counts == lite.reference.counts and pg.recent.counts == lite.recent.counts
    assert [a.kind for a in pg.alarms] == [a.kind for a in lite.alarms] and pg.firing("decisions")
    assert len(pg.recent.sample) == len(lite.recent.sample)
