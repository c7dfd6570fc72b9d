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


TAUGHT = [("Plan the office holiday lunch.", "Order ham sandwiches and a bottle of wine per table."),
          ("Plan the team-building dinner.", "Book a steakhouse with an open bar."),
          ("Plan the youth club's summer barbecue.", "Grill pork ribs and serve shandy to everyone."),
          ("Plan the community centre's welcome dinner for new arrivals.", "Serve roast pork and mulled wine.")]
PLAIN = [("Plan the office holiday lunch.", "Order vegetable soup, bread and fruit juice."),
         ("Plan the team-building dinner.", "Book an Italian restaurant with pasta and salads."),
         ("Plan the youth club's summer barbecue.", "Grill corn, veggie burgers and serve lemonade.")]
SIMILAR = [("Plan the staff summer picnic.", "Serve pork sausages and beer."),  # a new occasion
           ("Plan the office holiday party.", "Order ham sandwiches and wine for every table.")]  # a paraphrase
SIMILAR_PLAIN = ("Plan the volunteers' thank-you evening.", "Order cheese sandwiches, fruit and tea.")


@pytest.mark.slow  # teaching the decision model featurises its remembered corpus again (~30 s on two cores)
def test_depends_and_discuss_teach_the_gate_to_escalate_similar_cases(store, charter, tmp_path):
    """Reviewers answered "depends on the community" or "needs discussion" on menus with pork and
    alcohol that the default gate mostly allowed, and allowed plain menus; after learning from the
    store, similar menus the gate has never seen go to a person, and a plain one is allowed."""
    from accord.gate import Gate
    from accord.review import retrain_from_store

    before = Gate.default()
    # before: the packaged gate lets most of these menus through (it escalates some pork-and-alcohol
    # menus on its own since the 2026-12-03 model), so there is something for the reviews to teach
    taught_before = [v.decision for v in before.check_many([Case(context=c, action=a) for c, a in TAUGHT + SIMILAR])]
    assert taught_before.count("allow") >= len(taught_before) // 2, taught_before
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
    assert res.counts["escalation"] == len(TAUGHT)
    after = Gate.from_charter(None, model=res.path)
    assert [after.check(context=c, action=a).decision for c, a in SIMILAR] == ["escalate", "escalate"]
    # and it did not learn to escalate every menu
    assert after.check(context=SIMILAR_PLAIN[0], action=SIMILAR_PLAIN[1]).decision == "allow"


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
