"""The pack renders: the HTML in a real browser (Debian's chromium via Playwright), the PDF through pdftoppm.

The browser test is marked ``browser`` and skips where ``/usr/bin/chromium`` or playwright is
missing; the PDF test skips where WeasyPrint or ``pdftoppm`` (poppler-utils) is missing.
``.ci/run`` installs all of them, so both run in CI.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from tests.browser import launch, playwright_or_skip


def _read_ppm(path: Path) -> np.ndarray:
    """A binary PPM (P6) as an H × W × 3 array (what pdftoppm writes without -png)."""
    data = path.read_bytes()
    fields: list[bytes] = []
    i = 0
    while len(fields) < 4:  # magic, width, height, maxval, separated by whitespace (no comments from pdftoppm)
        while data[i:i + 1].isspace():
            i += 1
        j = i
        while not data[j:j + 1].isspace():
            j += 1
        fields.append(data[i:j])
        i = j
    assert fields[0] == b"P6" and fields[3] == b"255", fields
    w, h = int(fields[1]), int(fields[2])
    return np.frombuffer(data[i + 1:i + 1 + w * h * 3], dtype=np.uint8).reshape(h, w, 3)


def _ink(img: np.ndarray) -> float:
    """Share of pixels that are not near-white."""
    return float((img.min(axis=2) < 200).mean())


@pytest.mark.browser
def test_chromium_renders_the_pack(pack, tmp_path):
    sync_api = playwright_or_skip(module=False)
    out, _, _ = pack
    requests: list[str] = []
    shot = tmp_path / "pack.png"
    with sync_api.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto((out / "report.html").as_uri())
            assert page.title().startswith("accord evidence pack")
            arts = page.locator("h2 .art").all_inner_texts()
            assert arts == [f"Art. {n}" for n in (9, 10, 12, 13, 14, 15)]
            assert page.locator("h2").nth(4).inner_text().endswith("Human oversight")
            assert page.locator("svg.chart").count() >= 4
            # every chart has drawn marks, and the hostile recorded case is text on the page, not markup
            assert page.locator("svg.chart rect, svg.chart circle").count() > 20
            assert page.get_by_text('<script>alert("pwned")</script>', exact=False).count() >= 1
            assert page.evaluate("document.querySelectorAll('img, script, iframe, link').length") == 0
            # the table of sections links to each section
            page.click("a[href='#oversight']")
            assert page.locator("#oversight").is_visible()
            page.screenshot(path=str(shot), full_page=True)
            height = page.evaluate("document.body.scrollHeight")
        finally:
            browser.close()
    assert requests == [(out / "report.html").as_uri()]  # nothing but the page itself was fetched
    assert height > 5000  # six sections of tables and charts, not an empty page
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 100_000


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm is missing (apt-get install -y poppler-utils)")
def test_pdf_renders_non_blank_pages(pack, tmp_path):
    from accord.report import weasyprint_available

    why = weasyprint_available()
    if why is not None:
        pytest.skip(f"{why}: pip install 'accord[report]'")
    out, _, _ = pack
    pdf = out / "report.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    subprocess.run(["pdftoppm", "-r", "30", str(pdf), str(tmp_path / "page")], check=True, timeout=120)
    pages = sorted(tmp_path.glob("page-*.ppm"))
    assert len(pages) >= 6  # a section per page at least (each article starts a page)
    inks = [_ink(_read_ppm(p)) for p in pages]
    assert all(x > 0.01 for x in inks), inks  # no blank page
    # the first page carries the title block, the disclaimer (a tinted box) and the table of sections
    first = _read_ppm(pages[0])
    assert _ink(first) > 0.03
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True,
                              timeout=120).stdout
        for art in ("Art. 9", "Art. 10", "Art. 12", "Art. 13", "Art. 14", "Art. 15"):
            assert art in text
        assert "Not a statement of compliance" in text and "page 1 of" in text
