"""The drift panel in a real browser (Debian's chromium via Playwright): charts drawn, alarm shown,
"label 20 examples" of a new cluster puts them in the review queue. Screenshots under tmp_path
(``ACCORD_UPDATE_DOCS_SCREENSHOT=1`` also copies the panel to ``docs/drift-panel.png``).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from tests.browser import launch, playwright_or_skip
from tests.monitor.conftest import NORMAL, T0, fill
from tests.monitor.novel import CHORDS

from accord.monitor import DriftMonitor, NoveltyModel
from accord.monitor.simulate import Stream
from accord.review import Users
from accord.server.proxy.testing import free_port
from accord.server.review import create_app

pytestmark = pytest.mark.browser

PASSWORD = "correct horse"
DOCS = Path(__file__).resolve().parents[2] / "docs"

sync_api = playwright_or_skip()


@pytest.fixture
def served(store, clock, charter):
    import uvicorn

    Users(store).add("root", PASSWORD, role="admin")
    s = Stream(NORMAL, CHORDS, seed=0, per_day=250, shift="new-type", onset=7, novel_share=0.2,
               reviews_per_day=0)
    fill(store, clock, s, range(0, 8))
    monitor = DriftMonitor(store, novelty=NoveltyModel.packaged(), reference=(T0, T0 + timedelta(days=7)),
                           clock=lambda: T0 + timedelta(days=8))
    assert monitor.run_once() is not None
    app = create_app(store, charter, secret=b"s" * 32, drift=monitor)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}", monitor
    server.should_exit = True
    thread.join(timeout=10)


def test_drift_panel_draws_charts_and_queues_a_new_cluster(served, store, tmp_path):
    base, _monitor = served
    with sync_api.sync_playwright() as p:
        b = launch(p)
        try:
            ctx = b.new_context(viewport={"width": 1280, "height": 900})
            ctx.set_default_timeout(15_000)
            page = ctx.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text)
                    if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
            page.goto(base + "/admin")
            page.fill("#username", "root")
            page.fill("#password", PASSWORD)
            page.click("#signin")
            page.wait_for_url("**/admin")

            assert page.locator("#drift").is_visible()
            alarms = page.locator("#drift-alarms").inner_text()
            assert "input" in alarms and "far from the training set" in alarms
            assert page.locator("#chart-drift-mix svg rect").count() == 8  # 4 decisions × 2 windows
            assert page.locator("#chart-drift-psi svg rect").count() >= 5
            for cid in ("#chart-drift-far", "#chart-drift-escalation"):
                assert page.locator(f"{cid} svg").count() == 1
            box = page.locator("#chart-drift-mix svg").bounding_box()
            assert box and box["width"] > 300 and box["height"] > 100  # drawn, not collapsed by the CSS
            row = page.locator("#drift-clusters tbody tr", has_text="new")
            assert row.count() == 1 and "chord progression" in row.inner_text().lower()
            shots = tmp_path / "screenshots"
            shots.mkdir()
            page.locator("#drift").scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "dashboard-drift.png"), full_page=True)
            assert (shots / "dashboard-drift.png").stat().st_size > 20_000

            row.locator("button").click()
            page.wait_for_url("**/queue*")
            assert errors == [], errors  # nothing blocked by the Content-Security-Policy
        finally:
            b.close()
    queued = [it for it in store.review_items("all", limit=None) if it.source == "drift"]
    assert len(queued) == 20
    assert all("chord progression" in it.case.context_text.lower() for it in queued)
    if DOCS.is_dir() and os.environ.get("ACCORD_UPDATE_DOCS_SCREENSHOT"):
        shutil.copy(shots / "dashboard-drift.png", DOCS / "drift-panel.png")
