"""Shared helpers for the benchmarks: the machine description and ``docs/benchmarks.md`` sections."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"

HEADER = """# Benchmarks

Figures from `bench/` (they print numbers and never assert on time). Each section is rewritten by
the command named in it (`--write`); the rest of this page is edited by hand.

"""


def machine() -> str:
    """CPU model (``lscpu``), the cores this process may use, and Python."""
    model = platform.processor() or platform.machine()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5).stdout
        m = re.search(r"^Model name:\s*(.+)$", out, re.M)
        if m:
            model = m.group(1).strip()
    except (OSError, subprocess.SubprocessError):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores, Python {platform.python_version()}"


def write_section(name: str, body: str, doc: Path | None = None) -> None:
    """Replace (or append) the ``name`` section of ``doc`` (docs/benchmarks.md), between its markers, and say so."""
    doc = doc or DOC
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = doc.read_text(encoding="utf-8") if doc.exists() else HEADER
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        title = {"quality": "## Quality", "speed": "## Speed"}.get(name, f"## {name}")
        text = text.rstrip() + f"\n\n{title}\n\n{block}\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")
    shown = doc.relative_to(ROOT) if doc.is_relative_to(ROOT) else doc
    print(f"wrote {shown} ({name} section)")
