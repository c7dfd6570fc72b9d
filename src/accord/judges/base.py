"""The judge protocol and the explicit judge registry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from accord.charter.model import Charter
from accord.plugins import Registry
from accord.types import Case, Score

#: cases a judge is assumed to handle within one ``judge_timeout_ms`` unless it says otherwise
CASES_PER_BUDGET = 256


@runtime_checkable
class Judge(Protocol):
    """Scores cases against a charter's principles.

    ``judge`` takes a batch so learned judges can encode it in one pass; it returns, for every
    case, the scores it has an opinion on (a judge may say nothing about a principle).
    A judge raises :class:`~accord.errors.JudgeError` (or anything) on failure; the gate
    fails closed on it.

    A judge may also say how many cases it can be expected to judge within one
    ``policy.judge_timeout_ms`` (attribute ``cases_per_budget``, default
    :data:`CASES_PER_BUDGET`): the gate grants a batch one budget per that many cases, so a slow
    stage (a transformer, an LLM) is not timed out on a batch merely for being slow, while a
    single check keeps the charter's budget.
    """

    name: str

    @property
    def version(self) -> str: ...

    def judge(self, cases: Sequence[Case], charter: Charter) -> list[list[Score]]: ...


JudgeFactory = Callable[..., Judge]
#: the judge factories: registered ones, then the ``accord.judges`` entry points (accord's own are
#: declared in its pyproject.toml)
JUDGES: Registry[JudgeFactory] = Registry("accord.judges", "judge")


def register_judge(name: str, factory: JudgeFactory) -> None:
    """Register a judge factory under ``name`` (a package declares one with an ``accord.judges`` entry point)."""
    JUDGES.register(name, factory)


def judge_names() -> list[str]:
    return JUDGES.names()


def get_judge(name: str, **options: Any) -> Judge:
    """Build a registered judge; an unknown name lists what exists."""
    return JUDGES.get(name)(**options)
