"""The evidence pack's building blocks: an item (filled from a record, or missing and why), a
section (one EU AI Act article's items) and the small formatting every collector shares."""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: the pack's sections: key -> (article, the article's title)
ARTICLES: dict[str, tuple[str, str]] = {
    "risk": ("Art. 9", "Risk management system"),
    "data": ("Art. 10", "Data and data governance"),
    "records": ("Art. 12", "Record-keeping"),
    "transparency": ("Art. 13", "Transparency and provision of information to deployers"),
    "oversight": ("Art. 14", "Human oversight"),
    "accuracy": ("Art. 15", "Accuracy, robustness and cybersecurity"),
}


def iso(t: datetime | None) -> str | None:
    """A time as ISO 8601 in UTC, to the second (``None`` stays ``None``)."""
    return None if t is None else t.astimezone(UTC).isoformat(timespec="seconds")


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes (hex)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def in_period(t: datetime, since: datetime | None, until: datetime) -> bool:
    """Whether ``t`` falls in ``[since, until)`` (no ``since``: from the first record)."""
    return (since is None or t >= since) and t < until


def item(id_: str, title: str, data: Any = None, *, missing: str | None = None, note: str | None = None) -> dict[str, Any]:
    """One item of a section: data from a record, or ``missing`` saying what is absent and why."""
    out: dict[str, Any] = {"id": id_, "title": title, "status": "missing" if missing else "filled"}
    if missing:
        out["missing"] = missing
    if data is not None:
        out["data"] = data
    if note:
        out["note"] = note
    return out


def section(key: str, title: str, items: list[dict[str, Any]], *, not_covered: Sequence[str] = ()) -> dict[str, Any]:
    """A section for one article (:data:`ARTICLES`): its items and which of them are missing."""
    article, article_title = ARTICLES[key]
    filled = sum(i["status"] == "filled" for i in items)
    status = "filled" if filled == len(items) else ("missing" if filled == 0 else "partial")
    return {"id": key, "title": title, "article": article, "article_title": article_title, "status": status,
            "items": items, "missing": [f"{i['title']}: {i['missing']}" for i in items if i["status"] == "missing"],
            "not_covered": list(not_covered)}


def clip(s: Any, n: int = 400) -> str:
    """A recorded value as at most ``n`` characters of text (chat messages and tool calls written out)."""
    if isinstance(s, list):  # chat messages
        s = "\n".join(f"{m.get('role')}: {m.get('content')}" for m in s if isinstance(m, dict))
    elif isinstance(s, dict):  # a tool call
        s = f"{s.get('name')}({json.dumps(s.get('arguments', {}), ensure_ascii=False)})"
    s = "" if s is None else str(s)
    return s if len(s) <= n else s[: n - 1] + "…"


def quantiles(xs: list[float]) -> dict[str, float | None]:
    """Count, median, 90th percentile and maximum of ``xs`` (rounded to a tenth)."""
    if not xs:
        return {"n": 0, "median": None, "p90": None, "max": None}
    ys = sorted(xs)
    return {"n": len(ys), "median": round(statistics.median(ys), 1),
            "p90": round(ys[min(len(ys) - 1, int(0.9 * len(ys)))], 1), "max": round(ys[-1], 1)}
