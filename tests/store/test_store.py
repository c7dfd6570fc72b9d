"""Round trips through every table of the audit store, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from accord.errors import InputError, StoreError
from accord.gate import Gate
from accord.store import Store
from accord.store.migrate import current_revision, head_revision
from accord.types import Case, Demonstration, Label, Message, Preference, ToolCall


def test_open_migrates_to_head_and_reopens(db_url):
    with Store.open(db_url) as s:
        assert current_revision(s.engine) == head_revision()
    with Store.open(db_url) as s:  # a second open finds the schema at head and changes nothing
        assert current_revision(s.engine) == head_revision()
        assert "***" in s.url or "sqlite" in s.url


# ---------------------------------------------------------------------- decisions
def test_decision_round_trip(store, pair):
    case, verdict = pair("block", community="cautious", id="case-7", actor="agent-1", meta={"n": 1, "ok": True})
    before = datetime.now(UTC)
    rid = store.record_decision(case, verdict, source="cli")
    rec = store.decision(verdict.trace_id)
    assert rec is not None and rec.id == rid
    assert rec.verdict == verdict
    assert rec.case == case
    assert rec.verdict_json == verdict.model_dump(mode="json")
    assert (rec.decision, rec.risk, rec.community, rec.case_id, rec.source) == ("block", 0.87, "cautious", "case-7", "cli")
    assert rec.judge_version == verdict.judge_version
    assert rec.created_at.tzinfo is not None and rec.created_at.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=5) <= rec.created_at <= datetime.now(UTC) + timedelta(seconds=5)
    assert rec.as_dict()["created_at"].endswith("+00:00")


def test_decision_round_trip_chat_context_and_tool_call(store, pair):
    case, verdict = pair("escalate", action=ToolCall(name="transfer", arguments={"to": "x", "amount": 1e6, "nested": [1, {"a": None}]}))
    case = case.model_copy(update={"context": [Message(role="system", content="be careful"), Message(role="user", content="pay ✓")]})
    store.record_decision(case, verdict)
    rec = store.decision(verdict.trace_id)
    assert rec is not None and rec.case == case and rec.source == "gate"


def test_unknown_trace_id_is_none(store):
    assert store.decision("nope") is None


def test_decisions_filters_and_order(store, pair):
    ids = []
    for d in ("allow", "block", "escalate", "block", "revise"):
        c, v = pair(d)
        store.record_decision(c, v, source="proxy" if d == "escalate" else "gate")
        ids.append(v.trace_id)
    got = store.decisions()
    assert [r.trace_id for r in got] == ids[::-1]
    assert [r.trace_id for r in store.decisions(limit=2)] == ids[:2:-1][:2]
    assert [r.trace_id for r in store.decisions(decision="block")] == [ids[3], ids[1]]
    assert [r.trace_id for r in store.decisions(source="proxy")] == [ids[2]]
    assert store.decisions(since=datetime.now(UTC) + timedelta(hours=1)) == []
    naive_past = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)
    assert len(store.decisions(since=naive_past, limit=None)) == 5
    with pytest.raises(InputError, match="unknown decision"):
        store.decisions(decision="deny")


def test_duplicate_trace_id_is_refused(store, pair):
    c, v = pair()
    store.record_decision(c, v)
    with pytest.raises(StoreError, match=v.trace_id):
        store.record_decision(c, v)
    assert len(store.decisions()) == 1


def test_record_decisions_batch_is_all_or_nothing(store, pair):
    pairs = [pair(d) for d in ("allow", "block", "escalate")]
    assert store.record_decisions(pairs, source="batch") == 3
    assert {r.trace_id for r in store.decisions()} == {v.trace_id for _, v in pairs}
    assert store.record_decisions([]) == 0
    fresh = pair("allow")
    with pytest.raises(StoreError):
        store.record_decisions([fresh, pairs[0]])  # the second is a duplicate: nothing is written
    assert store.decision(fresh[1].trace_id) is None
    assert store.stats().decisions_total == 3


def test_recorder_plugs_into_the_gate(store, charter):
    gate = Gate(charter, recorder=store.recorder("cli"))  # rules only: fast and deterministic
    v1 = gate.check(context="hello", action="Here is the weather.")
    vs = gate.check_many([Case(action="fine"), Case(action="also fine", id="c2")])
    recs = store.decisions()
    assert [r.trace_id for r in recs] == [vs[1].trace_id, vs[0].trace_id, v1.trace_id]
    assert all(r.source == "cli" for r in recs)
    assert recs[0].case_id == "c2" and recs[0].verdict == vs[1]


def test_record_decisions_after_check_many(store, charter):
    gate = Gate(charter)
    cases = [Case(action=f"answer {i}") for i in range(5)]
    verdicts = gate.check_many(cases, record=False)
    assert store.record_decisions(zip(cases, verdicts, strict=True)) == 5
    assert [r.verdict for r in store.decisions()][::-1] == verdicts


# ---------------------------------------------------------------------- feedback
FEEDBACK = [
    Label(context="Cut deaths", action="Ban all cars", verdict="unacceptable", principle="autonomy", source="team-a", weight=2.0),
    Label(action="Sure, here it is.", verdict="acceptable"),
    Preference(context="Refund?", chosen="Yes, within 30 days.", rejected="No.", weight=0.5),
    Demonstration(context="«Überwachung»\nline 2", action="I can't share that — 🚫", source="demo"),
    Label(context="", action="x", verdict="unacceptable", principle=None, source=None, weight=1e-3),
]


def test_feedback_round_trips_exactly(store):
    assert store.add_feedback(FEEDBACK, source="cli", author="ana") == len(FEEDBACK)
    assert store.feedback() == FEEDBACK
    assert store.feedback(kinds=["label"]) == [FEEDBACK[0], FEEDBACK[1], FEEDBACK[4]]
    assert store.feedback(kinds=["preference", "demonstration"]) == FEEDBACK[2:4]
    log = store.feedback_log()
    assert [e.record for e in log] == FEEDBACK
    assert {(e.source, e.author, e.amends, e.retracted) for e in log} == {("cli", "ana", None, False)}
    assert store.add_feedback([]) == 0
    with pytest.raises(InputError, match="feedback kind"):
        store.feedback(kinds=["labels"])


def test_feedback_corrections_are_new_rows(store):
    store.add_feedback(FEEDBACK[:3], source="cli", trace_id="t-1")
    first = store.feedback_log()
    fixed = FEEDBACK[0].model_copy(update={"verdict": "acceptable", "principle": None})
    new_id = store.amend_feedback(first[0].id, fixed, author="bo", reason="misread")
    assert store.feedback() == [FEEDBACK[1], FEEDBACK[2], fixed]
    withdrawn = store.amend_feedback(first[1].id, None, author="bo", reason="duplicate")
    assert store.feedback() == [FEEDBACK[2], fixed]
    with pytest.raises(InputError, match="already amended"):
        store.amend_feedback(first[0].id, FEEDBACK[1])
    with pytest.raises(InputError, match="no feedback row"):
        store.amend_feedback(99999, FEEDBACK[1])
    newer = store.amend_feedback(new_id, FEEDBACK[0])  # amend the newest of the chain: back again
    assert store.feedback() == [FEEDBACK[2], FEEDBACK[0]]
    log = store.feedback_log()
    assert [e.record for e in log[:3]] == FEEDBACK[:3]  # the originals are all still there
    by_id = {e.id: e for e in log}
    assert by_id[new_id].amends == first[0].id and by_id[new_id].reason == "misread" and by_id[new_id].author == "bo"
    assert by_id[withdrawn].retracted and by_id[withdrawn].record == FEEDBACK[1]
    assert by_id[newer].amends == new_id and by_id[newer].trace_id == "t-1"
    assert store.stats().feedback == {"label": 1, "preference": 1, "demonstration": 0}


# ---------------------------------------------------------------------- review queue
def test_review_queue_round_trip(store, pair):
    low_c, low_v = pair("escalate", risk=0.55)
    high_c, high_v = pair("escalate", risk=0.95, community="cautious")
    mid_c, mid_v = pair("escalate", risk=0.7)
    low = store.enqueue_review(low_c, low_v)  # priority defaults to the risk
    high = store.enqueue_review(high_c, high_v, 0.95, source="proxy")
    mid = store.enqueue_review(mid_c, mid_v, priority=0.7)
    items = store.review_items()
    assert [i.id for i in items] == [high, mid, low]
    top = items[0]
    assert (top.trace_id, top.community, top.source, top.priority, top.reviewers) == (high_v.trace_id, "cautious", "proxy", 0.95, 0)
    assert top.case == high_c and top.verdict == high_v
    assert store.review_items(community="cautious")[0].id == high
    assert store.review_items(limit=1)[0].id == high
    assert store.review_item(low) is not None and store.review_item(low).priority == 0.55  # type: ignore[union-attr]
    assert store.review_item(12345) is None
    assert store.stats().queue_open == 3

    r1 = store.add_review(high, "ana", "block", principles=["autonomy", "harm"], correction="Offer safer options.",
                          comment="too broad")
    assert [i.id for i in store.review_items()] == [mid, low]
    assert [i.id for i in store.review_items("reviewed")] == [high]
    assert [i.id for i in store.review_items("all")] == [high, mid, low]
    # agreement: an item stays open until two different people reviewed it
    assert [i.id for i in store.review_items(min_reviews=2)] == [high, mid, low]
    assert [i.id for i in store.review_items(min_reviews=2, exclude_reviewer="ana")] == [mid, low]
    r2 = store.add_review(high, "bo", "allow")
    assert store.review_item(high).reviewers == 2  # type: ignore[union-attr]
    assert [i.id for i in store.review_items(min_reviews=2)] == [mid, low]

    (got,) = store.reviews(item_id=high, reviewer="ana")
    assert (got.id, got.decision, got.principles, got.correction, got.comment, got.amends) == (
        r1, "block", ("autonomy", "harm"), "Offer safer options.", "too broad", None)
    assert got.created_at.tzinfo is not None and got.as_dict()["principles"] == ["autonomy", "harm"]

    # a changed mind is a new row; the old one stays in the history
    r3 = store.add_review(high, "bo", "block", principles=["autonomy"], amends=r2)
    assert [r.id for r in store.reviews(item_id=high)] == [r1, r3]
    assert [r.id for r in store.reviews(item_id=high, current=False)] == [r1, r2, r3]
    assert store.review_item(high).reviewers == 2  # type: ignore[union-attr]
    st = store.stats()
    assert (st.review_items, st.queue_open, st.reviews) == (3, 2, 3)


def test_review_input_errors(store, pair):
    item = store.enqueue_review(*pair("escalate"))
    other = store.enqueue_review(*pair("escalate"))
    with pytest.raises(InputError, match="review decision"):
        store.add_review(item, "ana", "maybe")
    with pytest.raises(InputError, match="no review item 999"):
        store.add_review(999, "ana", "allow")
    r = store.add_review(item, "ana", "allow")
    with pytest.raises(InputError, match="no review"):
        store.add_review(other, "ana", "allow", amends=r)  # amends a review of another item
    store.add_review(item, "ana", "block", amends=r)
    with pytest.raises(InputError, match="already amended"):
        store.add_review(item, "ana", "allow", amends=r)
    with pytest.raises(InputError, match="queue status"):
        store.review_items("done")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- models
def test_model_versions_and_events(store):
    card = {"encoder": "wordllama", "principles": ["harm", "autonomy"], "notes": "ünïcode"}
    a = store.add_model_version("default", "1", "/models/1", card=card, metrics={"f1": 0.81}, actor="ci")
    b = store.add_model_version("default", "2", "/models/2", metrics={"f1": 0.84})
    other = store.add_model_version("medical", "1", "/models/m1")
    with pytest.raises(InputError, match="already registered"):
        store.add_model_version("default", "1", "/elsewhere")
    assert [m.status for m in store.model_versions()] == ["registered"] * 3
    assert store.current_model("default") is None

    store.model_event(a, "promote", "ana", "first model")
    store.model_event(b, "promote", "ana")
    store.model_event(other, "promote", "bo")
    assert store.current_model("default").id == b  # type: ignore[union-attr]
    ev = store.model_event(b, "rollback", "bo", "F1 dropped on the cautious community")
    cur = store.current_model("default")
    assert cur is not None and cur.id == a and cur.card == card and cur.metrics == {"f1": 0.81} and cur.actor == "ci"
    assert {m.id: m.status for m in store.model_versions()} == {a: "current", b: "rolled back", other: "current"}
    assert [m.id for m in store.model_versions("medical")] == [other]
    events = store.model_events(b)
    assert [(e.event, e.actor) for e in events] == [("promote", "ana"), ("rollback", "bo")]
    assert events[-1].id == ev and events[-1].reason == "F1 dropped on the cautious community"
    assert len(store.model_events()) == 4
    with pytest.raises(InputError, match="model event"):
        store.model_event(a, "delete", "x")
    with pytest.raises(InputError, match="no model version"):
        store.model_event(424242, "promote", "x")
    store.model_event(b, "promote", "ana", "fixed")
    assert store.current_model("default").id == b  # type: ignore[union-attr]
    assert {m.id: m.status for m in store.model_versions("default")} == {a: "superseded", b: "current"}


# ---------------------------------------------------------------------- audit events, stats
def test_audit_events(store):
    e1 = store.audit("user.added", "admin", {"user": "ana", "roles": ["reviewer"], "n": 1.5})
    e2 = store.audit("key.created", "ana")
    events = store.audit_events()
    assert [e.id for e in events] == [e2, e1]
    assert events[1].payload == {"user": "ana", "roles": ["reviewer"], "n": 1.5} and events[0].payload == {}
    assert [e.id for e in store.audit_events("user.added")] == [e1]
    assert events[0].as_dict()["created_at"].endswith("+00:00")


def test_stats(store, pair):
    for d in ("allow", "allow", "block", "escalate"):
        store.record_decision(*pair(d))
    store.enqueue_review(*pair("escalate"))
    store.add_feedback(FEEDBACK)
    st = store.stats()
    assert st.decisions == {"allow": 2, "revise": 0, "block": 1, "escalate": 1}
    assert st.decisions_total == 4 and st.queue_open == 1 and st.review_items == 1
    assert st.feedback == {"label": 3, "preference": 1, "demonstration": 1}
    assert st.as_dict()["decisions_total"] == 4


def test_created_at_increases(store, pair):
    store.record_decision(*pair())
    time.sleep(0.01)
    store.record_decision(*pair())
    newest, oldest = store.decisions()
    assert newest.created_at > oldest.created_at


def test_nul_characters_never_make_a_write_fail(store, pair):
    """PostgreSQL cannot store NUL; a prompt with one must still be audited (as U+FFFD there)."""
    case, verdict = pair("block", action="rm -rf /\x00 now", id="case\x00id")
    store.record_decision(case, verdict)
    store.record_decisions([pair("allow", action="x\x00")])
    store.add_feedback([Label(context="c\x00", action="a\x00b", verdict="acceptable")], author="an\x00a")
    store.enqueue_review(case, verdict)
    rec = store.decision(verdict.trace_id)
    assert rec is not None
    nul = "\x00" if store.engine.dialect.name == "sqlite" else "\ufffd"
    assert rec.case.action == f"rm -rf /{nul} now" and rec.case_id == f"case{nul}id"
    assert store.feedback() == [Label(context=f"c{nul}", action=f"a{nul}b", verdict="acceptable")]
    assert store.review_items()[0].case.id == f"case{nul}id"
