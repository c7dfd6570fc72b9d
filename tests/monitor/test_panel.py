"""The drift panel on the review app's dashboard, without a browser: who sees it, what it says, the queue button."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from tests.monitor.conftest import NORMAL, T0, fill

from accord.monitor import DriftMonitor
from accord.monitor.simulate import Stream
from accord.review import Users
from accord.server.review import create_app

PASSWORD = "correct horse"


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m
    return m.group(1)


def _login(c: TestClient, name: str) -> None:
    r = c.get("/login")
    r = c.post("/login", data={"username": name, "password": PASSWORD, "csrf": _csrf(r.text), "next": "/admin"},
               follow_redirects=False)
    assert r.status_code == 303


def test_dashboard_drift_panel(store, clock, charter):
    Users(store).add("root", PASSWORD, role="admin")
    Users(store).add("ana", PASSWORD, role="reviewer")
    fill(store, clock, Stream(NORMAL, seed=2, per_day=250, shift="escalates", onset=8, reviews_per_day=0,
                              escalate_band=(0.2, 0.95)), range(0, 9))
    m = DriftMonitor(store, novelty=None, reference=(T0, T0 + timedelta(days=7)), clock=lambda: T0 + timedelta(days=9))
    app = create_app(store, charter, secret=b"s" * 32, drift=m)
    with TestClient(app) as c:
        _login(c, "root")
        page = c.get("/admin").text
        assert 'id="drift"' in page and "has not finished yet" in page  # before the first run
        m.run_once()
        page = c.get("/admin").text
        assert "decisions of (all) shifted: escalate" in page
        for cid in ("chart-drift-mix", "chart-drift-psi", "chart-drift-far", "chart-drift-escalation"):
            assert f'id="{cid}"' in page
        assert "No cluster of far cases" in page  # no input tests in this monitor
        r = c.post("/admin/drift/clusters/0/queue", data={"csrf": _csrf(page)})
        assert r.status_code == 400 and "no cluster 0" in r.text
        assert c.post("/admin/drift/clusters/0/queue", data={}).status_code == 403  # no CSRF token
    with TestClient(app) as c:
        _login(c, "ana")
        assert c.post("/admin/drift/clusters/0/queue", data={"csrf": _csrf(c.get("/queue").text)}).status_code == 403
    with TestClient(create_app(store, charter, secret=b"s" * 32)) as c:
        _login(c, "root")
        assert 'id="drift"' not in c.get("/admin").text
