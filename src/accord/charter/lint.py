"""Lint a charter: every mistake in a file (file, line, field), and advice on a valid charter.

:func:`check_charter_file` collects *every* problem of a charter file, where
:func:`~accord.charter.loader.load_charter` stops at the first: a team fixing a charter should see
all seven mistakes at once, not one per run. :func:`lint_charter` then gives advice on a charter
that validated (what will work but is probably not what the team meant).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from accord.charter.loader import default_charter_text, expansion_problem, field_path, yaml_line
from accord.charter.model import Charter, reference_errors


@dataclass(frozen=True)
class Problem:
    """One mistake in a charter file: where it is and what is wrong."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        if self.line <= 0:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


def check_charter_file(path: str | Path | None) -> tuple[Charter | None, list[Problem]]:
    """Validate a charter file and return it with *every* problem found (``None`` if invalid).

    ``None`` checks the packaged default charter. A file that cannot be read or parsed as YAML
    gives one problem (nothing further can be checked).
    """
    if path is None:
        return check_charter_text(default_charter_text(), "<default charter>")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Problem(str(p), 0, "<file>", "no such charter file (run `accord init` to write a starter charter)")]
    except (OSError, UnicodeDecodeError) as e:
        return None, [Problem(str(p), 0, "<file>", f"cannot read charter: {e}")]
    return check_charter_text(text, str(p))


def check_charter_text(text: str, filename: str = "<charter>") -> tuple[Charter | None, list[Problem]]:
    """Like :func:`check_charter_file`, for YAML text."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        return None, [Problem(filename, mark.line + 1 if mark is not None else 0, "<yaml>", f"not valid YAML: {problem}")]
    if node is None:
        return None, [Problem(filename, 1, "<root>", "the charter is empty (run `accord init` for a starter charter)")]
    too_big = expansion_problem(node)  # a "billion laughs" file would hang every step below
    if too_big is not None:
        return None, [Problem(filename, too_big[0], "<yaml>", too_big[1])]
    problems = _duplicate_keys(node, filename, ())
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        return None, [*problems, Problem(filename, node.start_mark.line + 1, "<root>", "a charter must be a mapping with 'principles'")]
    try:
        charter = Charter.model_validate(data, context={"defer_references": True})
    except ValidationError as e:
        problems += _validation_problems(e, node, filename)
        problems += [Problem(filename, yaml_line(node, loc), field_path(loc), msg) for loc, msg in _raw_reference_errors(data)
                     if not any(p.field == field_path(loc) for p in problems)]
        return None, _sorted(problems)
    problems += [Problem(filename, yaml_line(node, loc), field_path(loc), msg) for loc, msg in reference_errors(charter)]
    return (None if problems else charter), _sorted(problems)


def _sorted(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[int, str, str]] = set()
    out = []
    for p in sorted(problems, key=lambda p: (p.line, p.field)):
        if (p.line, p.field, p.message) not in seen:
            seen.add((p.line, p.field, p.message))
            out.append(p)
    return out


def _duplicate_keys(node: yaml.Node, filename: str, loc: tuple[Any, ...]) -> list[Problem]:
    out: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            if k.value in seen:
                out.append(Problem(filename, k.start_mark.line + 1, field_path((*loc, k.value)), f"duplicate key {k.value!r}"))
            seen.add(k.value)
            out += _duplicate_keys(v, filename, (*loc, k.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            out += _duplicate_keys(v, filename, (*loc, i))
    return out


def _validation_problems(e: ValidationError, node: yaml.Node, filename: str) -> list[Problem]:
    errors = e.errors()
    out: list[Problem] = []
    explained: set[tuple[Any, ...]] = set()  # "missing" fields that an unknown (misspelt) key explains
    done: set[tuple[Any, ...]] = set()  # a union gives one error per member: report a location once
    for err in errors:
        if err["type"] != "extra_forbidden":
            continue
        loc = tuple(err["loc"])
        missing = [str(x["loc"][-1]) for x in errors if x["type"] == "missing" and tuple(x["loc"][:-1]) == loc[:-1]]
        close = difflib.get_close_matches(str(loc[-1]), missing, n=1)
        if close:
            explained.add((*loc[:-1], close[0]))
        guess = f"; did you mean {close[0]!r}?" if close else "; check the spelling (`accord init` shows every field)"
        out.append(Problem(filename, yaml_line(node, loc), field_path(loc), f"unknown field {loc[-1]!r}{guess}"))
        done.add(loc)
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden" or loc in explained or loc in done:
            continue
        # a tagged or plain union reports "function-after[...]" / member names in the path: drop them
        clean = tuple(part for part in loc if isinstance(part, int) or not _is_union_tag(str(part)))
        if clean in done:
            continue
        done.add(clean)
        msg = err["msg"]
        if "input" in err and err["type"] != "missing" and not isinstance(err["input"], dict | list):
            msg = f"{msg} (got {err['input']!r})"
        out.append(Problem(filename, yaml_line(node, clean), field_path(clean), msg))
    return out


def _is_union_tag(part: str) -> bool:
    return part[:1].isupper() or "[" in part or part in ("str", "int", "float", "bool", "list", "dict")


def _raw_reference_errors(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    """Duplicate ids and unknown principles, read off the raw YAML (the charter did not validate)."""
    out: list[tuple[tuple[Any, ...], str]] = []
    def _list(v: Any) -> list[Any]:
        return v if isinstance(v, list) else []

    principles = _list(data.get("principles"))
    ids: list[str] = [p["id"] for p in principles if isinstance(p, dict) and isinstance(p.get("id"), str)]
    known = set(ids)
    listing = ", ".join(ids)
    rules = _list(data.get("rules"))
    for where, items in (("principles", principles), ("rules", rules)):
        seen: set[str] = set()
        for i, x in enumerate(items):
            xid = x.get("id") if isinstance(x, dict) else None
            if isinstance(xid, str) and xid in seen:
                out.append(((where, i, "id"), f"duplicate id {xid!r}; ids must be unique"))
            if isinstance(xid, str):
                seen.add(xid)
    for i, r in enumerate(rules):
        pid = r.get("principle") if isinstance(r, dict) else None
        if isinstance(pid, str) and pid not in known:
            out.append((("rules", i, "principle"), f"unknown principle {pid!r}; known: {listing}"))
    communities: dict[Any, Any] = data["communities"] if isinstance(data.get("communities"), dict) else {}
    for name, c in communities.items():
        for field in ("weights", "thresholds"):
            vals = c.get(field) if isinstance(c, dict) else None
            for pid in vals if isinstance(vals, dict) else {}:
                if pid not in known:
                    out.append((("communities", name, field, pid), f"unknown principle {pid!r}; known: {listing}"))
    return out


def lint_charter(charter: Charter) -> list[str]:
    """Warnings for a charter that validated; an empty list means nothing to say."""
    warnings: list[str] = []
    ruled = {r.principle for r in charter.rules}
    for p in charter.principles:
        ex = p.examples
        if not ex.violates and not ex.upholds and p.id not in ruled:
            warnings.append(f"principles.{p.id}: no examples and no rules; the judge can only learn it from feedback")
        elif len(ex.violates) < 2:
            warnings.append(f"principles.{p.id}: fewer than 2 'violates' examples; add some so the model learns it")
        if len(ex.upholds) < 1:
            warnings.append(f"principles.{p.id}: no 'upholds' examples; the model may over-flag near misses")
    for r in charter.rules:
        if r.decision == "allow":
            warnings.append(f"rules.{r.id}: an 'allow' rule skips the value model for what it matches; be sure")
    for name, c in charter.communities.items():
        if not c.weights and not c.thresholds:
            warnings.append(f"communities.{name}: no weights or thresholds; it decides like the default")
    return warnings
