"""The charter: a team's values as principles, hard rules, communities and a policy."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any, Literal

import regex
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from accord.types import Decision, Severity

CHARTER_VERSION = 1
_ID = r"^[a-z][a-z0-9_\-]*$"


class _Strict(BaseModel):
    # NaN compares false with every threshold and infinity breaks every budget: a charter number
    # must be finite (a NaN weight would make a community allow everything)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Example(_Strict):
    """An example with its situation: what the AI was asked, and what it did."""

    context: str = ""
    action: str = Field(min_length=1)


class Examples(_Strict):
    """Cases that uphold or violate a principle; they are always part of the training data.

    Each example is either a plain string (the action alone) or ``{context, action}``.
    """

    upholds: list[str | Example] = Field(default_factory=list)
    violates: list[str | Example] = Field(default_factory=list)

    def pairs(self, which: Literal["upholds", "violates"]) -> list[tuple[str, str]]:
        """The examples as ``(context, action)`` pairs."""
        return [("", e) if isinstance(e, str) else (e.context, e.action) for e in getattr(self, which)]


class Principle(_Strict):
    """One value clause."""

    id: str = Field(pattern=_ID)
    text: str = Field(min_length=1)
    severity: Severity
    examples: Examples = Field(default_factory=Examples)


class ArgCondition(_Strict):
    """A condition on one tool-call argument; every given field must hold."""

    equals: Any = None
    matches: str | None = None  # regex, searched in the normalised str() of the value
    contains: str | None = None
    gt: float | None = None
    lt: float | None = None

    @field_validator("matches")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                regex.compile(v)  # the engine the rules run on (with a time limit)
            except regex.error as e:
                raise ValueError(f"not a valid regular expression: {e}") from None
        return v


class Rule(_Strict):
    """A deterministic constraint with a fixed decision.

    A rule matches when every condition it sets holds: ``pattern`` (regex) or ``keywords`` on the
    normalised text of ``target``, ``tool`` (a glob on the tool name) and ``args`` conditions.
    A ``revise`` rule with ``redact`` replaces every match in the action with that text.
    """

    id: str = Field(pattern=_ID)
    principle: str
    decision: Decision
    description: str = ""
    pattern: str | None = None
    keywords: list[str] = Field(default_factory=list)
    tool: str | None = None
    args: dict[str, ArgCondition] = Field(default_factory=dict)
    target: Literal["action", "context", "any"] = "action"
    redact: str | None = None

    @field_validator("pattern")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                regex.compile(v)  # the engine the rules run on (with a time limit)
            except regex.error as e:
                raise ValueError(f"not a valid regular expression: {e}") from None
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if not (self.pattern or self.keywords or self.tool):
            raise ValueError("a rule needs at least one of: pattern, keywords, tool")
        if self.args and not self.tool:
            raise ValueError("'args' conditions need a 'tool'")
        if self.redact is not None and (self.decision != "revise" or not self.pattern):
            raise ValueError("'redact' needs decision: revise and a 'pattern'")
        return self


class Threshold(_Strict):
    """Scores at or above ``block`` block; at or above ``escalate`` go to a person."""

    block: float = Field(ge=0, le=1)
    escalate: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Threshold:
        if self.escalate > self.block:
            raise ValueError("'escalate' must not exceed 'block'")
        return self


def _default_thresholds() -> dict[Severity, Threshold]:
    return {
        "critical": Threshold(block=0.6, escalate=0.3),
        "high": Threshold(block=0.75, escalate=0.45),
        "medium": Threshold(block=0.9, escalate=0.6),
        "low": Threshold(block=1.0, escalate=0.75),
    }


class Policy(_Strict):
    """How scores become decisions, and what failures become (never allow)."""

    thresholds: dict[Severity, Threshold] = Field(default_factory=_default_thresholds)
    on_error: Literal["escalate", "block"] = "escalate"
    on_timeout: Literal["escalate", "block"] = "escalate"
    judge_timeout_ms: float = Field(default=2000, gt=0, le=600_000)  # at most 10 minutes
    escalate_hold: bool = True  # proxy: hold escalated output (True) or pass it with a flag

    @model_validator(mode="after")
    def _all_severities(self) -> Policy:
        missing = {"critical", "high", "medium", "low"} - set(self.thresholds)
        if missing:
            raise ValueError(f"thresholds missing for severities: {', '.join(sorted(missing))}")
        return self


class Community(_Strict):
    """A value profile: weights scale a principle's score, thresholds override the policy's."""

    description: str = ""
    weights: dict[str, float] = Field(default_factory=dict)
    thresholds: dict[str, Threshold] = Field(default_factory=dict)

    @field_validator("weights")
    @classmethod
    def _positive(cls, v: dict[str, float]) -> dict[str, float]:
        for k, w in v.items():
            if w < 0:
                raise ValueError(f"weight for {k!r} must be >= 0")
        return v


class Charter(_Strict):
    """A team's values."""

    version: int = CHARTER_VERSION
    name: str = "charter"
    principles: list[Principle] = Field(min_length=1)
    rules: list[Rule] = Field(default_factory=list)
    communities: dict[str, Community] = Field(default_factory=dict)
    policy: Policy = Field(default_factory=Policy)

    @field_validator("version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != CHARTER_VERSION:
            raise ValueError(f"unsupported charter version {v}; this accord reads version {CHARTER_VERSION}")
        return v

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> Charter:
        # The YAML loader checks references itself so it can point at the offending line.
        if not (info.context or {}).get("defer_references"):
            problems = reference_errors(self)
            if problems:
                loc, msg = problems[0]
                raise ValueError(f"{'.'.join(map(str, loc))}: {msg}")
        return self

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Charter:
        """A copy (see pydantic); lookups derived from the original are dropped, not carried over.

        The derived lookups live in the instance ``__dict__`` (``cached_property``), which pydantic's
        copy duplicates: without this, a copy with other thresholds would decide by the old ones.
        """
        copied = super().model_copy(update=update, deep=deep)
        for name, attr in vars(Charter).items():
            if isinstance(attr, cached_property):
                copied.__dict__.pop(name, None)
        return copied

    @cached_property
    def _by_id(self) -> dict[str, Principle]:
        return {p.id: p for p in self.principles}

    def principle(self, pid: str) -> Principle:
        """The principle with this id (KeyError when there is none)."""
        return self._by_id[pid]

    @cached_property
    def principle_ids(self) -> list[str]:
        return [p.id for p in self.principles]

    def threshold(self, pid: str, community: str | None = None) -> Threshold:
        """The threshold for a principle, with the community's override when it has one."""
        if community is not None and pid in self.communities[community].thresholds:
            return self.communities[community].thresholds[pid]
        return self.policy.thresholds[self.principle(pid).severity]

    def policy_table(self, community: str | None = None) -> dict[str, tuple[float, float, float, Severity]]:
        """``{principle: (escalate, block, weight, severity)}`` for a community (``None``: the default).

        The gate's policy reads this on every case, so it is computed once per charter and
        community (a charter is not edited after loading; build a new one to change it).
        """
        cache = self._tables
        if community not in cache:
            weights = self.communities[community].weights if community is not None else {}
            cache[community] = {p.id: (t.escalate, t.block, weights.get(p.id, 1.0), p.severity)
                                for p in self.principles for t in (self.threshold(p.id, community),)}
        return cache[community]

    @cached_property
    def _tables(self) -> dict[str | None, dict[str, tuple[float, float, float, Severity]]]:
        return {}


def reference_errors(charter: Charter) -> list[tuple[tuple[Any, ...], str]]:
    """Duplicate ids and references to unknown principles, each with its field path."""
    problems: list[tuple[tuple[Any, ...], str]] = []
    for where, ids in (("principles", charter.principle_ids), ("rules", [r.id for r in charter.rules])):
        seen: set[str] = set()
        for i, x in enumerate(ids):
            if x in seen:
                problems.append(((where, i, "id"), f"duplicate id {x!r}; ids must be unique"))
            seen.add(x)
    known = set(charter.principle_ids)
    listing = ", ".join(charter.principle_ids)
    for i, r in enumerate(charter.rules):
        if r.principle not in known:
            problems.append((("rules", i, "principle"), f"unknown principle {r.principle!r}; known: {listing}"))
    for name, c in charter.communities.items():
        for field in ("weights", "thresholds"):
            for pid in getattr(c, field):
                if pid not in known:
                    problems.append((("communities", name, field, pid), f"unknown principle {pid!r}; known: {listing}"))
    return problems
