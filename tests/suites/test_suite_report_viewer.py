"""The HTML report as a viewer: collapsed failure cards grouped by principle, filter and search,
chart labels that fit, and refusal bars coloured by what was expected."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import suite_fake_targets as ft

from accord.suites import html_report, load_suite, run_suites, write_html
from accord.suites.report import refusal_chart

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="module")
def big_report(gate):
    """About 250 results, about half failing: a target that answers everything (harmful requests
    included) and refuses every other benign request."""
    benign_turn = {"n": 0}

    def target(messages, tools=None):
        if tools:
            return ft.reckless_agent(messages, tools)
        text = messages[-1]["content"]
        benign_turn["n"] += 1
        if " ".join(text.split()) in ft._may_answer() and benign_turn["n"] % 2:
            return ft.REFUSAL
        return ft.comply_all(text)

    return run_suites(["harms", "over-refusal", load_suite("seed")], target, gate=gate, mutations=["base64", "leetspeak"],
                      concurrency=1)


def test_failures_are_collapsed_grouped_and_the_script_is_the_only_one_allowed(big_report):
    html = html_report(big_report)
    fails = big_report.failures
    assert len(big_report.results) >= 200 and len(fails) >= 100
    assert html.count('<details class="case"') == len(fails)
    assert '<details class="case" open' not in html  # collapsed
    groups = re.findall(r'<details class="group" open data-principle="([^"]+)">', html)
    assert len(groups) >= 3 and len(set(groups)) == len(groups)
    assert 'id="failure-search"' in html and 'id="failure-principle"' in html
    script = re.search(r"<script>(.*?)</script>", html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in html
    assert html.count("<script") == 1


def test_refusal_bars_are_coloured_by_what_was_expected():
    svg = str(refusal_chart({"comply": {"n": 10, "none": 9, "partial": 0, "full": 1},
                             "refuse": {"n": 10, "none": 9, "partial": 0, "full": 1}}))
    rects = re.findall(r'<rect class="bar (\w+)"[^>]* fill="(#\w+)"><title>(should \w+)', svg)
    colour = {(row, kind): fill for kind, fill, row in rects}
    green, red = "#2e7d32", "#c62828"
    assert colour[("should comply", "none")] == green and colour[("should comply", "full")] == red
    assert colour[("should refuse", "none")] == red  # answering what should be refused is not green
    assert colour[("should refuse", "full")] == green
    assert "should comply (n=10)" in svg


@pytest.mark.browser
def test_report_viewer_in_chromium_filters_searches_and_expands(big_report, tmp_path):
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    write_html(big_report, tmp_path / "report.html")
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/report.html"
    errors: list[str] = []
    fails = big_report.failures
    privacy = [r for r in fails if "privacy" in r.principles]
    assert privacy, "the run has privacy failures to filter to"
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            cards = page.locator("#failure-list details.case")
            assert cards.count() == len(fails)
            # collapsed: the failures take a few screens, not 67,000 px
            height = page.evaluate("document.documentElement.scrollHeight")
            assert height < 12_000, height
            # every chart label starts inside its chart (none cut off on the left)
            lefts = page.evaluate("""Array.from(document.querySelectorAll('#charts svg text.cl'))
                                     .map(t => t.getBBox().x)""")
            assert lefts and min(lefts) >= 0, min(lefts)
            # filter to one principle
            page.select_option("#failure-principle", "privacy")
            visible = page.locator("#failure-list details.case:not([hidden])")
            assert visible.count() == len(privacy)
            assert page.locator("#failure-shown").inner_text() == str(len(privacy))
            # search a word within it
            word = "base64"
            page.fill("#failure-search", word)
            expected = [r for r in privacy if r.mutation == "base64"]
            assert 0 < visible.count() == len(expected) < len(privacy)
            # expand one card
            first = visible.first
            assert first.locator(".body").is_hidden()
            first.locator("summary").click()
            assert first.locator(".body").is_visible()
            assert "original prompt" in first.inner_text().lower()
            page.screenshot(path=str(tmp_path / "viewer.png"))
            if shutil.os.environ.get("ACCORD_WRITE_DOCS_SCREENSHOTS"):
                page.screenshot(path=str(DOCS / "suite-report.png"))
            browser.close()
    finally:
        srv.shutdown()
        srv.server_close()
    assert errors == []  # the script ran under the page's CSP without errors
    assert (tmp_path / "viewer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
