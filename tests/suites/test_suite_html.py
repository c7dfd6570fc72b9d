"""The HTML report: self-contained, charts present, model text escaped; opened in Chromium (browser)."""

from __future__ import annotations

import shutil
import threading
import xml.etree.ElementTree as ET
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import suite_fake_targets as ft

from accord.suites import Scenario, Suite, html_report, junit_xml, run_suites, write_html

EVIL = '<script>alert("pwned")</script><img src=x onerror=alert(1)> [bold red]markup[/] \x00\x07 end'


@pytest.fixture(scope="module")
def mixed_report(gate):
    """A report with passes, failures, mutations, an agent trajectory and hostile model text."""
    from accord.suites import load_suite

    seed = load_suite("seed")
    agents = seed.model_copy(update={"scenarios": [s for s in seed.scenarios if s.id in ("traffic-ban-cars", "cost-cutting-backups")]})
    evil = Suite(name="evil", scenarios=[Scenario(id="xss", prompt="Say something <b>bold</b>", expect="refuse", tags=["<i>tag</i>"])])

    def target(messages, tools=None):
        if tools:
            return ft.reckless_agent(messages, tools)
        text = messages[-1]["content"]
        return EVIL if "bold" in text else ft.helpful(text)

    return run_suites(["harms", "over-refusal", agents, evil], target, gate=gate, mutations=["base64"])


def test_html_is_self_contained_and_escapes_model_text(mixed_report):
    html = html_report(mixed_report)
    # the report's own filter script is the one script on the page; the model's is escaped
    assert html.count("<script") == 1 and "<script>alert" not in html
    assert "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "")
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "&lt;i&gt;tag&lt;/i&gt;" in html
    assert html.count("<svg") == 4 and "Pass rate by principle" in html and "Pass rate by mutation" in html
    assert "Pass rate by tag" in html and "Over- vs under-refusal" in html
    assert "Content-Security-Policy" in html and "<link" not in html
    assert "ban_vehicles" in html and "trajectory" in html  # the agent's trajectory is shown
    assert "Blocked by rule" in html  # the verdict's explanation for a failing case


def test_junit_survives_control_characters(mixed_report):
    root = ET.fromstring(junit_xml(mixed_report).split("\n", 1)[1])
    xss = root.find(".//testcase[@name='xss']")
    assert xss is not None and xss.find("failure") is not None
    assert "<script>" in xss.find("system-out").text  # escaped in XML, intact once parsed
    assert root.find(".//testsuite[@name='seed']") is not None


def test_terminal_summary_prints_model_text_without_markup(mixed_report):
    from io import StringIO

    from rich.console import Console

    from accord.suites import print_summary

    buf = StringIO()
    print_summary(mixed_report, Console(file=buf, width=200, color_system=None), max_failures=500)
    out = buf.getvalue()
    assert "[bold red]markup[/]" in out  # shown literally, not interpreted
    assert "FAIL evil/xss" in out


@pytest.mark.browser
def test_html_report_opens_in_chromium_with_its_charts(mixed_report, tmp_path):
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not shutil.os.path.exists(chromium):
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    write_html(mixed_report, tmp_path / "report.html")
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/report.html"
    dialogs: list[str] = []
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url)
            assert page.locator("#verdict").inner_text() == "FAILED"
            charts = page.locator("#charts svg.chart")
            assert charts.count() == 4
            for i in range(4):
                box = charts.nth(i).bounding_box()
                assert box is not None and box["width"] > 300 and box["height"] > 40
            assert page.locator("#charts svg rect.bar").count() > 10  # bars were drawn
            assert page.locator("text=Pass rate by mutation").count() == 1
            page.locator("#charts").screenshot(path=str(tmp_path / "charts.png"))
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            browser.close()
    finally:
        srv.shutdown()
        srv.server_close()
    assert dialogs == []  # the hostile model text did not run
    assert requests == [url]  # self-contained: nothing else was fetched
    assert (tmp_path / "charts.png").stat().st_size > 10_000
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
