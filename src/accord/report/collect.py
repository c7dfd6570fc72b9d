"""Gather the evidence pack's figures from what accord recorded: the store, the charter, suite reports.

Everything here reads; nothing is written to the store. Each section of the pack is a list of
items; an item either holds data taken from a record (``status: "filled"``) or says why it has
none (``status: "missing"`` with ``missing``: what would fill it). Nothing is estimated, and no
item claims that a legal requirement is met: the pack shows what was recorded and what was not.

This module holds the inputs and assembles the pack; the decisions are read in
:mod:`accord.report.decisions`, each article's section is collected in :mod:`accord.report.articles`,
and items and sections are made in :mod:`accord.report.items`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from accord.errors import InputError
from accord.report.articles import (
    accuracy_section,
    fairness_results,
    model_cards,
    oversight_section,
    read_charter,
    records_section,
    risk_section,
    transparency_section,
)
from accord.report.decisions import scan_decisions
from accord.report.items import in_period, iso, item, section, sha256_of

SCHEMA_VERSION = 1
DISCLAIMER = ("This pack collects what accord recorded for the period. It is evidence for a conformity "
              "assessment, not one: it does not say that the system complies with the EU AI Act or any other "
              "law. Items marked missing were not recorded by accord and must come from elsewhere.")

Progress = Callable[[str], None]


# ---------------------------------------------------------------------- inputs
@dataclass
class ReportInputs:
    """What a pack is built from.

    Attributes:
        since: start of the period (inclusive, UTC); ``None``: from the first record.
        until: end of the period (exclusive, UTC); ``None``: now.
        charter_path: the charter in force (``None``: the packaged default charter).
        suite_reports: JSON reports written by ``accord test --json`` (files, or folders of them).
        examples: how many example explanations to include.
    """

    since: datetime | None = None
    until: datetime | None = None
    charter_path: Path | None = None
    suite_reports: Sequence[Path] = ()
    examples: int = 6
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


def parse_when(text: str, option: str, *, end: bool = False) -> datetime:
    """``YYYY-MM-DD`` or an ISO 8601 time (UTC when no offset is given), else an InputError naming ``option``.

    With ``end``, a bare date means the end of that day (the period includes it).
    """
    s = text.strip()
    try:
        if len(s) == 10:
            d = date.fromisoformat(s)
            t = datetime(d.year, d.month, d.day, tzinfo=UTC)
            return t + timedelta(days=1) if end else t
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{option} must be a date YYYY-MM-DD or an ISO 8601 time (got {text!r})",
                         hint=f"e.g. {option} 2026-11-01") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


# ---------------------------------------------------------------------- suite reports
def load_suite_reports(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Read ``accord test --json`` reports (files or folders of ``*.json``); a bad file is an InputError naming it."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(p.glob("*.json"))
        elif p.is_file():
            files.append(p)
        else:
            raise InputError(f"suite report {p} does not exist", hint="write one with: accord test ... --json FILE")
    out = []
    for f in files:
        try:
            d = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read suite report {f}: {e}") from None
        except json.JSONDecodeError as e:
            raise InputError(f"{f}: not JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
        summ = d.get("summary") if isinstance(d, dict) else None
        if not isinstance(summ, dict) or not isinstance(d.get("results"), list) or "started" not in summ:
            raise InputError(f"{f}: not an accord test report (no summary.started or results)",
                             hint="suite reports are written by: accord test ... --json FILE")
        try:
            started = parse_when(str(summ["started"]), f"{f}: summary.started")
        except InputError as e:
            raise InputError(str(e)) from None
        out.append({"path": str(f), "sha256": sha256_of(f), "started": started, "summary": summ, "results": d["results"]})
    return sorted(out, key=lambda r: r["started"])


# ---------------------------------------------------------------------- the whole pack
def build_report(store: Any, inputs: ReportInputs, *, progress: Progress | None = None) -> dict[str, Any]:
    """The evidence pack as a JSON-ready dict (see ``docs/regulation.md`` for each section's article)."""
    step = progress or (lambda _s: None)
    since, until = inputs.since, inputs.until or inputs.now
    if since is not None and since >= until:
        raise InputError(f"--since ({iso(since)}) must be before --until ({iso(until)})")
    step("reading the charter")
    charter, charter_info = read_charter(inputs.charter_path)
    step("reading suite reports")
    runs = [r for r in load_suite_reports(inputs.suite_reports) if in_period(r["started"], since, until)]
    step("reading decisions")
    dec = scan_decisions(store, since, until, keep=max(inputs.examples, 1))
    events = [e for e in store.audit_events(limit=None) if in_period(e.created_at, since, until)]
    step("reading model cards")
    cards = model_cards(store)
    risk = risk_section(charter_info, dec, events, runs, charter)
    fair, fair_missing = fairness_results(dec, runs)
    data_items = [item("data_cards", "Value model data cards: training sources and licences", cards,
                       missing=None if cards else "no model card found"),
                  item("fairness", "Fairness results", fair or None, missing=fair_missing,
                       note="A group metric shows a disparity in decision rates; it does not say whether the "
                            "groups' cases were alike. A swap flip is a change of behaviour when only the people "
                            "in a case were swapped (95% Wilson intervals).")]
    data = section("data", "Data and data governance", data_items,
                   not_covered=["the data of the AI system being judged (only accord's own judge models are described)"])
    step("verifying the hash chain")
    records = records_section(store, dec, since, until, inputs.now, events)
    transparency = transparency_section(charter_info, dec, inputs.examples)
    step("reading reviews")
    oversight, lean = oversight_section(store, dec, since, until, inputs.now, events)
    accuracy = accuracy_section(store, dec, runs, charter, lean, cards, since, until)
    sections = [risk, data, records, transparency, oversight, accuracy]
    try:
        from importlib.metadata import version

        accord_version = version("accord")
    except Exception:
        accord_version = None
    return {
        "schema_version": SCHEMA_VERSION, "kind": "accord.evidence-pack", "generated_at": iso(inputs.now),
        "accord_version": accord_version,
        "period": {"since": iso(since), "until": iso(until)},
        "store": store.url, "charter": {k: charter_info[k] for k in ("name", "path", "sha256")},
        "suite_reports": [{"path": r["path"], "sha256": r["sha256"], "started": iso(r["started"])} for r in runs],
        "disclaimer": DISCLAIMER,
        "summary": {s["id"]: {"article": s["article"], "status": s["status"], "missing": len(s["missing"])}
                    for s in sections},
        "sections": sections,
    }
