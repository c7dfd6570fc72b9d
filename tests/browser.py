"""Debian's chromium driven by playwright, for the web pages' browser tests: the path, the flags and
the skip when either is missing live here once."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

CHROMIUM = os.environ.get("ACCORD_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def playwright_or_skip(*, module: bool = True) -> ModuleType:
    """``playwright.sync_api``, or a skip (of the whole module when ``module``) naming what to install."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)", allow_module_level=module)
    return sync_api


def launch(p: Any) -> Any:
    """A headless chromium from a running ``sync_playwright()``."""
    return p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
