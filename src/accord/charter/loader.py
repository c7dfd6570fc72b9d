"""Load a charter from YAML with errors that name the file, the line and the field path."""

from __future__ import annotations

import difflib
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from accord.charter.model import Charter, reference_errors
from accord.errors import AccordError, CharterError

DEFAULT_CHARTER = "default_charter.yaml"
#: the most YAML nodes a charter may expand to once its aliases are followed: a "billion laughs"
#: file of a few hundred bytes expands to billions, which would hang every later step
MAX_NODES = 200_000
#: the largest charter file read (a charter is hand-written; its examples are a few hundred lines)
MAX_BYTES = 16 * 1024 * 1024


def default_charter_text() -> str:
    """The packaged default charter's YAML text."""
    return resources.files("accord.data").joinpath(DEFAULT_CHARTER).read_text(encoding="utf-8")


def load_charter(path: str | Path | None = None) -> Charter:
    """Load and strictly validate a charter; ``None`` loads the packaged default."""
    if path is None:
        return parse_charter(default_charter_text(), "<default charter>")
    p = Path(path)
    try:
        if p.stat().st_size > MAX_BYTES:
            raise CharterError(f"{p}: the charter file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CharterError(f"{p}: no such charter file", hint="run `accord init` to write a starter charter") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CharterError(f"{p}: cannot read charter: {e}") from None
    return parse_charter(text, str(p))


def parse_charter(text: str, filename: str = "<charter>") -> Charter:
    """Parse YAML text into a :class:`Charter`; every problem raises :class:`CharterError`."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise CharterError(f"{filename}{line}: not valid YAML: {problem}") from None
    if node is None:
        raise CharterError(f"{filename}: the charter is empty", hint="run `accord init` for a starter charter")
    check_yaml_tree(node, filename)
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise CharterError(f"{filename}:{node.start_mark.line + 1}: a charter must be a mapping with 'principles'")
    try:
        charter = Charter.model_validate(data, context={"defer_references": True})
    except ValidationError as e:
        errors = e.errors()
        # a typo shows up as an unknown field *and* a missing one: report the typo first
        err = next((x for x in errors if x["type"] == "extra_forbidden"), errors[0])
        loc = tuple(err["loc"])
        more = f" (and {e.error_count() - 1} more problem(s))" if e.error_count() > 1 else ""
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            missing = [str(x["loc"][-1]) for x in errors if x["type"] == "missing" and tuple(x["loc"][:-1]) == loc[:-1]]
            close = difflib.get_close_matches(str(loc[-1]), missing, n=1)
            guess = f"; did you mean {close[0]!r}?" if close else "; check the spelling (`accord init` shows every field)"
            msg = f"unknown field {loc[-1]!r}{guess}"
        elif "input" in err and err["type"] not in ("missing",) and not isinstance(err["input"], dict | list):
            msg = f"{msg} (got {err['input']!r})"
        raise CharterError(f"{filename}:{yaml_line(node, loc)}: {field_path(loc)}: {msg}{more}") from None
    problems = reference_errors(charter)
    if problems:
        loc, msg = problems[0]
        raise CharterError(f"{filename}:{yaml_line(node, loc)}: {field_path(loc)}: {msg}")
    return charter


def field_path(loc: tuple[Any, ...]) -> str:
    """A validation error's location as a field path: ``("principles", 2, "id")`` → ``principles[2].id``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def yaml_line(node: yaml.Node, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the deepest YAML node the field path reaches."""
    best = node
    for part in loc:
        nxt = None
        if isinstance(best, yaml.MappingNode):
            for k, v in best.value:
                if k.value == str(part):
                    # point at the key itself when the path ends on it (unknown field)
                    nxt = v if part != loc[-1] else k
                    break
        elif isinstance(best, yaml.SequenceNode) and isinstance(part, int) and part < len(best.value):
            nxt = best.value[part]
        if nxt is None:
            break
        best = nxt
    return best.start_mark.line + 1


def expansion_problem(root: yaml.Node) -> tuple[int, str] | None:
    """``(line, message)`` when a composed YAML document expands past :data:`MAX_NODES` nodes through
    its aliases (a "billion laughs") or an alias refers to the node that holds it; else ``None``.

    The composed YAML shares one node for every use of an anchor, so the expanded size is counted
    once per node (memoised): linear in the file, however far its aliases would expand.
    """
    size: dict[int, int] = {}
    # iterative post-order walk: a deeply nested file must not exhaust Python's recursion limit
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    on_path: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            n = 1 + sum(size[id(c)] for c in _children(node))
            if n > MAX_NODES:
                return (node.start_mark.line + 1, f"the charter expands to more than {MAX_NODES:,} YAML nodes "
                        "through its aliases (&anchor / *alias); write it out without nested aliases")
            size[key] = n
            continue
        if key in size:
            continue
        if key in on_path:
            return node.start_mark.line + 1, "a YAML alias refers to the node that holds it"
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in size)
    return None


def check_yaml_tree(root: yaml.Node, filename: str, error: type[AccordError] = CharterError) -> None:
    """Refuse a composed YAML document (a charter's, or a suite's) before it is read into data: one
    that expands too far through its aliases (:func:`expansion_problem`; a "billion laughs" would
    hang every later step) or that repeats a key in a mapping (YAML keeps the last silently).
    Raises ``error`` naming the file and line."""
    problem = expansion_problem(root)
    if problem is not None:
        raise error(f"{filename}:{problem[0]}: {problem[1]}")
    _check_duplicate_keys(root, filename, set(), error)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [x for kv in node.value for x in kv]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_duplicate_keys(node: yaml.Node, filename: str, done: set[int], error: type[AccordError]) -> None:
    if id(node) in done:  # a node shared through aliases is checked once
        return
    done.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            if k.value in seen:
                raise error(f"{filename}:{k.start_mark.line + 1}: duplicate key {k.value!r}")
            seen.add(k.value)
            _check_duplicate_keys(v, filename, done, error)
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            _check_duplicate_keys(v, filename, done, error)
