"""Which value model a command uses: the one named, else ``$ACCORD_MODEL``, else the version
promoted in the audit store, else the packaged one.

The store is read here, by the commands, and never by the gate or the judges (judging never
touches a database): a command resolves the directory once and hands it to the gate.
"""

from __future__ import annotations

import os
from pathlib import Path

from accord.learning.registry import DEFAULT_NAME, promoted_dir


def model_in_use(explicit: str | Path | None = None, name: str = DEFAULT_NAME, db: str | None = None) -> Path | None:
    """``explicit``; else, unless ``$ACCORD_MODEL`` names one, the promoted version of ``name`` when a
    store exists (one is never created here); else ``None`` (the gate's default: ``$ACCORD_MODEL``
    or the packaged model)."""
    if explicit:
        return Path(explicit)
    if name == DEFAULT_NAME and os.environ.get("ACCORD_MODEL"):
        return None
    url = db or os.environ.get("ACCORD_DATABASE_URL")
    if not url and not Path(".accord/accord.db").exists():
        return None
    from accord.store import Store

    store = Store.open(url)
    try:
        return promoted_dir(store, name)
    finally:
        store.close()


def judge_model_dirs(judges: str) -> dict[str, Path]:
    """Model directories for the registry judges that load a promoted version (``strong``)."""
    names = {n.strip() for n in judges.split(",")}
    found = {n: model_in_use(None, n) for n in ("strong",) if n in names}
    return {n: d for n, d in found.items() if d is not None}
