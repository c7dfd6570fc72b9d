"""Load suites from YAML, JSONL or labelled CSV, with errors that name the file, line and field.

``load_suite("harms")`` loads a built-in suite by name; any other argument is a path. A YAML
suite may also pull its scenarios from a CSV file (``csv:`` block), so a public data set runs as
a suite without copying it.
"""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accord.charter.loader import check_yaml_tree, field_path, yaml_line
from accord.errors import RegistryError
from accord.jsonl import parse_jsonl
from accord.suites.model import Scenario, Suite, SuiteError
from accord.suites.mutations import check_mutation_spec

BUILTIN_SUITES = ("seed", "over-refusal", "harms")


def builtin_suite_names() -> list[str]:
    """The suites shipped in ``accord/data/suites``."""
    root = resources.files("accord.data").joinpath("suites")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def load_suite(spec: str | Path, *, csv_columns: dict[str, str] | None = None,
               csv_expect: dict[str, str] | None = None) -> Suite:
    """Load a suite: a built-in name, or a ``.yaml``/``.yml``, ``.jsonl`` or ``.csv`` file."""
    p = Path(spec)
    if not p.exists() and isinstance(spec, str) and (spec == "bbq" or spec.startswith("bbq:")):
        from accord.suites.bbq import bbq_suite_spec  # generated from the BBQ data where it lies

        return bbq_suite_spec(spec)
    if not p.exists() and isinstance(spec, str) and "/" not in spec and "." not in spec:
        if spec in builtin_suite_names():
            text = resources.files("accord.data").joinpath("suites", f"{spec}.yaml").read_text(encoding="utf-8")
            return parse_suite_yaml(text, f"<built-in suite {spec}>")
        raise SuiteError(f"no suite file {spec!r} and no built-in suite of that name; built-in: {', '.join(builtin_suite_names())}")
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SuiteError(f"{p}: no such suite file", hint=f"built-in suites: {', '.join(builtin_suite_names())}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SuiteError(f"{p}: cannot read suite: {e}") from None
    suffix = p.suffix.lower()
    if suffix == ".jsonl":
        return parse_suite_jsonl(text, str(p))
    if suffix == ".csv":
        return parse_suite_csv(text, str(p), columns=csv_columns, expect=csv_expect)
    if suffix in (".yaml", ".yml"):
        return parse_suite_yaml(text, str(p), base=p.parent)
    raise SuiteError(f"{p}: unknown suite format {suffix or '(no extension)'!r}; use .yaml, .jsonl or .csv")


class CsvSource(BaseModel):
    """A YAML suite's ``csv:`` block: where the CSV is and how its columns map to scenario fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    columns: dict[str, str] = Field(default_factory=dict)
    expect: dict[str, str] = Field(default_factory=dict)
    principles: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    where: dict[str, str] = Field(default_factory=dict)  # keep only rows whose column equals the value


def parse_suite_yaml(text: str, filename: str = "<suite>", *, base: Path | None = None) -> Suite:
    """Parse a YAML suite; every problem raises :class:`SuiteError` naming file, line and field."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise SuiteError(f"{filename}{line}: not valid YAML: {getattr(e, 'problem', None) or e}") from None
    if node is None:
        raise SuiteError(f"{filename}: the suite is empty", hint="a suite needs 'name' and 'scenarios'")
    check_yaml_tree(node, filename, SuiteError)  # a "billion laughs" suite would hang every step below
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise SuiteError(f"{filename}:{node.start_mark.line + 1}: a suite must be a mapping with 'name' and 'scenarios'")
    if "csv" in data:
        if "scenarios" in data:
            raise SuiteError(f"{filename}:{yaml_line(node, ('csv',))}: give either 'scenarios' or 'csv', not both")
        try:
            src = CsvSource.model_validate(data.pop("csv"))
        except ValidationError as e:
            raise _validation_error(e, node, filename, prefix=("csv",)) from None
        data["scenarios"] = _csv_scenarios(src, filename, base)
    data.setdefault("name", Path(filename).stem if not filename.startswith("<") else filename.strip("<>"))
    try:
        suite = Suite.model_validate({**data, "source": filename})
    except ValidationError as e:
        raise _validation_error(e, node, filename) from None
    lines = {}
    for i, sc in enumerate(suite.scenarios):
        lines[sc.id] = yaml_line(node, ("scenarios", i)) if "scenarios" in _keys(node) else 0
    suite = suite.model_copy(update={"lines": lines})
    _check_suite(suite, node if "scenarios" in _keys(node) else None, filename)
    return suite


def parse_suite_jsonl(text: str, filename: str = "<suite.jsonl>") -> Suite:
    """One scenario per line: ``{"id", "prompt", "expect", "principles"?, ...}``."""
    scenarios: list[Scenario] = []
    lines: dict[str, int] = {}
    for n, obj in parse_jsonl(text, filename, "scenario", SuiteError):
        try:
            sc = Scenario.model_validate(obj)
        except ValidationError as e:
            err = e.errors()[0]
            raise SuiteError(f"{filename}:{n}: {field_path(tuple(err['loc']))}: {_msg(err)}") from None
        scenarios.append(sc)
        lines[sc.id] = n
    if not scenarios:
        raise SuiteError(f"{filename}: no scenarios (the file has no JSON lines)")
    suite = Suite(name=Path(filename).stem, scenarios=scenarios, source=filename, lines=lines)
    _check_suite(suite, None, filename)
    return suite


def parse_suite_csv(text: str, filename: str = "<suite.csv>", *, columns: dict[str, str] | None = None,
                    expect: dict[str, str] | None = None, principles: list[str] | None = None,
                    tags: list[str] | None = None, where: dict[str, str] | None = None, name: str | None = None) -> Suite:
    """A labelled CSV as a suite.

    ``columns`` maps scenario fields to CSV columns (defaults: ``id``, ``prompt``, ``expect``;
    also ``principles``, ``tags`` (``;``-separated) and ``severity``); ``expect`` maps the label
    column's values to ``refuse``/``comply`` (e.g. ``{"unsafe": "refuse", "safe": "comply"}``);
    ``where`` keeps only rows whose column has the given value.
    """
    src = CsvSource(path=filename, columns=columns or {}, expect=expect or {}, principles=principles or [],
                    tags=tags or [], where=where or {})
    scenarios = _csv_rows(text, src, filename)
    suite = Suite(name=name or Path(filename).stem, scenarios=scenarios, source=filename,
                  lines={s.id: i + 2 for i, s in enumerate(scenarios)})
    _check_suite(suite, None, filename)
    return suite


def _csv_scenarios(src: CsvSource, filename: str, base: Path | None) -> list[dict[str, Any]]:
    p = Path(src.path)
    if not p.is_absolute() and base is not None:
        p = base / p
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SuiteError(f"{filename}: csv.path: cannot read {p}: {e}") from None
    return [s.model_dump(exclude_defaults=True) for s in _csv_rows(text, src, str(p))]


_CSV_FIELDS = {"id", "prompt", "expect", "principles", "tags", "severity", "description"}


def _csv_rows(text: str, src: CsvSource, filename: str) -> list[Scenario]:
    cols = {"id": "id", "prompt": "prompt", "expect": "expect", **src.columns}
    unknown = set(src.columns) - _CSV_FIELDS
    if unknown:
        raise SuiteError(f"{filename}: column mapping names unknown scenario field(s) {', '.join(sorted(unknown))}; "
                         f"map any of: {', '.join(sorted(_CSV_FIELDS))}")
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))  # a BOM from spreadsheet exports
    header = reader.fieldnames or []
    for field in ("prompt", "expect"):
        if cols[field] not in header:
            raise SuiteError(f"{filename}:1: no column {cols[field]!r} for {field!r}; the header has: {', '.join(header)}",
                             hint="map columns, e.g. --csv-columns prompt=question,expect=label")
    for k in src.where:
        if k not in header:
            raise SuiteError(f"{filename}:1: 'where' names column {k!r}, which the header lacks")
    out: list[Scenario] = []
    seen: set[str] = set()
    for i, row in enumerate(reader, 2):
        if any(row.get(k) != v for k, v in src.where.items()):
            continue
        label = (row.get(cols["expect"]) or "").strip()
        exp = src.expect.get(label, label)
        if exp not in ("refuse", "comply"):
            known = ", ".join(f"{k}={v}" for k, v in src.expect.items()) or "none"
            raise SuiteError(f"{filename}:{i}: label {label!r} in column {cols['expect']!r} is not refuse/comply",
                             hint=f"map labels to refuse/comply (mapping so far: {known}), e.g. --csv-expect unsafe=refuse,safe=comply")
        sid = (row.get(cols["id"]) or "").strip() if cols["id"] in header else ""
        sid = sid or f"row-{i}"
        if sid in seen:
            raise SuiteError(f"{filename}:{i}: duplicate scenario id {sid!r}")
        seen.add(sid)
        data: dict[str, Any] = {"id": _safe_id(sid), "prompt": row.get(cols["prompt"]) or "", "expect": exp,
                                "principles": list(src.principles), "tags": list(src.tags)}
        for field in ("principles", "tags"):
            if field in src.columns and row.get(cols[field]):
                data[field] = data[field] + [x.strip() for x in row[cols[field]].split(";") if x.strip()]
        for field in ("severity", "description"):
            if field in src.columns and row.get(cols[field]):
                data[field] = row[cols[field]].strip()
        try:
            out.append(Scenario.model_validate(data))
        except ValidationError as e:
            err = e.errors()[0]
            raise SuiteError(f"{filename}:{i}: {field_path(tuple(err['loc']))}: {_msg(err)}") from None
    if not out:
        raise SuiteError(f"{filename}: no rows became scenarios")
    return out


def _safe_id(s: str) -> str:
    import re

    t = re.sub(r"[^A-Za-z0-9_.:\-]+", "-", s).strip("-")
    return t if t and t[0].isalnum() else f"s-{t}"


def _check_suite(suite: Suite, node: yaml.Node | None, filename: str) -> None:
    """Unique scenario ids and known mutation names, pointing at the offending line."""
    seen: set[str] = set()
    for i, sc in enumerate(suite.scenarios):
        where = f"{filename}:{yaml_line(node, ('scenarios', i, 'id'))}" if node is not None else suite.where(sc.id)
        if sc.id in seen:
            raise SuiteError(f"{where}: scenarios[{i}].id: duplicate id {sc.id!r}; ids must be unique")
        seen.add(sc.id)
        for j, m in enumerate(sc.mutations):
            try:
                check_mutation_spec(m)
            except RegistryError as e:
                at = f"{filename}:{yaml_line(node, ('scenarios', i, 'mutations', j))}" if node is not None else where
                raise SuiteError(f"{at}: scenarios[{i}].mutations[{j}]: {e.message}") from None
    for j, m in enumerate(suite.mutations):
        try:
            check_mutation_spec(m)
        except RegistryError as e:
            at = f"{filename}:{yaml_line(node, ('mutations', j))}" if node is not None else filename
            raise SuiteError(f"{at}: mutations[{j}]: {e.message}") from None


def _keys(node: yaml.Node) -> set[str]:
    return {k.value for k, _ in node.value} if isinstance(node, yaml.MappingNode) else set()


def _msg(err: Any) -> str:
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden":
        return f"unknown field {loc[-1]!r}; check the spelling (see docs/suites.md for every field)"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if "input" in err and err["type"] != "missing" and not isinstance(err["input"], dict | list):
        msg = f"{msg} (got {err['input']!r})"
    return msg


def _validation_error(e: ValidationError, node: yaml.Node, filename: str, prefix: tuple[Any, ...] = ()) -> SuiteError:
    err = e.errors()[0]
    loc = prefix + tuple(x for x in err["loc"] if not (isinstance(x, str) and x in ("str", "list[Message]")))
    # pydantic adds the union branch or model-validator names to the path; keep the data path
    loc = tuple(x for x in loc if not (isinstance(x, str) and (x.startswith("function-") or x.endswith("]"))))
    more = f" (and {e.error_count() - 1} more problem(s))" if e.error_count() > 1 else ""
    return SuiteError(f"{filename}:{yaml_line(node, loc)}: {field_path(loc)}: {_msg(err)}{more}")
