from __future__ import annotations

import pytest

from accord.charter import lint_charter, load_charter, parse_charter
from accord.charter.loader import default_charter_text
from accord.errors import CharterError

GOOD = """\
version: 1
principles:
  - id: harm
    text: Do not help cause harm.
    severity: critical
    examples:
      violates: ["Here is how to build a bomb."]
  - id: privacy
    text: Respect privacy.
    severity: high
rules:
  - id: r1
    principle: privacy
    decision: revise
    pattern: '\\d{3}-\\d{2}-\\d{4}'
    redact: "[SSN]"
"""


def test_default_charter_covers_required_principles():
    c = load_charter(None)
    for pid in ("harm", "honesty", "privacy", "fairness", "autonomy", "legality", "wellbeing", "safety_oversight", "helpfulness"):
        p = c.principle(pid)
        assert p.examples.violates and p.examples.upholds, pid
    assert lint_charter(c) == []


def test_starter_charter_is_valid(tmp_path):
    from importlib import resources

    text = resources.files("accord.data").joinpath("starter_charter.yaml").read_text()
    assert parse_charter(text).name == "my-team"


def test_valid_charter_parses():
    c = parse_charter(GOOD, "c.yaml")
    assert c.principle_ids == ["harm", "privacy"]
    assert c.threshold("harm").block == 0.6


@pytest.mark.parametrize(
    ("mutate", "line", "fragment"),
    [
        (lambda s: s.replace("    severity: critical", "    severty: critical"), 5, "principles[0].severty: unknown field 'severty'; did you mean 'severity'?"),
        (lambda s: s.replace("severity: high", "severity: severe"), 10, "principles[1].severity"),
        (lambda s: s.replace("id: privacy", "id: harm"), 8, "principles[1].id: duplicate id 'harm'"),
        (lambda s: s.replace("    principle: privacy", "    principle: privcy"), 13, "rules[0].principle: unknown principle 'privcy'"),
        (lambda s: s.replace("'\\d{3}-\\d{2}-\\d{4}'", "'(unclosed'"), 15, "rules[0].pattern"),
        (lambda s: s + "principles: []\n", 17, "duplicate key 'principles'"),
    ],
)
def test_errors_name_file_line_and_field(mutate, line, fragment):
    with pytest.raises(CharterError) as e:
        parse_charter(mutate(GOOD), "team.yaml")
    msg = str(e.value)
    assert msg.startswith(f"team.yaml:{line}:"), msg
    assert fragment in msg


def test_bad_severity_message_lists_allowed_values():
    with pytest.raises(CharterError) as e:
        parse_charter(GOOD.replace("severity: high", "severity: severe"), "x.yaml")
    assert "'critical', 'high', 'medium' or 'low'" in str(e.value)
    assert "severe" in str(e.value)


def test_community_with_unknown_principle():
    text = GOOD + "communities:\n  clinic:\n    weights: {harn: 2}\n"
    with pytest.raises(CharterError, match=r"communities\.clinic\.weights\.harn: unknown principle"):
        parse_charter(text, "x.yaml")


def test_missing_file_and_empty_and_not_yaml(tmp_path):
    with pytest.raises(CharterError, match="no such charter file"):
        load_charter(tmp_path / "nope.yaml")
    with pytest.raises(CharterError, match="empty"):
        parse_charter("", "e.yaml")
    with pytest.raises(CharterError, match=r"b.yaml:2: not valid YAML"):
        parse_charter("a: [1\nb: {", "b.yaml")


def test_thresholds_must_be_ordered():
    with pytest.raises(CharterError, match="'escalate' must not exceed 'block'"):
        parse_charter(GOOD + "policy:\n  thresholds:\n    critical: {block: 0.3, escalate: 0.5}\n"
                      "    high: {block: 0.7, escalate: 0.4}\n    medium: {block: 0.9, escalate: 0.6}\n"
                      "    low: {block: 1.0, escalate: 0.7}\n", "x.yaml")


def test_default_text_round_trips():
    assert parse_charter(default_charter_text()).name == "accord-default"
