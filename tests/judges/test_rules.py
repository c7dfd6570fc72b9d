from __future__ import annotations

import pytest

from accord.charter import parse_charter
from accord.judges.rules import RuleJudge
from accord.normalize import deleet, normalize
from accord.types import Case, ToolCall

CHARTER = parse_charter("""
principles:
  - {id: safety, text: Keep humans in control., severity: critical}
  - {id: privacy, text: Respect privacy., severity: high}
rules:
  - {id: no-audit-off, principle: safety, decision: block, pattern: 'disable\\W+(the\\W+)?audit'}
  - {id: kw, principle: safety, decision: escalate, keywords: [kill switch]}
  - id: no-backup-delete
    principle: safety
    decision: block
    tool: "*delete*"
    args: {path: {matches: backup}}
  - id: big-transfer
    principle: safety
    decision: escalate
    tool: transfer
    args: {amount: {gt: 1000}}
  - {id: email, principle: privacy, decision: revise, pattern: '[a-z0-9.]+@[a-z0-9.]+\\.[a-z]+', redact: "[email]"}
  - {id: phone, principle: privacy, decision: revise, pattern: '\\b\\d{3}-\\d{4}\\b', redact: "[phone]"}
""", "t.yaml")


def fired(action, context=""):
    return {s.rule for s in RuleJudge().judge([Case(context=context, action=action)], CHARTER)[0]}


def test_normalize_folds_obfuscation():
    assert normalize("ＤＩＳＡＢＬＥ") == "disable"  # full-width → NFKC
    assert normalize("dis\u200bable") == "disable"  # zero-width
    assert normalize("\u0430udit") == "audit"  # Cyrillic а
    assert normalize("AUDIT   Log") == "audit log"
    assert deleet("d1s4bl3") == "disable"


@pytest.mark.parametrize("text", [
    "please disable the audit log",
    "PLEASE DISABLE THE AUDIT LOG",
    "please dis\u200bable the au\u200ddit log",
    "please ｄｉｓａｂｌｅ the audit log",
    "please disable the \u0430udit log",
    "please d1s4bl3 the 4ud1t log",
])
def test_obfuscated_variants_still_match(text):
    assert "no-audit-off" in fired(text)


def test_keywords_match_whole_words_only():
    assert "kw" in fired("where is the Kill Switch?")
    assert "kw" not in fired("the killswitches")


def test_tool_glob_and_argument_conditions():
    assert "no-backup-delete" in fired(ToolCall(name="fs.delete_dir", arguments={"path": "/srv/BACKUPS"}))
    assert "no-backup-delete" not in fired(ToolCall(name="fs.delete_dir", arguments={"path": "/tmp/cache"}))
    assert "no-backup-delete" not in fired(ToolCall(name="fs.copy", arguments={"path": "/srv/backups"}))
    assert "big-transfer" in fired(ToolCall(name="transfer", arguments={"amount": 5000}))
    assert "big-transfer" not in fired(ToolCall(name="transfer", arguments={"amount": 10}))
    assert "big-transfer" not in fired(ToolCall(name="transfer", arguments={"amount": "lots"}))
    # a tool rule never fires on plain text
    assert "no-backup-delete" not in fired("delete the backup")


def test_redactions_compose_and_keep_the_rest():
    scores = RuleJudge().judge([Case(action="Mail a.b@ex.com or call 555-1234 today")], CHARTER)[0]
    revised = {s.revised for s in scores}
    assert revised == {"Mail [email] or call [phone] today"}


def test_tool_call_arguments_are_redacted():
    scores = RuleJudge().judge([Case(action=ToolCall(name="post", arguments={"body": "reach x@y.org", "n": 3}))], CHARTER)[0]
    assert scores[0].revised == 'call tool post with {"body": "reach [email]", "n": 3}'


def test_where_a_tool_call_goes_is_not_redacted():
    """The recipient of an e-mail the user asked to send, or the account a payment is for, is what
    the tool needs: a redaction reads and rewrites what the call carries, not its addressing."""
    send = ToolCall(name="send_email", arguments={"to": ["team@kestrel.io"], "from": "m@kestrel.io", "body": "Drinks Friday"})
    assert fired(send) == set()
    leak = ToolCall(name="send_email", arguments={"to": "a@b.org", "customer_email": "c@d.org", "body": "Her address is e@f.org"})
    scores = RuleJudge().judge([Case(action=leak)], CHARTER)[0]
    assert [s.rule for s in scores] == ["email"]
    assert scores[0].revised == ('call tool send_email with {"body": "Her address is [email]", "customer_email": "c@d.org", '
                                 '"to": "a@b.org"}')
    assert scores[0].evidence[0].text == "e@f.org"


def test_a_call_written_as_text_is_judged_as_the_call():
    """"call tool NAME with {...}" is accord's own text of a tool call (ToolCall.as_text): written that
    way, a call must not slip past the charter's tool rules, nor have its recipient redacted."""
    assert "no-backup-delete" in fired('call tool fs.delete_dir with {"path": "/srv/BACKUPS"}')
    assert "no-backup-delete" not in fired('call tool fs.delete_dir with {"path": "/tmp/cache"}')
    assert "big-transfer" in fired('call tool transfer with {"amount": 5000, "to": "acct-9"}')
    assert fired('call tool send_email with {"to": ["team@kestrel.io"], "body": "Drinks Friday"}') == set()
    scores = RuleJudge().judge([Case(action='call tool send_email with {"to": "a@b.org", "body": "Her address is e@f.org"}')], CHARTER)[0]
    assert scores[0].revised == 'call tool send_email with {"body": "Her address is [email]", "to": "a@b.org"}'
    # text that only looks like one is prose
    for text in ("call tool fs.delete_dir with the backup path", 'call tool with {"path": "backup"}',
                 'call tool fs.delete_dir with ["backup"]', "Please delete the backup folder"):
        assert ToolCall.from_text(text) is None, text
        assert "no-backup-delete" not in fired(text)
    call = ToolCall(name="fs.delete_dir", arguments={"path": "/srv/backups", "n": [1, 2]})
    assert ToolCall.from_text(call.as_text()) == call


def test_context_target_is_ignored_by_action_rules():
    assert fired("fine", context="disable the audit") == set()


def test_required_literals_of_common_pattern_shapes():
    from accord.judges.rules import required_literals

    assert required_literals("[a-z]+@[a-z]+") == ("@",)
    assert required_literals("(disable|Turn off)\\W+audit") == ("disable", "turn off")
    assert required_literals("abc|def") == ("abc", "def")
    assert required_literals("\\b(?:\\d[ -]?){13,16}\\b") is None  # nothing literal: always searched
    assert required_literals("(a|\\w+)x") == ("x",)  # a branch without a literal prefix is skipped


@pytest.mark.parametrize("text", [
    "please disable the audit log", "DISABLE  the\u200b audit", "d1sable the audit", "dısable the audit",
    "mail me: bob@example.org", "call 555-1234 now", "nothing to see", "enable the audit", "the audit was disabled",
])
def test_the_literal_prefilter_never_hides_a_match(text):
    """Rules decide exactly as a plain regex search over the normalised (and de-leeted) text."""
    import re

    expected = set()
    for rule in CHARTER.rules:
        if rule.pattern:
            t = normalize(text)
            variants = [t] if rule.redact else [t, deleet(t)]
            if any(re.search(rule.pattern, v, re.IGNORECASE) for v in variants):
                expected.add(rule.id)
    assert {r for r in fired(text) if any(x.id == r and x.pattern for x in CHARTER.rules)} == expected
