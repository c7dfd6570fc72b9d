"""The deterministic judge: the charter's hard rules on normalised text and tool calls."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from typing import Any

from accord.charter.model import ArgCondition, Charter, Rule
from accord.judges.base import register_judge
from accord.judges.normalize import deleet, normalize, strip_invisible
from accord.types import Case, Evidence, Score, ToolCall


class RuleJudge:
    """Applies hard rules; a match is a score of 1.0 with the rule's fixed decision.

    Compiled patterns are cached per charter so checking stays cheap on the hot path.
    """

    name = "rules"

    def __init__(self) -> None:
        self._compiled: dict[int, list[tuple[Rule, re.Pattern[str] | None]]] = {}

    @property
    def version(self) -> str:
        return "rules-1"

    def judge(self, cases: Sequence[Case], charter: Charter) -> list[list[Score]]:
        rules = self._rules(charter)
        return [self._judge_one(c, rules) for c in cases]

    def _rules(self, charter: Charter) -> list[tuple[Rule, re.Pattern[str] | None]]:
        key = id(charter)
        if key not in self._compiled:
            self._compiled = {key: [(r, re.compile(r.pattern, re.IGNORECASE) if r.pattern else None) for r in charter.rules]}
        return self._compiled[key]

    def _judge_one(self, case: Case, rules: list[tuple[Rule, re.Pattern[str] | None]]) -> list[Score]:
        texts = {"action": case.action_text, "context": case.context_text}
        norm = {k: normalize(v) for k, v in texts.items()}
        out: list[Score] = []
        redacted: str | ToolCall | None = None  # redactions compose: each applies to the last
        for rule, rx in rules:
            if rule.tool is not None:
                if not isinstance(case.action, ToolCall) or not fnmatch.fnmatch(case.action.name.casefold(), rule.tool.casefold()):
                    continue
                if not all(_arg_holds(case.action.arguments.get(k), cond) for k, cond in rule.args.items()):
                    continue
            fields = ("action", "context") if rule.target == "any" else (rule.target,)
            evidence: list[Evidence] = []
            if rx is not None or rule.keywords:
                for f in fields:
                    hit = _find(norm[f], rx, rule.keywords, leet=rule.redact is None)
                    if hit:
                        evidence.append(Evidence(text=hit, field=f))  # type: ignore[arg-type]
                if not evidence:
                    continue
            elif isinstance(case.action, ToolCall):
                evidence.append(Evidence(text=case.action.as_text()[:200], field="action"))
            if rule.redact is not None and rx is not None:
                redacted = _redact_value(redacted if redacted is not None else case.action, rx, rule.redact)
            out.append(Score(principle=rule.principle, score=1.0, source=f"rule:{rule.id}", evidence=evidence,
                             rule=rule.id, decision=rule.decision))
        if redacted is not None:
            text = redacted.as_text() if isinstance(redacted, ToolCall) else redacted
            out = [s.model_copy(update={"revised": text}) if s.decision == "revise" else s for s in out]
        return out


def _find(text: str, rx: re.Pattern[str] | None, keywords: list[str], *, leet: bool) -> str | None:
    variants = [text, deleet(text)] if leet else [text]
    for t in variants:
        if rx is not None:
            m = rx.search(t)
            if m:
                return m.group(0)
        for kw in keywords:
            k = normalize(kw)
            if re.search(rf"(?<!\w){re.escape(k)}(?!\w)", t):
                return k
    return None


def _arg_holds(value: Any, cond: ArgCondition) -> bool:
    if value is None:
        return False
    if cond.equals is not None and value != cond.equals:
        return False
    text = normalize(str(value))
    if cond.matches is not None and not re.search(cond.matches, text, re.IGNORECASE):
        return False
    if cond.contains is not None and normalize(cond.contains) not in text:
        return False
    try:
        if cond.gt is not None and not float(value) > cond.gt:
            return False
        if cond.lt is not None and not float(value) < cond.lt:
            return False
    except (TypeError, ValueError):
        return False
    return True


def _redact_value(v: Any, rx: re.Pattern[str], replacement: str) -> Any:
    """Replace every match; tool-call arguments are redacted value by value."""
    if isinstance(v, ToolCall):
        return ToolCall(name=v.name, arguments=_redact_value(v.arguments, rx, replacement))
    if isinstance(v, str):
        return rx.sub(replacement, strip_invisible(v))
    if isinstance(v, dict):
        return {k: _redact_value(x, rx, replacement) for k, x in v.items()}
    if isinstance(v, list):
        return [_redact_value(x, rx, replacement) for x in v]
    return v


register_judge("rules", RuleJudge)
