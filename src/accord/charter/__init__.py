"""Charters: principles, hard rules, communities and policy, loaded from strictly validated YAML."""

from accord.charter.lint import lint_charter
from accord.charter.loader import default_charter_text, load_charter, parse_charter
from accord.charter.model import (
    ArgCondition,
    Charter,
    Community,
    Example,
    Examples,
    Policy,
    Principle,
    Rule,
    Threshold,
)

__all__ = [
    "ArgCondition",
    "Charter",
    "Community",
    "Example",
    "Examples",
    "Policy",
    "Principle",
    "Rule",
    "Threshold",
    "default_charter_text",
    "lint_charter",
    "load_charter",
    "parse_charter",
]
