"""The decision chain: each decision's hash covers the previous one's, so an edited, inserted or
deleted row breaks every hash after it (:meth:`accord.store.store.Store.verify`). The canonical JSON
the hash covers is serialised once per row and reused for the bulk ``COPY`` path."""

from __future__ import annotations

import hashlib
import json
import math
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


def _no_default(o: Any) -> Any:
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


#: CANON's C encoder made once, without the circular-reference check (a model dump has no cycles):
#: the same text as ``canon`` for a dict, a fifth faster (``None`` where the C accelerator is missing)
_C_CANON = json.encoder.c_make_encoder(None, _no_default, json.encoder.encode_basestring, None, ":", ",",  # type: ignore[attr-defined]
                                       True, False, True) if json.encoder.c_make_encoder is not None else None  # type: ignore[attr-defined]


def canon_dict(d: dict[str, Any]) -> str:
    """``canon(d)`` for a dict of JSON values (a case or verdict dump), through the prepared C encoder."""
    if _C_CANON is None or type(d) is not dict:
        return canon(d)
    return "".join(_C_CANON(d, 0))
CHAINED_SORTED = tuple(sorted(CHAINED))
KEYS_JSON = {k: canon(k) for k in CHAINED}


_encode_str = json.encoder.encode_basestring  # what CANON uses for a str (ensure_ascii=False): the C one
_finite = math.isfinite


def _scalar(v: Any) -> str:
    """``canon(v)`` for the scalar columns without the encoder's per-call set-up (a tenth of a bulk write)."""
    t = type(v)
    if t is str:
        return _encode_str(v)
    if v is None:
        return "null"
    if t is float and _finite(v):
        return float.__repr__(v)
    return canon(v)  # bool, int, NaN, subclasses: the encoder itself


#: the chained columns, sorted, each with its JSON key and ``":"`` (the blob's fixed parts)
_SORTED_KEYS = tuple((k, KEYS_JSON[k] + ":") for k in CHAINED_SORTED)


def chain_parts(prev: str, row: dict[str, Any]) -> tuple[str, str, str]:
    """:func:`chain_hash` of ``row`` and its case and verdict as canonical JSON text, each serialised once.

    The blob is built from the canonical pieces: byte for byte what :func:`chain_hash` hashes (a
    test keeps the two equal), while the bulk path reuses the pieces as the JSONB text it copies.
    """
    case_json, verdict_json = canon_dict(row["case_json"]), canon_dict(row["verdict_json"])
    parts = []
    for k, key in _SORTED_KEYS:
        if k == "case_json":
            piece = case_json
        elif k == "verdict_json":
            piece = verdict_json
        elif k == "created_at":
            piece = _encode_str(utc(row["created_at"]).isoformat())  # type: ignore[union-attr]
        else:
            piece = _scalar(row[k])
        parts.append(key + piece)
    blob = "{" + ",".join(parts) + "}"
    digest = hashlib.sha256(f"{prev}\n{blob}".encode("utf-8", "surrogatepass")).hexdigest()
    return digest, case_json, verdict_json


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

