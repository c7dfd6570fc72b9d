"""The review app in a real browser (Debian's chromium driven by Playwright): mouse, keyboard, screenshots.

Marked ``browser``; skipped where ``/usr/bin/chromium`` or the playwright package is missing.
Never runs ``playwright install``: the browser is the system's.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from tests.browser import launch, playwright_or_skip
from tests.review.conftest import make_verdict

from accord.review import QueueConfig, Users, escalation_recorder
from accord.server.proxy.testing import free_port
from accord.server.review import create_app
from accord.types import Case

pytestmark = pytest.mark.browser

PASSWORD = "correct horse"
DOCS = Path(__file__).resolve().parents[2] / "docs"
EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)> **not bold** [x](javascript:alert(2))'

sync_api = playwright_or_skip()


@pytest.fixture
def served(store, charter, base_model_dir):
    import uvicorn

    users = Users(store)
    users.add("ana", PASSWORD)
    users.add("ben", PASSWORD)
    users.add("root", PASSWORD, role="admin")
    rec = escalation_recorder(store, "gate")
    sev = ["critical", "high", "medium", "low"]
    items = []
    for i in range(12):
        action = EVIL if i == 0 else f"Proposed action number {i}: reply to the customer with the refund policy."
        v = make_verdict(score=0.35 + i * 0.02, severity=sev[i % 4],
                         communities={"default": "escalate", "cautious": "block" if i % 3 == 0 else "escalate"})
        rec(Case(context=f"Customer ticket {i}: I want my money back.", action=action), v)
        items.append(store.review_items("all", limit=None)[0].id)
    for i in range(8):
        rec(Case(action=f"fine answer {i}"), make_verdict("allow", 0.05))
    app = create_app(store, charter, secret=b"s" * 32, queue=QueueConfig(double_share=0.0), model_dir=base_model_dir)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", items
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as p:
        b = launch(p)
        try:
            yield b
        finally:
            b.close()


def _sign_in(page, base: str, name: str, path: str = "/queue") -> None:
    page.goto(base + path)
    assert "/login" in page.url  # redirected, not shown
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("#signin")
    page.wait_for_url(f"**{path}*")


def test_reviewer_works_ten_cases_pairwise_and_admin_dashboard(served, browser, store, tmp_path):
    base, items = served
    shots = tmp_path / "screenshots"
    shots.mkdir()
    dialogs: list[str] = []
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    _sign_in(page, base, "ana")
    assert page.locator("#queue-rows tr").count() == 12
    page.screenshot(path=str(shots / "queue.png"), full_page=True)
    page.keyboard.press("n")  # start reviewing
    page.wait_for_url("**/cases/*")
    first_url = page.url
    page.screenshot(path=str(shots / "case.png"), full_page=True)

    for n in range(10):
        url = page.url
        if n == 3:  # a correction, typed, then Esc and the keyboard
            page.click("#correction")
            page.keyboard.type("We can refund within 30 days; here is how to ask for it.")
            page.keyboard.press("Escape")
            page.keyboard.press("b")
        elif n % 2 == 0:  # mouse: tag a principle and click
            page.check("input[name=principles][value=honesty]")
            page.click("#block" if n % 4 == 0 else "#allow")
        else:  # keyboard: 2 tags the second principle, a allows
            page.keyboard.press("2")
            page.keyboard.press("a")
        page.wait_for_url(lambda u, url=url: u != url)
    assert page.url != first_url

    mine = store.reviews(reviewer="ana")
    assert len(mine) == 10 and len({r.item_id for r in mine}) == 10
    assert sum(r.decision == "block" for r in mine) == 4
    assert any(r.correction and r.correction.startswith("We can refund") for r in mine)
    assert any("honesty" in r.principles for r in mine)

    # the pairwise page offers the original vs the correction; pick with the keyboard
    page.goto(base + "/pairwise")
    assert "We can refund within 30 days" in page.inner_text("#pair-form")
    page.screenshot(path=str(shots / "pairwise.png"), full_page=True)
    page.keyboard.press("1")
    page.wait_for_load_state("networkidle")
    (pref,) = store.feedback_log(["preference"])
    assert pref.author == "ana" and pref.record.source.startswith("pairwise:corr:")

    # a reviewer cannot open the dashboard
    resp = page.goto(base + "/admin")
    assert resp is not None and resp.status == 403
    ctx.close()

    # a second reviewer on a few of the same cases, so kappa has something to measure
    for it in items[1:6]:
        store.add_review(it, "ben", "block" if it % 2 else "allow")

    ctx = browser.new_context(viewport={"width": 1360, "height": 1000})
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _sign_in(page, base, "root", "/admin")
    for chart in ("#chart-reviews", "#chart-age", "#chart-agreement", "#chart-escalation"):
        assert page.locator(f"{chart} svg").count() == 1, chart
    assert page.locator("#chart-reviews svg rect.bar").count() >= 1
    # one day of decisions: drawn as a bar (a line of one point would be a lone dot)
    assert page.locator("#chart-escalation svg rect.bar").count() >= 1
    assert page.locator("#kappas tbody tr").count() >= 1
    assert "ana · ben" in page.inner_text("#kappas")
    assert page.locator("#contested tbody tr").count() >= 1
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    # the case with the malicious response, seen by an admin: still inert
    page.goto(f"{base}/cases/{items[0]}")
    assert '<script>alert("x")</script>' in page.inner_text("#action")
    assert page.locator("img[onerror]").count() == 0 and page.locator("#action script").count() == 0
    assert "<img src=x onerror=alert(1)>" in page.inner_text("#action")
    ctx.close()

    assert dialogs == []  # no injected script ever ran
    for name in ("queue", "case", "pairwise", "dashboard"):
        assert (shots / f"{name}.png").stat().st_size > 5_000
    if DOCS.is_dir() and os.environ.get("ACCORD_UPDATE_DOCS_SCREENSHOT"):
        shutil.copy(shots / "dashboard.png", DOCS / "review-dashboard.png")


def test_signed_out_is_redirected_and_forged_forms_are_refused(served, browser):
    base, items = served
    ctx = browser.new_context()
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    resp = page.goto(f"{base}/cases/{items[0]}")
    assert resp is not None and "/login?next=" in page.url
    # a signed-in session posting a form without the CSRF token is refused
    _sign_in(page, base, "ana")
    r = page.request.post(f"{base}/cases/{items[0]}/review", form={"decision": "allow"})
    assert r.status == 403
    ctx.close()
