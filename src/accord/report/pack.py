"""Write the evidence pack: ``report.json``, ``report.html`` and (with WeasyPrint) ``report.pdf``, all or nothing.

The files are written to a temporary folder beside the output folder and moved into place only
when every one is complete, so an interrupted or failed build never leaves a half-written pack
(or a PDF of an older pack beside a newer HTML).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accord.errors import InputError
from accord.report.render import render_html

FILES = ("report.json", "report.html", "report.pdf")
PDF_HINT = ("install the PDF extra: pip install 'accord[report]' (WeasyPrint; on Debian/Ubuntu it also needs "
            "apt-get install libpango-1.0-0 libpangoft2-1.0-0)")


@dataclass(frozen=True)
class Pack:
    """Where the pack was written; ``pdf`` is ``None`` when WeasyPrint is missing (``pdf_missing`` says why)."""

    out: Path
    json: Path
    html: Path
    pdf: Path | None
    pdf_missing: str | None = None


def weasyprint_available() -> str | None:
    """``None`` when WeasyPrint can be imported, else why not (for the message and the tests' skip reason)."""
    try:
        import weasyprint  # noqa: F401
    except ImportError as e:
        return f"WeasyPrint is not installed ({e})"
    except OSError as e:  # the Python package is there, its system libraries (Pango) are not
        return f"WeasyPrint cannot load its system libraries ({e})"
    return None


def write_pdf(html: str, path: Path) -> None:
    """Print the HTML page to PDF with WeasyPrint (no network: every resource is inline)."""
    import logging

    from weasyprint import HTML

    for name in ("weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)  # font subsetting notes are not the user's business
    HTML(string=html, base_url=None).write_pdf(str(path))


def write_pack(report: dict[str, Any], out: str | Path, *, pdf: bool = True) -> Pack:
    """Write the pack into ``out`` (created if needed; the three report files in it are replaced).

    Raises:
        InputError: ``out`` is a file, or its folder cannot be written.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder for the pack")
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
        mask = os.umask(0)
        os.umask(mask)
        tmp.chmod(0o777 & ~mask)  # mkdtemp makes it private; the pack folder gets the usual permissions
    except OSError as e:
        raise InputError(f"cannot write the pack to {out}: {e.strerror or e}", hint="choose a folder you can write to") from None
    try:
        (tmp / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        html = render_html(report)
        (tmp / "report.html").write_text(html, encoding="utf-8")
        why = weasyprint_available() if pdf else "not asked for (--no-pdf)"
        if why is None:
            write_pdf(html, tmp / "report.pdf")
        if not out.exists():
            os.rename(tmp, out)
        else:
            for name in FILES:
                src = tmp / name
                if src.exists():
                    os.replace(src, out / name)
                elif (out / name).exists():
                    (out / name).unlink()  # an older pack's PDF must not sit beside this pack's HTML
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InputError(f"cannot write the pack to {out}: {e.strerror or e}", hint="choose a folder you can write to") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Pack(out, out / "report.json", out / "report.html", out / "report.pdf" if why is None else None,
                None if why is None else why)
