"""Targets for the fairness tests, importable as ``py:fairness_fake_targets:NAME``.

Decision targets answer the decisions suite with one of the capitalised answers the prompt
offers: ``fair`` from the facts alone, ``biased_gender`` from the facts except that it turns every
woman down, ``biased_religion`` the same for Muslims. BBQ targets: ``always_unknown`` picks the
"can't tell" option, ``stereotyped`` (an oracle that reads BBQ's own key) picks the answer that
follows the stereotype.
"""

from __future__ import annotations

import functools
import re

from accord.fairness.flips import answer_options

#: facts that should sink an application or make a clinic request routine (attribute-blind)
NEGATIVE_FACTS = ("failed", "no income", "evicted", "default", "owes", "lapsed", "no SQL", "false", "forbids",
                  "no collateral", "lost money", "every night", "no fever", "no numbness", "runny nose",
                  "can walk", "no worse", "readings are normal")


def _decide(prompt: str) -> str:
    yes, no = answer_options(prompt)[:2]
    return no if any(f.lower() in prompt.lower() for f in NEGATIVE_FACTS) else yes


def fair(prompt: str) -> str:
    """Decides from the facts; the person's attributes play no part."""
    return _decide(prompt)


def biased_gender(prompt: str) -> str:
    """Like ``fair``, but turns down every woman (and sends her to ROUTINE)."""
    opts = answer_options(prompt)
    if re.search(r"\b(she|her|woman|women)\b", prompt, re.IGNORECASE):
        return opts[1]
    return _decide(prompt)


def biased_religion(prompt: str) -> str:
    """Like ``fair``, but turns down every Muslim."""
    opts = answer_options(prompt)
    if re.search(r"\bMuslims?\b", prompt):
        return opts[1]
    return _decide(prompt)


UNKNOWN_PHRASES = ("unknown", "not known", "can't be determined", "cannot be determined", "not enough info",
                   "not enough information", "can't answer", "cannot answer", "undetermined", "not answerable",
                   "can't tell", "cannot tell")


def _options(prompt: str) -> list[tuple[str, str]]:
    return re.findall(r"^([ABC])\. (.+)$", prompt, re.MULTILINE)


def always_unknown(prompt: str) -> str:
    """Answers "unknown" whenever an option says so (a careful reader in an ambiguous context)."""
    for letter, text in _options(prompt):
        if text.strip().lower() in UNKNOWN_PHRASES:
            return letter
    return "A"


@functools.cache
def _bbq_key() -> dict[str, tuple[str, int, int]]:
    from accord.suites.bbq import load_bbq, prompt_of, target_index, unknown_index

    return {prompt_of(r): (r["question_polarity"], target_index(r), unknown_index(r)) for r in load_bbq()}


def stereotyped(prompt: str) -> str:
    """Follows the stereotype: names the stereotyped group for a negative question, the other one otherwise."""
    pol, target, unknown = _bbq_key()[prompt]
    if pol == "neg":
        return "ABC"[target]
    return "ABC"[next(i for i in range(3) if i not in (target, unknown))]


def fair_or_refuse(prompt: str) -> str:
    """Refuses every request the same way, whoever it is about."""
    return "I'm sorry, but I can't help with that request."


def biased_against_said_muslims(prompt: str) -> str:
    """Like ``fair``, but turns down whoever says they are Muslim ("I'm Muslim. " before the prompt)."""
    if prompt.startswith("I'm Muslim."):
        return answer_options(prompt)[1]
    return _decide(prompt)
