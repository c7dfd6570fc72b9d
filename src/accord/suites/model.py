"""The suite format: scenarios with a prompt, chat messages or an agent situation, and what must hold.

Strict like the charter: every model rejects unknown keys, so a misspelt ``expect`` is an error
with its file and line rather than a scenario that silently checks nothing. See
``docs/suites.md`` for the YAML reference.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from accord.charter.model import ArgCondition
from accord.errors import InputError
from accord.types import Decision, Message, Severity

SUITE_VERSION = 1
_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$"
_TOOL = r"^[A-Za-z_][A-Za-z0-9_\-]*$"


class SuiteError(InputError):
    """A suite file that cannot be used; the message names the file, line and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Expect(_Strict):
    """What must hold for a response to pass.

    ``refusal``: ``refuse`` (the target must refuse) or ``comply`` (it must not fully refuse);
    ``no_violation``: principles the gate must not find violated; ``decision``: the gate
    decisions that are acceptable. Written in YAML as ``expect: refuse``, ``expect: comply`` or a
    mapping with any of the three.
    """

    refusal: Literal["refuse", "comply"] | None = None
    no_violation: list[str] | None = None
    decision: list[Decision] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        if isinstance(v, str):
            if v not in ("refuse", "comply"):
                raise ValueError(f"expected 'refuse', 'comply' or a mapping, got {v!r}")
            return {"refusal": v}
        if isinstance(v, dict) and isinstance(v.get("decision"), str):
            return {**v, "decision": [v["decision"]]}
        return v

    @model_validator(mode="after")
    def _something(self) -> Expect:
        if self.refusal is None and self.no_violation is None and self.decision is None:
            raise ValueError("an expectation needs at least one of: refusal, no_violation, decision")
        return self

    def describe(self) -> str:
        parts: list[str] = []
        if self.refusal:
            parts.append(self.refusal)
        if self.no_violation is not None:
            parts.append("no_violation: " + ", ".join(self.no_violation or ["any"]))
        if self.decision is not None:
            parts.append("decision in " + "/".join(self.decision))
        return "; ".join(parts)


class CallMatch(_Strict):
    """A pattern on a tool call: a tool name glob and argument conditions (all must hold)."""

    tool: str = Field(min_length=1)
    args: dict[str, ArgCondition] = Field(default_factory=dict)
    principle: str | None = None
    why: str = ""

    def matches(self, name: str, arguments: dict[str, Any]) -> bool:
        from accord.judges.rules import arg_holds  # the charter's own argument semantics

        if not fnmatch.fnmatch(name.casefold(), self.tool.casefold()):
            return False
        return all(arg_holds(arguments.get(k), cond) for k, cond in self.args.items())


class ToolResult(_Strict):
    """A simulated result returned when every ``when`` condition holds on the call's arguments."""

    when: dict[str, ArgCondition] = Field(default_factory=dict)
    result: Any = None


class ToolSpec(_Strict):
    """A tool the agent may call: its JSON schema and what calling it (pretends to) return."""

    name: str = Field(pattern=_TOOL)
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    result: Any = Field(default_factory=lambda: {"ok": True})
    results: list[ToolResult] = Field(default_factory=list)

    @field_validator("parameters")
    @classmethod
    def _schema(cls, v: dict[str, Any]) -> dict[str, Any]:
        if v.get("type", "object") != "object":
            raise ValueError("a tool's parameters must be a JSON schema of type 'object'")
        props = v.get("properties", {})
        if not isinstance(props, dict):
            raise ValueError("'properties' must be a mapping of argument name to schema")
        req = v.get("required", [])
        if not isinstance(req, list) or any(r not in props for r in req):
            raise ValueError("'required' must list names defined in 'properties'")
        return v

    def openai(self) -> dict[str, Any]:
        """The tool in OpenAI's tool-calling format."""
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": {"type": "object", **self.parameters}}}


def _block() -> list[Decision]:
    return ["block"]


class AgentSpec(_Strict):
    """A controlled environment: a goal, tools with simulated effects, and what must not happen.

    ``unsafe`` calls fail the scenario when the target proposes them (whether or not the gate
    stops them); ``require`` lists calls of which the target must propose at least one, valid and
    not stopped by a ``fail_on`` decision (the proportionate way to the goal); ``fail_on`` lists the gate decisions on a proposed call
    that fail the scenario.
    """

    goal: str = Field(min_length=1)
    system: str = ""
    tools: list[ToolSpec] = Field(min_length=1)
    unsafe: list[CallMatch] = Field(default_factory=list)
    require: list[CallMatch] = Field(default_factory=list)
    max_steps: int = Field(default=8, ge=1, le=50)
    fail_on: list[Decision] = Field(default_factory=_block)

    @model_validator(mode="after")
    def _unique_tools(self) -> AgentSpec:
        names = [t.name for t in self.tools]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate tool name(s): {', '.join(sorted(dup))}")
        return self

    def tool(self, name: str) -> ToolSpec | None:
        return next((t for t in self.tools if t.name == name), None)


class Scenario(_Strict):
    """One safety test: a prompt, a conversation or an agent situation, and its expectation."""

    id: str = Field(pattern=_ID)
    description: str = ""
    prompt: str | None = None
    messages: list[Message] | None = None
    system: str | None = None
    agent: AgentSpec | None = None
    expect: Expect | None = None
    principles: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    severity: Severity | None = None
    mutations: list[str] = Field(default_factory=list)
    community: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Scenario:
        given = [k for k in ("prompt", "messages", "agent") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a scenario needs exactly one of: prompt, messages, agent"
                             + (f" (got {', '.join(given)})" if given else ""))
        if self.agent is None and self.expect is None:
            raise ValueError("a prompt or messages scenario needs 'expect' (refuse, comply, or a mapping)")
        if self.prompt is not None and not self.prompt.strip():
            raise ValueError("'prompt' is empty")
        if self.messages is not None and (not self.messages or self.messages[-1].role != "user"):
            raise ValueError("'messages' must end with a user message (the one the target answers)")
        if self.agent is not None and self.mutations:
            raise ValueError("mutations apply to prompts, not to agent scenarios")
        return self

    @property
    def kind(self) -> Literal["prompt", "agent"]:
        return "agent" if self.agent is not None else "prompt"

    @property
    def user_prompt(self) -> str:
        """The text a mutation rewrites: the prompt, or the last user message, or the agent's goal."""
        if self.prompt is not None:
            return self.prompt
        if self.messages:
            return self.messages[-1].content
        return self.agent.goal if self.agent else ""

    def chat(self, prompt: str | None = None) -> list[dict[str, str]]:
        """The messages sent to the target, with the user prompt replaced by ``prompt``."""
        msgs: list[dict[str, str]] = []
        if self.system:
            msgs.append({"role": "system", "content": self.system})
        if self.messages:
            msgs += [{"role": m.role, "content": m.content} for m in self.messages[:-1]]
        msgs.append({"role": "user", "content": prompt if prompt is not None else self.user_prompt})
        return msgs


class Suite(_Strict):
    """A named list of scenarios (and suite-wide mutations applied to every prompt scenario)."""

    version: int = SUITE_VERSION
    name: str = Field(min_length=1)
    description: str = ""
    mutations: list[str] = Field(default_factory=list)
    scenarios: list[Scenario] = Field(min_length=1)
    source: str = ""  # the file it came from (set by the loader)
    lines: dict[str, int] = Field(default_factory=dict)  # scenario id -> line, for error messages

    @field_validator("version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != SUITE_VERSION:
            raise ValueError(f"unsupported suite version {v}; this accord reads version {SUITE_VERSION}")
        return v

    def where(self, scenario_id: str) -> str:
        """``file:line`` of a scenario, for messages."""
        line = self.lines.get(scenario_id)
        return f"{self.source}:{line}" if line else self.source or self.name


def name_ok(name: str) -> bool:
    return bool(re.match(_ID, name))
