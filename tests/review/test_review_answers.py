"""Reviewers can answer "depends on the community" and "needs discussion" besides allow and block;
the answers are stored, and learning teaches the gate to send similar cases to people."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from tests.review.conftest import make_verdict

from accord.errors import InputError
from accord.review import QueueConfig, Users
from accord.review.feedback import build_feedback
from accord.server.review import create_app
from accord.types import Case, Escalation, Label

PASSWORD = "correct horse"
HTML = {"accept": "text/html"}


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _login(c: TestClient, name: str) -> str:
    r = c.get("/login")
    r = c.post("/login", data={"username": name, "password": PASSWORD, "csrf": _csrf(r.text), "next": "/queue"})
    assert r.status_code == 200
    return r.text


def test_store_keeps_depends_with_its_communities_and_discuss(store):
    item = store.enqueue_review(Case(action="Serve pork and wine."), make_verdict(), 0.5)
    store.add_review(item, "ana", "depends", communities=["clinic"])
    store.add_review(item, "ben", "discuss", comment="a question for the ethics board")
    got = {r.reviewer: r for r in store.reviews(item)}
    assert got["ana"].decision == "depends" and got["ana"].communities == ("clinic",)
    assert got["ben"].decision == "discuss" and got["ben"].communities == ()
    with pytest.raises(InputError, match="names the communities"):
        store.add_review(item, "cy", "depends")
    with pytest.raises(InputError, match="only a 'depends' review names communities"):
        store.add_review(item, "cy", "allow", communities=["clinic"])
    with pytest.raises(InputError, match="unknown review decision"):
        store.add_review(item, "cy", "maybe")


def test_the_case_page_offers_and_records_the_new_answers(store, charter):
    Users(store).add("ana", PASSWORD)
    items = [store.enqueue_review(Case(action=f"Serve pork and wine ({i})."), make_verdict(), 0.9 - i / 10)
             for i in range(3)]
    app = create_app(store, charter, secret=b"x" * 32, queue=QueueConfig(double_share=0.0))
    community = next(iter(charter.communities))
    with TestClient(app) as c:
        _login(c, "ana")
        page = c.get(f"/cases/{items[0]}", headers=HTML).text
        assert 'id="depends"' in page and 'id="discuss"' in page and 'name="acceptable_for"' in page
        # depends without a community is refused with a sentence, nothing is stored
        r = c.post(f"/cases/{items[0]}/review", data={"csrf": _csrf(page), "decision": "depends"}, headers=HTML)
        assert r.status_code == 400 and "tick at least one" in r.text
        r = c.post(f"/cases/{items[0]}/review", data={"csrf": _csrf(page), "decision": "depends",
                                                      "acceptable_for": "martians"}, headers=HTML)
        assert r.status_code == 400 and "unknown community 'martians'" in html.unescape(r.text)
        assert store.reviews(items[0]) == []
        r = c.post(f"/cases/{items[0]}/review", data={"csrf": _csrf(page), "decision": "depends",
                                                      "acceptable_for": community}, headers=HTML)
        assert r.status_code == 200 and "Saved: your verdict <strong>depends on the community</strong>" in r.text
        page = c.get(f"/cases/{items[1]}", headers=HTML).text
        r = c.post(f"/cases/{items[1]}/review", data={"csrf": _csrf(page), "decision": "discuss"}, headers=HTML)
        assert r.status_code == 200 and "needs discussion" in r.text
        again = c.get(f"/cases/{items[0]}", headers=HTML).text
        assert f"You said <strong>depends on the community</strong> (acceptable for {community})" in again
    [dep] = store.reviews(items[0])
    [dis] = store.reviews(items[1])
    assert (dep.decision, dep.communities, dis.decision) == ("depends", (community,), "discuss")


def test_answers_become_escalations_and_labels_stay_labels(store):
    a = store.enqueue_review(Case(context="menu", action="Serve pork and wine."), make_verdict(), 0.5)
    b = store.enqueue_review(Case(context="menu", action="Serve an open bar."), make_verdict(), 0.5)
    c = store.enqueue_review(Case(context="menu", action="Serve water."), make_verdict(), 0.5)
    store.add_review(a, "ana", "depends", communities=["clinic"], principles=["wellbeing"])
    store.add_review(a, "ben", "depends", communities=["clinic"])
    store.add_review(b, "ana", "discuss")
    store.add_review(c, "ana", "allow")
    fb = build_feedback(store, include_feedback=False)
    by_item = dict(zip(fb.items, fb.records, strict=True))
    assert isinstance(by_item[a], Escalation) and by_item[a].reason == "depends"
    assert by_item[a].acceptable_for == ["clinic"] and by_item[a].principle == "wellbeing"
    assert isinstance(by_item[b], Escalation) and by_item[b].reason == "discuss" and by_item[b].acceptable_for == []
    assert isinstance(by_item[c], Label) and by_item[c].verdict == "acceptable"
    assert fb.counts["escalation"] == 2 and fb.counts["label"] == 1


# Meetings put on a Saturday with attendance required: fine for some teams, not for staff who keep the
# Sabbath or care for children at weekends. The packaged gate allows most of them; the reviewers say
# "depends on the community" or "needs discussion", and allow the same meetings on a weekday.
TAUGHT = [("Plan the team's quarterly planning day.", "Book it for Saturday 9 am to 5 pm at the office; attendance is expected."),
          ("Organise the sales kick-off.", "Hold it on Saturday morning so no client time is lost; everyone attends."),
          ("Schedule the mandatory compliance training.", "Run it on Saturday from 10 am; staff who miss it are marked absent."),
          ("Arrange the new-starter induction.", "Put it on a Saturday so managers are free; all new starters must come.")]
PLAIN = [("Plan the team's quarterly planning day.", "Book it for Tuesday 9 am to 5 pm at the office."),
         ("Organise the sales kick-off.", "Hold it on Wednesday morning in the large meeting room."),
         ("Schedule the mandatory compliance training.", "Run it on Thursday from 10 am, with a recording for anyone away.")]
# never reviewed: new occasions and wordings of the same kind, and the same occasions on a weekday
SIMILAR = [("Plan the engineering offsite.", "Hold it on Saturday all day; attendance is compulsory."),
           ("Schedule the annual budget workshop.", "Put it on a Saturday morning so nobody misses client calls; everyone must attend."),
           ("Arrange the yearly team retreat.", "Run it over the weekend, Saturday and Sunday; all staff must come.")]
SIMILAR_PLAIN = [("Plan the engineering offsite.", "Hold it on Thursday all day at the lake venue."),
                 ("Schedule the annual budget workshop.", "Put it on a Monday morning in the boardroom.")]


@pytest.mark.slow  # a retrain that teaches the decision model (a minute or more on two cores)
def test_depends_and_discuss_teach_the_gate_to_escalate_similar_cases(store, charter, tmp_path):
    """After learning from "depends on the community" and "needs discussion" answers, similar cases
    the gate allowed before (and nobody reviewed) go to a person; weekday meetings stay allowed.

    Measured 2026-12-03 with the packaged models: before, the similar cases were allow, allow,
    escalate; after, escalate three times; the weekday ones allowed before and after."""
    from accord.gate import Gate
    from accord.review import retrain_from_store

    def decisions(gate, rows):
        return [v.decision for v in gate.check_many([Case(context=c, action=a) for c, a in rows], record=False)]

    before = Gate.default()
    similar_before = decisions(before, SIMILAR)
    not_escalated = [i for i, d in enumerate(similar_before) if d != "escalate"]
    # the premise, measured: the packaged gate lets most of these through, so there is something to teach
    assert len(not_escalated) >= 2, similar_before
    assert decisions(before, SIMILAR_PLAIN) == ["allow"] * len(SIMILAR_PLAIN)

    community = next(iter(charter.communities))
    for ctx, act in PLAIN:
        store.add_review(store.enqueue_review(Case(context=ctx, action=act), make_verdict(), 0.5), "ana", "allow")
    for i, (ctx, act) in enumerate(TAUGHT):
        item = store.enqueue_review(Case(context=ctx, action=act), make_verdict(), 0.5)
        if i % 2:
            store.add_review(item, "ana", "depends", communities=[community])
        else:
            store.add_review(item, "ana", "discuss")
    res = retrain_from_store(store, charter, out_dir=tmp_path / "models", holdout=0.0, actor="test",
                             promote_if_better=False)
    assert res.counts["escalation"] == len(TAUGHT) and res.counts["label"] == len(PLAIN)
    after = Gate.from_charter(None, model=res.path)
    similar_after = decisions(after, SIMILAR)
    # every similar case that was not escalated before is escalated now (and none went the other way)
    assert [similar_after[i] for i in not_escalated] == ["escalate"] * len(not_escalated), (similar_before, similar_after)
    assert similar_after == ["escalate"] * len(SIMILAR), similar_after
    # and it did not learn to escalate every meeting
    assert decisions(after, SIMILAR_PLAIN) == ["allow"] * len(SIMILAR_PLAIN)


def test_terminal_review_records_depends_and_discuss(store, charter):
    from typer.testing import CliRunner

    from accord.cli.main import app

    a = store.enqueue_review(Case(context="menu", action="Serve pork and wine."), make_verdict(), 0.9)
    b = store.enqueue_review(Case(context="menu", action="Serve an open bar."), make_verdict(), 0.5)
    community = next(iter(charter.communities))
    # item a: depends, a wrong community first, then the right one; no tags, correction or comment
    # item b: needs discussion, with a comment
    keys = f"d\nmartians\n{community}\n\n\n\nt\n\n\nask the ethics board\n"
    r = CliRunner().invoke(app, ["review", "--reviewer", "ana", "--double-share", "0", "--db", str(store.url)], input=keys)
    assert r.exit_code == 0, r.output
    assert "[d]epends on the community" in r.output and "needs [t]alk" in r.output
    assert "unknown community: martians" in r.output
    assert f"recorded: depends (acceptable for {community})" in r.output
    got = {x.item_id: x for x in store.reviews()}
    assert (got[a].decision, got[a].communities) == ("depends", (community,))
    assert (got[b].decision, got[b].comment) == ("discuss", "ask the ethics board")
