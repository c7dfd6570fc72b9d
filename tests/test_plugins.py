"""One plugin mechanism (accord.plugins): judges, encoders, mutations and targets come from entry points.

A third-party package is simulated the way Python finds a real one: a folder on ``sys.path`` with a
``*.dist-info`` holding ``entry_points.txt`` and the plugin's module beside it.
"""

from __future__ import annotations

import sys
import textwrap
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from accord.errors import RegistryError
from accord.judges.base import JUDGES, get_judge, judge_names, register_judge
from accord.learning.encoders import ENCODERS, get_encoder
from accord.plugins import GROUPS, Registry
from accord.suites.mutations import MUTATIONS, get_mutation, mutate
from accord.suites.targets import TARGETS, get_target

ROOT = Path(__file__).resolve().parents[1]
REGISTRIES = {"accord.judges": JUDGES, "accord.encoders": ENCODERS, "accord.mutations": MUTATIONS,
              "accord.targets": TARGETS}

PLUGIN = '''
"""A third-party plugin package: one of each kind."""
import numpy as np

from accord.types import Score


class ShoutJudge:
    """Flags every principle of a case written in capitals."""

    name = "shout"
    version = "shout-1"

    def judge(self, cases, charter):
        return [[Score(principle=p, score=0.99 if c.action_text.isupper() else 0.01, source=self.name)
                 for p in charter.principle_ids] for c in cases]


def pirate(prompt, rng):
    """Asks like a pirate."""
    return "Arr! " + prompt


class EchoTarget:
    def __init__(self, rest):
        self.rest = rest

    def respond(self, prompt):
        return self.rest + ": " + prompt


class TinyEncoder:
    name = "tiny"
    dim = 4

    def encode(self, texts):
        return np.ones((len(texts), 4), np.float32) / 2
'''


@pytest.fixture
def third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An installed package ``accord-extras`` declaring a judge, an encoder, a mutation and a target."""
    (tmp_path / "accord_extras_plugin.py").write_text(textwrap.dedent(PLUGIN), encoding="utf-8")
    info = tmp_path / "accord_extras-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: accord-extras\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(textwrap.dedent("""
        [accord.judges]
        shout = accord_extras_plugin:ShoutJudge
        [accord.encoders]
        tiny = accord_extras_plugin:TinyEncoder
        [accord.mutations]
        pirate = accord_extras_plugin:pirate
        [accord.targets]
        echo = accord_extras_plugin:EchoTarget
        [accord.judges]
        broken = accord_extras_no_such_module:Judge
        """), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    for reg in REGISTRIES.values():
        reg.reload()
    yield
    for reg, name in ((JUDGES, "shout"), (ENCODERS, "tiny"), (MUTATIONS, "pirate"), (TARGETS, "echo")):
        reg.unregister(name)
    sys.modules.pop("accord_extras_plugin", None)
    monkeypatch.undo()
    for reg in REGISTRIES.values():
        reg.reload()


def test_a_third_party_package_adds_one_of_each_kind(third_party: None) -> None:
    from accord.gate.gate import Gate

    assert "shout" in judge_names() and JUDGES.origin("shout") == ("accord_extras_plugin:ShoutJudge", "accord-extras")
    gate = Gate.from_charter(judges="shout")
    assert gate.check("", "DELETE EVERYTHING NOW").decision != "allow"
    assert gate.check("", "see you tomorrow").decision == "allow"
    assert mutate("hello", "pirate") == "Arr! hello" and get_mutation("pirate").description == "Asks like a pirate."
    assert get_target("echo:bot").respond("hi") == "bot: hi"
    assert get_encoder("tiny").encode(["a", "b"]).shape == (2, 4)


def test_a_plugin_that_cannot_be_imported_is_a_clear_error(third_party: None) -> None:
    with pytest.raises(RegistryError, match=r"judge 'broken' cannot be loaded from entry point "
                                            r"'accord_extras_no_such_module:Judge' \(group 'accord.judges'\): "
                                            r"ModuleNotFoundError"):
        get_judge("broken")


@pytest.mark.parametrize(("call", "kind", "group"), [
    (lambda: get_judge("nope"), "judge", "accord.judges"),
    (lambda: get_encoder("nope"), "encoder", "accord.encoders"),
    (lambda: get_mutation("nope"), "mutation", "accord.mutations"),
    (lambda: get_target("nope:x"), "target", "accord.targets"),
])
def test_an_unknown_name_names_the_group_and_the_name(call, kind: str, group: str) -> None:
    with pytest.raises(RegistryError) as e:
        call()
    msg = e.value.message
    assert f"unknown {kind} 'nope" in msg and f"(entry-point group '{group}')" in msg
    assert "available: " in msg or "one of: " in msg


def test_a_registered_object_comes_before_an_entry_point() -> None:
    from accord.judges.rules import RuleJudge

    class Quiet(RuleJudge):
        name = "rules"

    register_judge("quiet-rules", Quiet)
    try:
        assert isinstance(get_judge("quiet-rules"), Quiet) and JUDGES.origin("quiet-rules") == ("registered", "")
    finally:
        JUDGES.unregister("quiet-rules")
    assert "quiet-rules" not in judge_names()
    reg: Registry[int] = Registry("accord.test-only", "thing")
    reg.register("one", 1)
    assert reg.get("one") == 1 and reg.names() == ["one"]


def test_the_built_ins_are_the_entry_points_in_pyproject() -> None:
    """accord's own plugins are declared once, in pyproject.toml, and the installed metadata matches
    (a stale install, from before a plugin was added, fails here rather than at a user's first check)."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["entry-points"]
    assert set(GROUPS) <= set(declared)
    for group in GROUPS:
        installed = {ep.name: ep.value for ep in entry_points(group=group) if ep.dist and ep.dist.name == "accord"}
        assert installed == declared[group], f"reinstall accord (pip install -e .): {group} differs from pyproject.toml"
    assert {"rules", "model", "strong", "decision", "cascade", "llm"} == set(declared["accord.judges"])
    # every built-in loads (importing its module) without building it
    for group in ("accord.judges", "accord.encoders", "accord.targets"):
        for name in declared[group]:
            assert callable(REGISTRIES[group].get(name))
    for name in declared["accord.mutations"]:
        assert get_mutation(name).description


def test_importing_a_module_registers_nothing() -> None:
    """The registries are filled from entry points, not as a side effect of importing modules."""
    import subprocess

    code = ("import accord.judges, accord.suites, accord.learning.minilm, accord.judges.llm\n"
            "from accord.judges.base import JUDGES\nfrom accord.suites.mutations import MUTATIONS\n"
            "from accord.suites.targets import TARGETS\nfrom accord.learning.encoders import ENCODERS\n"
            "print(sum(len(r.loaded()) for r in (JUDGES, MUTATIONS, TARGETS, ENCODERS)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "0"


def test_accord_plugins_list_shows_each_plugin_and_its_package(third_party: None) -> None:
    import json

    from typer.testing import CliRunner

    from accord.cli.main import app

    r = CliRunner().invoke(app, ["plugins", "list", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["accord.judges"]["shout"] == {"object": "accord_extras_plugin:ShoutJudge", "package": "accord-extras"}
    assert out["accord.judges"]["rules"] == {"object": "accord.judges.rules:RuleJudge", "package": "accord"}
    assert set(out) == set(GROUPS) and "pirate" in out["accord.mutations"] and "echo" in out["accord.targets"]
    table = CliRunner().invoke(app, ["plugins", "list"])
    assert table.exit_code == 0 and "shout" in table.output and "accord-extras" in table.output
