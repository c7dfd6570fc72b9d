"""The deterministic judge: the charter's hard rules on normalised text and tool calls.

Patterns run on the ``regex`` engine with a time limit per search (:data:`RULE_TIMEOUT_S`) and
with the GIL released: a pattern that backtracks catastrophically (``(a+)+$``) on some text cannot
freeze the process, and the gate's time budget can still fire while it runs. A rule over its limit
raises :class:`~accord.errors.JudgeError` naming itself, and the gate fails closed (escalate or
block by policy).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import regex

from accord.charter.model import ArgCondition, Charter, Rule
from accord.errors import JudgeError
from accord.normalize import deleet, normalize, strip_invisible
from accord.types import Case, Evidence, Score, ToolCall

#: the longest one search of a rule's pattern may run, in seconds: far above what a linear pattern
#: needs on a very long text (the default charter's take milliseconds on 200 KB)
RULE_TIMEOUT_S = 0.25


def _timed_out(rule_id: str, text: str) -> JudgeError:
    return JudgeError(f"rule {rule_id!r} ran past its time limit of {RULE_TIMEOUT_S * 1000:.0f} ms on a text of "
                      f"{len(text):,} characters (a pattern that backtracks; failing closed)")


@dataclass(frozen=True)
class _Compiled:
    """A rule ready for the hot path: its regex, keyword regexes and a cheap literal prefilter."""

    rule: Rule
    rx: Any  # a compiled ``regex`` pattern
    keywords: tuple[tuple[str, re.Pattern[str]], ...]
    needs: tuple[str, ...] | None  # the text must contain one of these for ``rx`` to match

    def find(self, variants: tuple[str, ...]) -> str | None:
        """The first match in the variants of a normalised text (as is, de-leeted)."""
        for t in variants:
            if self.rx is not None and (self.needs is None or any(map(t.__contains__, self.needs))):  # no generator frame
                try:
                    m = self.rx.search(t, timeout=RULE_TIMEOUT_S, concurrent=True)
                except TimeoutError:
                    raise _timed_out(self.rule.id, t) from None
                if m:
                    return m.group(0)
            for kw, krx in self.keywords:
                if kw in t and krx.search(t):
                    return kw
        return None


def required_literals(pattern: str) -> tuple[str, ...] | None:
    """Strings of which every match of ``pattern`` contains at least one, or None when unknown.

    Python's regex engine tries an alternation at every position of the text, which makes rules
    such as ``(disable|bypass|...)\\W+...`` cost microseconds per case; a substring test on the
    literals the pattern cannot match without is far cheaper and rules most texts out. Only ASCII
    literals are used (the text is case-folded; see :func:`accord.normalize.normalize`).
    """
    try:  # the regex parser is CPython's own (``re._parser``): without it, no prefilter, same results
        import re._constants as sre_c
        import re._parser as sre_parse

        items = sre_parse.parse(pattern).data
    except Exception:
        return None

    def prefix(seq: Any) -> str:
        out = ""
        for op, av in seq:
            if op is not sre_c.LITERAL:
                break
            out += chr(av)
        return out

    def branch(av: Any) -> tuple[str, ...] | None:
        prefs = tuple(prefix(b.data) for b in av[1])
        return prefs if all(prefs) else None

    for op, av in items:
        found: tuple[str, ...] | None = None
        if op is sre_c.LITERAL:
            found = (chr(av),)
        elif op is sre_c.BRANCH:
            found = branch(av)
        elif op is sre_c.SUBPATTERN:
            sub = av[-1].data
            if len(sub) == 1 and sub[0][0] is sre_c.BRANCH:
                found = branch(sub[0][1])
            elif prefix(sub):
                found = (prefix(sub),)
        if found and all(f.isascii() for f in found):
            return tuple(f.casefold() for f in found)
    return None


class RuleJudge:
    """Applies hard rules; a match is a score of 1.0 with the rule's fixed decision.

    Compiled patterns are cached per charter so checking stays cheap on the hot path.
    """

    name = "rules"
    #: the rules normalise text themselves (:func:`~accord.normalize.normalize`, plus a
    #: de-leeted view) and redact the original: the cascade gives them no folded view
    reads_raw_text = True

    def __init__(self) -> None:
        # the charter itself, not its id: holding it keeps a dead charter's id from being reused
        self._compiled: tuple[Charter | None, list[_Compiled]] = (None, [])

    @property
    def version(self) -> str:
        return "rules-1"

    def judge(self, cases: Sequence[Case], charter: Charter) -> list[list[Score]]:
        rules = self._rules(charter)
        return [self._judge_one(c, rules) for c in cases]

    def _rules(self, charter: Charter) -> list[_Compiled]:
        if self._compiled[0] is not charter:
            compiled = []
            for r in charter.rules:
                kws = tuple((k, re.compile(rf"(?<!\w){re.escape(k)}(?!\w)")) for k in map(normalize, r.keywords))
                compiled.append(_Compiled(r, regex.compile(r.pattern, regex.IGNORECASE) if r.pattern else None, kws,
                                          required_literals(r.pattern) if r.pattern else None))
            self._compiled = (charter, compiled)
        return self._compiled[1]

    def _judge_one(self, case: Case, rules: list[_Compiled]) -> list[Score]:
        action = case.action_text
        # a call written out as text ("call tool NAME with {...}") is judged as the call it is
        call = case.action if isinstance(case.action, ToolCall) else ToolCall.from_text(case.action)
        norm = {"action": normalize(action), "context": normalize(case.context_text) if case.context else ""}
        leet = {f: (t,) if d == t else (t, d) for f, t in norm.items() for d in (deleet(t),)}
        # a redaction reads what a tool call carries, not where it goes (see ADDRESS_ARGS)
        carried = dict(norm)
        if call is not None and any(is_address(k) for k in call.arguments):
            carried["action"] = normalize(_carried(call).as_text())
        out: list[Score] = []
        redacted: str | ToolCall | None = None  # redactions compose: each applies to the last
        for c in rules:
            rule, rx = c.rule, c.rx
            if rule.tool is not None:
                if call is None or not fnmatch.fnmatch(call.name.casefold(), rule.tool.casefold()):
                    continue
                if not all(arg_holds(call.arguments.get(k), cond) for k, cond in rule.args.items()):
                    continue
            fields = ("action", "context") if rule.target == "any" else (rule.target,)
            evidence: list[Evidence] = []
            if rx is not None or rule.keywords:
                for f in fields:
                    hit = c.find(leet[f] if rule.redact is None else (carried[f],))
                    if hit:
                        evidence.append(Evidence(text=hit, field=f))  # type: ignore[arg-type]
                if not evidence:
                    continue
            elif call is not None:
                evidence.append(Evidence(text=call.as_text()[:200], field="action"))
            if rule.redact is not None and rx is not None:
                try:
                    redacted = _redact_value(redacted if redacted is not None else (call or case.action), rx, rule.redact)
                except TimeoutError:
                    raise _timed_out(rule.id, case.action_text) from None
            out.append(Score(principle=rule.principle, score=1.0, source=f"rule:{rule.id}", evidence=evidence,
                             rule=rule.id, decision=rule.decision))
        if redacted is not None:
            text = redacted.as_text() if isinstance(redacted, ToolCall) else redacted
            out = [s.trusted_copy(revised=text) if s.decision == "revise" else s for s in out]
        return out


def arg_holds(value: Any, cond: ArgCondition) -> bool:
    """Whether a tool-call argument's value meets a charter argument condition (``equals``, ``matches``,
    ``contains``, ``gt``, ``lt``; all given must hold, on the normalised text). A missing value never does."""
    if value is None:
        return False
    if cond.equals is not None and value != cond.equals:
        return False
    text = normalize(str(value))
    if cond.matches is not None:
        try:
            if not regex.search(cond.matches, text, regex.IGNORECASE, timeout=RULE_TIMEOUT_S, concurrent=True):
                return False
        except TimeoutError:
            raise _timed_out(f"args matches {cond.matches!r}", text) from None
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


#: tool-call arguments that say where a call goes or whose account it acts on (a recipient, a
#: sender, an attendee, the account paid): the tool needs them as they are. A redaction rule is
#: about what an answer or a call *carries* to someone; "[email removed]" as the recipient of an
#: e-mail the user asked to send, or an IBAN blanked in the payment it is for, only breaks the call.
#: Whether the address itself is the wrong one is for the learned judges (privacy).
ADDRESS_ARGS = frozenset({
    "to", "cc", "bcc", "from", "sender", "recipient", "recipients", "reply_to", "attendees", "invitees",
    "participants", "mailbox", "account", "account_id", "account_number", "iban", "phone", "phone_number",
})


def is_address(key: str) -> bool:
    """Whether a tool-call argument names an addressee or account (:data:`ADDRESS_ARGS`, or a key
    ending in ``_email``/``_to``/``_iban``, such as ``customer_email``, ``send_to``)."""
    k = key.casefold()
    return k in ADDRESS_ARGS or k.endswith(("_email", "_to", "_iban"))


def _carried(call: ToolCall) -> ToolCall:
    """The call without its addressing arguments: what a redaction rule reads."""
    return ToolCall(name=call.name, arguments={k: v for k, v in call.arguments.items() if not is_address(k)})


def _redact_value(v: Any, rx: Any, replacement: str) -> Any:
    """Replace every match; tool-call arguments are redacted value by value, their addressing
    arguments (:func:`is_address`) left as they are."""
    if isinstance(v, ToolCall):
        return ToolCall(name=v.name, arguments={k: x if is_address(k) else _redact_value(x, rx, replacement)
                                                for k, x in v.arguments.items()})
    if isinstance(v, str):
        return rx.sub(replacement, strip_invisible(v), timeout=RULE_TIMEOUT_S, concurrent=True)
    if isinstance(v, dict):
        return {k: _redact_value(x, rx, replacement) for k, x in v.items()}
    if isinstance(v, list):
        return [_redact_value(x, rx, replacement) for x in v]
    return v

