"""The decision chain: each decision's hash covers the previous one's, so an edited, inserted or
deleted row breaks every hash after it (:meth:`accord.store.store.Store.verify`). The canonical JSON
the hash covers is serialised once per row and reused for the bulk ``COPY`` path."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: key of the PostgreSQL advisory lock that serialises writers of the decision chain ("chain")
PG_CHAIN_LOCK = 0x636861696E
#: the columns of a decision its chain hash covers (everything but the id and the hash itself)
CHAINED = ("trace_id", "created_at", "decision", "risk", "community", "judge_version", "case_id", "source",
            "case_json", "verdict_json")


def utc(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def chain_hash(prev: str, row: dict[str, Any]) -> str:
    """SHA-256 (hex) over the previous decision's hash and this decision's content.

    The content is canonical JSON of the :data:`CHAINED` columns (times as UTC ISO 8601), so the
    same row read back from SQLite or PostgreSQL hashes the same. Changing, deleting, inserting
    or reordering any row breaks the chain from that row on; rewriting the whole table changes
    the head, which :meth:`Store.verify` prints so that it can be written down elsewhere.
    """
    content = {k: row[k] for k in CHAINED}
    content["created_at"] = utc(row["created_at"]).isoformat()  # type: ignore[union-attr]
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev}\n{blob}".encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """What :meth:`Store.verify` found.

    Attributes:
        ok: every chained decision follows from the one before it.
        decisions: decisions read.
        unchained: decisions written before the chain existed (schema 0003), at the start.
        first_bad: the id of the first decision that does not follow (``None`` when ``ok``).
        problem: what is wrong with it, for a person.
        head: the newest decision's hash: write it down elsewhere to detect a rewrite of the whole table.
    """

    ok: bool
    decisions: int
    unchained: int
    first_bad: int | None
    problem: str | None
    head: str | None



#: one encoder, made once: ``json.dumps`` with options builds a new encoder per call (a third of a bulk write)
CANON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
canon = CANON.encode
CHAINED_SORTED = tuple(sorted(CHAINED))
KEYS_JSON = {k: canon(k) for k in CHAINED}


def chain_parts(prev: str, row: dict[str, Any]) -> tuple[str, str, str]:
    """:func:`chain_hash` of ``row`` and its case and verdict as canonical JSON text, each serialised once.

    The blob is built from the canonical pieces: byte for byte what :func:`chain_hash` hashes (a
    test keeps the two equal), while the bulk path reuses the pieces as the JSONB text it copies.
    """
    pieces = {k: canon(row[k]) for k in CHAINED if k != "created_at"}
    pieces["created_at"] = canon(utc(row["created_at"]).isoformat())  # type: ignore[union-attr]
    blob = "{" + ",".join(f"{KEYS_JSON[k]}:{pieces[k]}" for k in CHAINED_SORTED) + "}"
    digest = hashlib.sha256(f"{prev}\n{blob}".encode("utf-8", "surrogatepass")).hexdigest()
    return digest, pieces["case_json"], pieces["verdict_json"]


def pg_text(text: str, obj: Any) -> str:
    """``text`` for COPY, or, when it holds a lone surrogate (not UTF-8), ``obj`` as ASCII-escaped JSON
    as the statement path sends it (the server then decides, as it does there)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj)
    return text


def nul_in_columns(row: dict[str, Any]) -> bool:
    return any(isinstance(v, str) and "\x00" in v for v in row.values())

