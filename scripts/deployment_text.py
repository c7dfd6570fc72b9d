"""Generic deployment text around a case's context, for training judges that are not thrown by it.

A real context is rarely the two-sentence situation the corpus holds: a system prompt comes before
it (who the assistant is, its tone, its language) and tool lists, output formats, dates and logging
reminders after it. None of that changes what the right decision is, yet on 2026-12-05 adding ~200
characters of it moved the packaged decision model's dev-set macro-F1 from 0.884 to 0.832 (before)
and 0.571 (after): every part of it (the cross-encoder, which read the context's last 300
characters, the linear head's context features, the neighbour vote) read the boilerplate instead of
the situation.

:func:`wrap` puts randomly composed, decision-neutral deployment text before and/or after a context.
``scripts/train_decision_model.py --augment-context`` and ``scripts/finetune_decision.py
--augment-context`` train on wrapped copies. The evaluation uses different text, written
independently (``bench/judgment_dev/deployment.json``, ``bench/judgment.py --sets dev+deploy``): this
module's pools never saw it.

Rule for every piece here: it says nothing about what is right, allowed, risky or to be maximised.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

from accord.types import Case

_NAMES = ["Aria", "Bolt", "Cedar", "Dex", "Echo", "Fern", "Gizmo", "Halo", "Iris", "Juno", "Kite", "Lumen", "Mosaic",
          "Nimbus", "Orbit", "Pixel", "Quill", "Relay", "Sage", "Tango", "Unity", "Vega", "Willow", "Zephyr"]
_ORGS = ["Northwind Supply", "Bluepeak Health Admin", "Greenline Transit", "Harbor & Finch Attorneys", "Quartz Payments",
         "Maple Street Schools", "Orion Freight", "Sunset Realty Group", "Tidewater Energy", "Copperleaf Games",
         "Brightway Insurance", "Cobalt Cloud", "Riverbend Council", "Summit Outdoor Retail", "Lark Media",
         "Pinecone Pharmacy", "Atlas Staffing", "Keystone Credit Union", "Meadow Foods", "Vantage Airlines"]
_DOMAINS = ["retail", "healthcare administration", "public transport", "law practice management", "payments", "education",
            "logistics", "real estate", "energy", "gaming", "insurance", "cloud software", "local government",
            "outdoor equipment", "publishing", "pharmacy", "recruitment", "banking", "food delivery", "travel"]

_OPENERS = [
    "You are {name}, the assistant of {org}.",
    "You are {name}, an AI assistant working for {org}, a {domain} company.",
    "SYSTEM: This assistant ({name}) is deployed by {org}.",
    "## Role\n{name} helps the team at {org} ({domain}).",
    "role: assistant\nname: {name}\ndeployment: {org} / {domain}",
    "Hello {name}. You support staff and customers of {org}.",
    "You are a {domain} assistant built by {org}. Your name is {name}.",
    "[config] assistant={name} org=\"{org}\" sector={domain}",
    "Welcome to the {org} workspace. You are {name}, its agent.",
    "You act as {name} for {org}. Users reach you through chat and email.",
]
_STYLE = [
    "Be friendly and to the point.", "Use plain language and short paragraphs.",
    "Answer in the language the user writes in.", "Prefer bullet points for lists of steps.",
    "Do not use emojis.", "Keep a calm, professional tone.", "Address the user by their first name when known.",
    "Use British spelling.", "Use US date formats (MM/DD/YYYY).", "Put code and IDs in backticks.",
    "Sign off with the team name.", "Avoid jargon unless the user uses it first.",
    "When you are unsure what the user means, ask one short clarifying question.",
    "Reply in Markdown.", "Summarise long threads before answering.", "Quote order numbers exactly as given.",
]
_TOOL_VERBS = ["lookup", "search", "create", "update", "list", "get", "send", "schedule", "export", "fetch", "comment", "tag"]
_TOOL_NOUNS = ["orders", "tickets", "calendar", "docs", "inventory", "invoices", "crm", "kb", "mail", "sms", "files",
               "shipments", "accounts", "notes", "reports", "tasks", "catalog", "forms"]
_TOOL_HELP = ["returns JSON", "paginated, 50 per page", "needs an id", "read by default", "rate-limited to 5 calls a second",
              "accepts ISO dates", "UTF-8 text only", "max 2 MB"]
_AFTER = [
    "Current date: {date}. Timezone: {tz}.", "Log each tool call with its request id.",
    "Reply in under {n} words unless asked for detail.", "Return your answer as JSON with keys \"reply\" and \"actions\".",
    "Session id: {sid}. Channel: {channel}.", "Office hours are 9:00-17:00 {tz}.",
    "If a tool times out, retry once after two seconds.", "Format prices with two decimals and the currency code.",
    "Knowledge base last updated {date}.", "Write timestamps in 24-hour time.",
    "Support mailbox for tool errors: tools-{sid}@example.com.", "Max {n} tool calls per turn.",
]
_TZ = ["UTC", "CET", "EST", "PST", "IST", "JST", "AEST"]
_CHANNELS = ["web chat", "email", "Slack", "mobile app", "API"]


def _tools(rng: random.Random) -> str:
    names = rng.sample([f"{n}.{v}" for n in _TOOL_NOUNS for v in _TOOL_VERBS], rng.randint(2, 6))
    form = rng.randrange(3)
    if form == 0:
        return "Available tools: " + ", ".join(names) + "."
    if form == 1:
        return "Tools:\n" + "\n".join(f"- `{t}`: {rng.choice(_TOOL_HELP)}" for t in names)
    return "tools = [" + ", ".join(f'"{t}"' for t in names) + "]"


def _fill(rng: random.Random, s: str) -> str:
    return s.format(name=rng.choice(_NAMES), org=rng.choice(_ORGS), domain=rng.choice(_DOMAINS), tz=rng.choice(_TZ),
                    date=f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", n=rng.choice([80, 120, 150, 200, 300]),
                    sid=f"{rng.randrange(16**6):06x}", channel=rng.choice(_CHANNELS))


def preamble(rng: random.Random) -> str:
    """A system prompt's opening: who the assistant is, how it writes, maybe its tools."""
    parts = [_fill(rng, rng.choice(_OPENERS)), *rng.sample(_STYLE, rng.randint(1, 4))]
    if rng.random() < 0.35:
        parts.append(_tools(rng))
    sep = "\n" if rng.random() < 0.5 else " "
    lead = rng.choice(["", "", "Situation:", "Current task:", "---", "User request follows."])
    return sep.join(parts) + ("\n" + lead if lead else "")


def appendix(rng: random.Random) -> str:
    """What a deployment appends: tools, formats, dates, limits."""
    parts = [_fill(rng, s) for s in rng.sample(_AFTER, rng.randint(1, 3))]
    if rng.random() < 0.6:
        parts.insert(rng.randint(0, len(parts)), _tools(rng))
    return ("\n" if rng.random() < 0.6 else " ").join(parts)


def load_pool(path: str | Path) -> dict[str, list[str]]:
    """A hand-written pool of deployment text (``{"openings": [...], "endings": [...]}``, as in
    ``corpus/deployment/``)."""
    d = json.loads(Path(path).read_text(encoding="utf-8"))
    return {"openings": list(d["openings"]), "endings": list(d["endings"])}


def wrap(context: str, rng: random.Random, pool: dict[str, list[str]] | None = None) -> str:
    """``context`` with deployment text before it (45%), after it (30%) or both (25%); with a
    ``pool``, each piece is the pool's (half the time) or composed here."""
    r = rng.random()
    before = after = ""
    if r < 0.70:
        before = rng.choice(pool["openings"]) if pool and rng.random() < 0.5 else preamble(rng)
    if r >= 0.45:
        after = rng.choice(pool["endings"]) if pool and rng.random() < 0.5 else appendix(rng)
    return "\n\n".join(p for p in (before, context, after) if p)


def wrap_some(cases: Sequence[Case], p: float, rng: random.Random,
              pool: dict[str, list[str]] | None = None) -> list[Case | None]:
    """For each case with a context, with probability ``p``, a copy with its context wrapped; else None.
    (The draws come first, then the wrapping: the order both training scripts used.)"""
    pick = [bool(c.context_text.strip()) and rng.random() < p for c in cases]
    return [c.model_copy(update={"context": wrap(c.context_text, rng, pool)}) if k else None
            for c, k in zip(cases, pick, strict=True)]
