"""The import rules of ``docs/architecture.md``, checked over the import graph of ``src/accord``.

The graph is read with :mod:`ast`, so it sees every import: at module level, inside functions
(a lazy import still is an arrow) and under ``TYPE_CHECKING``. Its nodes are the parts of the
package: each subpackage (``accord.judges``, ``accord.gate``, ...) and each top-level module
(``accord.types``, ``accord.errors``, ...). The rules:

* no circle among the parts;
* ``judges``, ``gate`` and ``explain`` import nothing from ``store``, ``server`` or ``cli``
  (judging is pure: it never touches a database, HTTP or the terminal);
* ``learning`` imports nothing from ``review`` or ``server``;
* nothing inside the package imports the ``accord`` façade (``accord/__init__.py``) itself.

A failure lists every offending import with its file and line, so the fix is where it points.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = SRC / "accord"

#: part → parts it must not import from
FORBIDDEN: dict[str, set[str]] = {
    "judges": {"store", "server", "cli"},
    "gate": {"store", "server", "cli"},
    "explain": {"store", "server", "cli"},
    "learning": {"review", "server"},
}

#: arrows that close a circle and wait for a change in files another person is editing now; each
#: names its fix. The rules run without them, and a test fails once one is gone, so that the list
#: only ever shrinks.
PENDING: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Arrow:
    """One import: ``source`` (a module) imports ``target`` (a module) at ``path:line``."""

    source: str
    target: str
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.source} imports {self.target}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (SRC / rel).with_suffix(".py").exists() or (SRC / rel / "__init__.py").exists()


def arrows() -> list[Arrow]:
    """Every import of an ``accord`` module inside ``src/accord`` (one per module, target and line)."""
    out: set[Arrow] = set()
    for path in sorted(ROOT.rglob("*.py")):
        mod = _module_name(path)
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        rel = str(path.relative_to(SRC.parent))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=rel)):
            if isinstance(node, ast.Import):
                out |= {Arrow(mod, a.name, rel, node.lineno) for a in node.names if a.name.split(".")[0] == "accord"}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.split(".")[0] != "accord":
                    continue
                for a in node.names:  # ``from accord.x import y`` imports the module accord.x.y when there is one
                    sub = f"{target}.{a.name}"
                    out.add(Arrow(mod, sub if _is_module(sub) else target, rel, node.lineno))
    return sorted(out, key=lambda a: (a.path, a.line, a.target))


def part(module: str) -> str:
    """The part a module belongs to: ``accord.judges.rules`` → ``judges``; the façade is ``accord``."""
    bits = module.split(".")
    return bits[1] if len(bits) > 1 else "accord"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one part (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def circle_violations(all_arrows: list[Arrow]) -> list[str]:
    """The imports that close a circle among parts, grouped by circle."""
    edges: dict[str, set[str]] = defaultdict(set)
    between = [a for a in all_arrows if part(a.source) != part(a.target) and part(a.source) != "accord"]
    for a in between:
        edges[part(a.source)].add(part(a.target))
    out = []
    for comp in _cycles(edges):
        members = set(comp)
        inside = [a for a in between if part(a.source) in members and part(a.target) in members]
        out.append(f"circle among {', '.join(comp)}:\n  " + "\n  ".join(str(a) for a in inside))
    return out


def forbidden_violations(all_arrows: list[Arrow]) -> list[str]:
    return [f"{a} ({part(a.source)} must not import {part(a.target)})" for a in all_arrows
            if part(a.target) in FORBIDDEN.get(part(a.source), set())]


def facade_violations(all_arrows: list[Arrow]) -> list[str]:
    return [str(a) for a in all_arrows if a.target == "accord" and a.source != "accord"]


@pytest.fixture(scope="module")
def all_arrows() -> list[Arrow]:
    return arrows()


@pytest.fixture(scope="module")
def graph(all_arrows: list[Arrow]) -> list[Arrow]:
    """The import graph without the :data:`PENDING` arrows."""
    return [a for a in all_arrows if (a.source, a.target) not in PENDING]


def test_pending_arrows_still_exist(all_arrows: list[Arrow]) -> None:
    """A pending arrow that is gone must leave :data:`PENDING` (the list only shrinks)."""
    present = {(a.source, a.target) for a in all_arrows}
    gone = [f"{s} -> {t}" for s, t in PENDING if (s, t) not in present]
    assert not gone, "fixed, remove from PENDING: " + ", ".join(gone)


def test_the_graph_is_read(graph: list[Arrow]) -> None:
    """The reader sees the imports it must (a broken reader would pass every rule)."""
    pairs = {(part(a.source), part(a.target)) for a in graph}
    assert ("gate", "judges") in pairs and ("cli", "gate") in pairs and ("judges", "types") in pairs
    assert len(graph) > 200


def test_no_circles_among_parts(graph: list[Arrow]) -> None:
    problems = circle_violations(graph)
    assert not problems, "\n".join(problems)


def test_judging_imports_no_store_server_or_cli(graph: list[Arrow]) -> None:
    problems = [p for p in forbidden_violations(graph) if part(p.split(" imports ")[0].split(": ")[-1]) != "learning"]
    assert not problems, "\n".join(problems)


def test_learning_imports_no_review_or_server(graph: list[Arrow]) -> None:
    problems = [p for p in forbidden_violations(graph) if part(p.split(" imports ")[0].split(": ")[-1]) == "learning"]
    assert not problems, "\n".join(problems)


def test_nothing_inside_imports_the_facade(graph: list[Arrow]) -> None:
    problems = facade_violations(graph)
    assert not problems, "\n".join(problems)


def test_a_circle_is_found() -> None:
    """The circle finder itself: a planted circle is reported, a line is not."""
    planted = [Arrow("accord.a.x", "accord.b.y", "a.py", 1), Arrow("accord.b.y", "accord.c", "b.py", 2),
               Arrow("accord.c", "accord.a.z", "c.py", 3), Arrow("accord.c", "accord.d", "c.py", 4)]
    (circle,) = circle_violations(planted)
    assert circle.startswith("circle among a, b, c") and "c.py:3" in circle and "c.py:4" not in circle
    assert circle_violations(planted[:2]) == []


#: private names used across parts that wait for their owners (each with its fix); the list only shrinks
PRIVATE_PENDING: dict[tuple[str, str], str] = {}


def private_uses() -> list[tuple[str, str, str]]:
    """``(module, used name, where)`` for every private name of another part that a module imports
    (``from accord.x import _y``) or reads off an imported module (``x._y``)."""
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        mod = _module_name(path)
        rel = str(path.relative_to(SRC.parent))
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        modules: dict[str, str] = {}  # local name -> accord module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "accord" and not node.level:
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    if _is_module(full):
                        modules[a.asname or a.name] = full
                    elif a.name.startswith("_") and part(node.module) != part(mod):
                        out.append((mod, full, f"{rel}:{node.lineno}"))
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname and a.name.split(".")[0] == "accord":
                        modules[a.asname] = a.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                    and node.attr.startswith("_") and not node.attr.startswith("__")
                    and part(modules[node.value.id]) != part(mod)):
                out.append((mod, f"{modules[node.value.id]}.{node.attr}", f"{rel}:{node.lineno}"))
    return out


def test_no_private_names_across_parts() -> None:
    found = private_uses()
    problems = [f"{where}: {mod} uses {name}" for mod, name, where in found if (mod, name) not in PRIVATE_PENDING]
    assert not problems, "\n".join(problems)
    gone = [f"{m} -> {n}" for m, n in PRIVATE_PENDING if not any((m, n) == (a, b) for a, b, _ in found)]
    assert not gone, "fixed, remove from PRIVATE_PENDING: " + ", ".join(gone)



#: the longest a module under ``src/accord`` may be (docs/architecture.md, rule 9)
MAX_LINES = 600
#: modules still longer, each waiting to be split by responsibility; the list only shrinks
LONG_PENDING: dict[str, str] = {}


def test_no_module_is_longer_than_the_bar() -> None:
    lengths = {str(p.relative_to(SRC)): len(p.read_text(encoding="utf-8").splitlines()) for p in ROOT.rglob("*.py")}
    long = [f"{path}: {n} lines (> {MAX_LINES})" for path, n in sorted(lengths.items())
            if n > MAX_LINES and path not in LONG_PENDING]
    assert not long, "split by responsibility:\n" + "\n".join(long)
    done = [path for path in LONG_PENDING if lengths.get(path, 0) <= MAX_LINES]
    assert not done, "now short, remove from LONG_PENDING: " + ", ".join(done)
