"""What a batch audit judges: cases from JSONL, Parquet, CSV or the audit store itself.

Every reader gives :class:`Item` objects in input order: the case, and when the input knows it,
the decision it was given before (``original_decision``), so the summary can count what changed.
A bad row is one :class:`~accord.errors.InputError` naming the file, the row and the field.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from accord.errors import InputError
from accord.types import Case

__all__ = ["FORMATS", "Item", "read_items", "read_store_items"]

#: input formats by file suffix
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet",
           ".csv": "csv"}
#: the extra key (JSONL) or column (Parquet, CSV) that carries a case's earlier decision
ORIGINAL = "original_decision"
_DECISIONS = ("allow", "revise", "escalate", "block")
_CASE_FIELDS = tuple(Case.model_fields)


@dataclass(frozen=True, slots=True)
class Item:
    """One case to judge, with what is known of its earlier verdict."""

    case: Case
    original_decision: str | None = None
    original_trace_id: str | None = None


def _message(where: str, e: ValidationError) -> str:
    err = e.errors()[0]
    loc = ".".join(str(x) for x in err["loc"])
    msg = "unknown field; check the spelling" if err["type"] == "extra_forbidden" else err["msg"]
    return f"{where}: {loc + ': ' if loc else ''}{msg}"


def _item(obj: dict[str, Any], where: str) -> Item:
    obj = dict(obj)
    original = obj.pop(ORIGINAL, None)
    if original is not None and original not in _DECISIONS:
        raise InputError(f"{where}: {ORIGINAL}: {original!r} is not a decision",
                         hint="one of allow, revise, escalate, block (or leave it empty)")
    try:
        case = Case.model_validate(obj)
    except ValidationError as e:
        raise InputError(_message(where, e),
                         hint=f"a case has the fields {', '.join(_CASE_FIELDS)} (and optionally {ORIGINAL})") from None
    return Item(case, original)


def read_items(path: str | Path, fmt: str | None = None) -> list[Item]:
    """Read cases from a JSONL, Parquet or CSV file (by suffix, or ``fmt``), in file order.

    JSONL: one case object per line, as ``accord check --input`` reads. Parquet and CSV: one case
    per row, columns named after the case's fields (``context``, ``action``, ``id``,
    ``community``, ``actor``; ``meta`` as a JSON object). Empty cells are missing values. Any of
    them may carry ``original_decision``, the decision given before.
    """
    p = Path(path)
    fmt = fmt or FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise InputError(f"{p}: cannot tell the format from the suffix {p.suffix!r}",
                         hint="use .jsonl, .parquet or .csv, or pass --format jsonl|parquet|csv")
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if fmt == "jsonl":
        return list(_jsonl(p))
    if fmt == "parquet":
        return list(_parquet(p))
    if fmt == "csv":
        return list(_csv(p))
    raise InputError(f"unknown input format {fmt!r}", hint="one of jsonl, parquet, csv")


def _jsonl(p: Path) -> Iterator[Item]:
    from accord.jsonl import parse_jsonl

    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{p}: cannot read: {e}") from None
    for n, obj in parse_jsonl(text, str(p), "case", error=InputError):
        yield _item(obj, f"{p}:{n}")


def _table_row(row: dict[str, Any], where: str) -> Item:
    obj: dict[str, Any] = {}
    for k, v in row.items():
        if v is None or (isinstance(v, str) and v == "" and k != "action"):
            continue
        if k == "meta" and isinstance(v, str):
            try:
                v = json.loads(v)
            except json.JSONDecodeError as e:
                raise InputError(f"{where}: meta: not valid JSON ({e.msg})") from None
        obj[k] = v
    return _item(obj, where)


def _check_columns(p: Path, names: list[str]) -> None:
    unknown = [c for c in names if c not in _CASE_FIELDS and c != ORIGINAL]
    if unknown:
        raise InputError(f"{p}: unknown column(s) {', '.join(map(repr, unknown))}",
                         hint=f"columns are the case's fields: {', '.join(_CASE_FIELDS)}, and {ORIGINAL}")
    if "action" not in names:
        raise InputError(f"{p}: no 'action' column", hint="every case needs the action (the AI's response or tool call)")


def _parquet(p: Path) -> Iterator[Item]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("reading Parquet needs pyarrow", hint="pip install 'accord[scale]'") from None
    try:
        f = pq.ParquetFile(p)
    except Exception as e:  # pyarrow raises its own errors for a file that is not Parquet
        raise InputError(f"{p}: not a Parquet file ({e})") from None
    _check_columns(p, f.schema_arrow.names)
    n = 0
    for batch in f.iter_batches(batch_size=8192):
        for row in batch.to_pylist():
            n += 1
            yield _table_row(row, f"{p}: row {n}")


def _csv(p: Path) -> Iterator[Item]:
    import csv

    try:
        fh = open(p, encoding="utf-8", newline="")  # noqa: SIM115 - closed by the with below
    except OSError as e:
        raise InputError(f"{p}: cannot read: {e}") from None
    with fh:
        reader = csv.DictReader(fh)
        _check_columns(p, list(reader.fieldnames or []))
        try:
            for n, row in enumerate(reader, 1):
                if None in row:
                    raise InputError(f"{p}: row {n}: more cells than columns")
                yield _table_row(row, f"{p}: row {n}")
        except (csv.Error, UnicodeDecodeError) as e:
            raise InputError(f"{p}: cannot read as CSV: {e}") from None


#: the source of re-audit rows (``reaudit:<label>``); the store input leaves them out unless asked
REAUDIT_PREFIX = "reaudit:"


def read_store_items(db: str | None, *, since: datetime | None = None, until: datetime | None = None,
                     source: str | None = None, decision: str | None = None,
                     max_id: int | None = None) -> tuple[list[Item], str, int]:
    """Every recorded decision in a window, oldest first, as items to judge again.

    The original decision and trace id come with each case, so the summary counts what changed
    and a re-audit written back to the store points to the decision it re-judges. Earlier
    re-audits (source ``reaudit:...``) are left out unless ``source`` names one. Returns the
    items, the store's URL and the newest row id read: pass it back as ``max_id`` when the job
    resumes, so that decisions recorded since (new traffic, this job's own re-audit) do not
    change what the job judges.
    """
    from accord.store import Store

    with Store.open(db) as store:
        top = store.last_decision_id() if max_id is None else max_id
        items = [Item(r.case, r.decision, r.trace_id)
                 for r in store.iter_decisions(since=since, until=until, source=source, decision=decision, max_id=top,
                                               exclude_source_prefix=None if source else REAUDIT_PREFIX)]
        return items, store.url, top
