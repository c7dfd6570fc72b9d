"""The case page on a phone-sized screen (420 px) in Debian's chromium: no sideways scroll, and a
verdict is confirmed on the page that follows."""

from __future__ import annotations

import threading
import time

import pytest
from tests.browser import launch, playwright_or_skip
from tests.review.conftest import make_verdict

from accord.review import QueueConfig, Users
from accord.server.proxy.testing import free_port
from accord.server.review import create_app
from accord.types import Case

pytestmark = pytest.mark.browser

PASSWORD = "correct horse"

sync_api = playwright_or_skip()


@pytest.fixture
def served(store, charter, base_model_dir):
    import uvicorn

    Users(store).add("ana", PASSWORD)
    Users(store).add("root", PASSWORD, role="admin")
    long_word = "x" * 300  # an unbroken token must wrap, not widen the page
    for i in range(3):
        store.enqueue_review(Case(context=f"Customer ticket {i}: a long context {long_word}",
                                  action=f"Proposed reply {i}: see https://example.com/{long_word}"),
                             make_verdict(communities={"default": "escalate", "cautious": "block"}), 0.5 + i / 10)
    app = create_app(store, charter, secret=b"s" * 32, queue=QueueConfig(double_share=0.0), model_dir=base_model_dir)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)


def test_case_page_at_420px_has_no_sideways_scroll_and_a_verdict_is_confirmed(served, tmp_path):
    with sync_api.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 420, "height": 900})
            page.set_default_timeout(15_000)
            page.goto(served + "/login?next=/next")
            page.fill("#username", "ana")
            page.fill("#password", PASSWORD)
            page.click("#signin")
            page.wait_for_url("**/cases/*")
            widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert widths[0] <= widths[1], f"the case page scrolls sideways: {widths}"
            first = page.url
            page.click("#block")
            page.wait_for_url(lambda u: u != first)
            assert page.locator("#saved").is_visible()
            assert "Saved: your verdict block" in page.locator("#saved").inner_text()
            widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert widths[0] <= widths[1], f"the next case scrolls sideways: {widths}"
            page.screenshot(path=str(tmp_path / "case-420.png"), full_page=True)
            # the dashboard too
            ctx2 = browser.new_page(viewport={"width": 420, "height": 900})
            ctx2.goto(served + "/login?next=/admin")
            ctx2.fill("#username", "root")
            ctx2.fill("#password", PASSWORD)
            ctx2.click("#signin")
            ctx2.wait_for_url("**/admin")
            widths = ctx2.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert widths[0] <= widths[1], f"the dashboard scrolls sideways: {widths}"
        finally:
            browser.close()
