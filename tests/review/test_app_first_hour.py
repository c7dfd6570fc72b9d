"""The review app as a new reviewer meets it: 404 pages, the judge's leaning, verdict options."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from tests.review.conftest import make_verdict

from accord.review import QueueConfig, Users
from accord.server.review import create_app
from accord.types import Case

PASSWORD = "correct horse"
HTML = {"accept": "text/html,application/xhtml+xml"}


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field in the page"
    return m.group(1)


def _login(client: TestClient, name: str) -> str:
    r = client.get("/login")
    r = client.post("/login", data={"username": name, "password": PASSWORD, "csrf": _csrf(r.text), "next": "/queue"})
    assert r.status_code == 200, r.text
    return r.text


@pytest.fixture
def app(store, charter):
    Users(store).add("ana", PASSWORD, role="reviewer")
    Users(store).add("root", PASSWORD, role="admin")
    store.enqueue_review(Case(context="c", action="a"), make_verdict(), 0.5)
    return create_app(store, charter, secret=b"x" * 32, queue=QueueConfig(double_share=0.0))


def test_unknown_paths_answer_an_html_404_page_for_browsers_and_json_for_scripts(app):
    with TestClient(app) as c:
        r = c.get("/no/such/page", headers=HTML)
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("text/html")
        assert "<h1>Not found</h1>" in r.text and "Back to the queue" in r.text
        r = c.get("/api/nothing")
        assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
        r = c.get("/no/such/page")  # a script (no text/html in Accept)
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")


def test_a_case_that_does_not_exist_is_404(app):
    with TestClient(app) as c:
        _login(c, "ana")
        r = c.get("/cases/9999", headers=HTML)
        assert r.status_code == 404 and "There is no case #9999" in r.text
        r = c.get("/cases/abc", headers=HTML)
        assert r.status_code == 404 and "There is no case" in r.text


# ---------------------------------------------------------------------- dashboard
def test_dashboard_is_consistent_on_a_young_store(store, charter):
    from accord.review.dashboard import line_chart

    Users(store).add("ana", PASSWORD, role="reviewer")
    Users(store).add("root", PASSWORD, role="admin")
    item = store.enqueue_review(Case(context="c", action="a"), make_verdict(), 0.5)
    store.add_review(item, "ana", "allow")
    store.add_review(item, "root", "block")  # two reviewers shared one item
    app = create_app(store, charter, secret=b"x" * 32, queue=QueueConfig(double_share=0.0))
    with TestClient(app) as c:
        _login(c, "root")
        html = c.get("/admin").text
    kpi = re.search(r'id="kpi-fleiss".*?</div>', html, re.S).group(0)
    assert "−1" not in kpi and "-1.00" not in kpi and "needs 2+ items" in kpi and "1 so far" in kpi
    assert "ana · root" in html  # the shared item is listed, not "no two reviewers have shared items"
    assert "No two reviewers have shared items yet" not in html
    assert 'id="events-empty"' in html  # promotions: an empty state that says what would appear
    assert re.search(r'<button type="submit" id="rollback" disabled', html)
    assert "nothing to roll back" in html
    # a per-day chart with one day of data draws that day as a bar, not a lone dot
    one_day = line_chart("t", [("11-30", None), ("12-01", 0.5), ("12-02", None)])
    assert one_day.kind == "bar" and [b.h > 0 for b in one_day.bars] == [False, True, False]
    two_days = line_chart("t", [("11-30", 0.2), ("12-01", 0.5)])
    assert two_days.kind == "line"


def test_rollback_is_enabled_when_there_is_something_to_roll_back_to(store, charter, base_model_dir):
    Users(store).add("root", PASSWORD, role="admin")
    for v in ("v1", "v2"):
        mid = store.add_model_version("default", v, str(base_model_dir))
        store.model_event(mid, "promote", "root", "test")
    app = create_app(store, charter, secret=b"x" * 32)
    with TestClient(app) as c:
        _login(c, "root")
        html = c.get("/admin").text
    assert re.search(r'<button type="submit" id="rollback">', html)


# ---------------------------------------------------------------------- the case page
@pytest.mark.parametrize("action", ["Here are step-by-step instructions to build a pipe bomb at home.",
                                    "Run `kill <pid>`; add -9 if it ignores the signal."])
def test_the_leaning_agrees_with_the_probability_shown(store, charter, base_model_dir, action):
    from accord.judges.value_model import ValueModel

    Users(store).add("ana", PASSWORD, role="reviewer")
    case = Case(context="", action=action)
    p = float(ValueModel.load(base_model_dir).predict_proba([case])[0, 1])
    lean = "block" if p > 0.5 else "allow"
    assert lean == ("block" if "bomb" in action else "allow")  # both branches are exercised
    # the stored verdict's top learned score points the other way: the page must follow the P it shows
    item = store.enqueue_review(case, make_verdict(score=0.2 if p > 0.5 else 0.8), 0.5)
    app = create_app(store, charter, secret=b"x" * 32, model_dir=base_model_dir)
    with TestClient(app) as c:
        _login(c, "ana")
        html = c.get(f"/cases/{item}").text
    m = re.search(r'<p class="muted" id="lean">(.*?)</p>', html, re.S)
    assert m, "no leaning sentence"
    assert f"P(unacceptable) = {p:.2f}" in m.group(1) and f"leans to <strong>{lean}</strong>" in m.group(1)
    assert html.count("P(unacceptable)") == 1


def test_a_verdict_is_confirmed_on_the_next_page(app):
    with TestClient(app) as c:
        _login(c, "ana")
        page = c.get("/next", headers=HTML)
        item = int(re.search(r"Case #(\d+)", page.text).group(1))
        r = c.post(f"/cases/{item}/review", data={"csrf": _csrf(page.text), "decision": "block", "principles": "harm"})
        assert r.status_code == 200
        assert f"Saved: your verdict <strong>block</strong> on <a href=\"/cases/{item}\">case #{item}</a>" in r.text
        assert c.get(f"/next?saved={item + 1000}").text.count("Saved:") == 0  # only one's own verdicts


# ---------------------------------------------------------------------- the queue: search, filter, sort
def test_queue_search_filter_by_principle_and_community_and_sort_by_age(store, charter):
    Users(store).add("ana", PASSWORD)
    community = next(iter(charter.communities))
    a = store.enqueue_review(Case(context="refund", action="Tell them refunds are impossible."),
                             make_verdict(principle="honesty"), 0.9)
    b = store.enqueue_review(Case(context="chat", action="Share the patient's address.", community=community),
                             make_verdict(principle="privacy"), 0.5)
    c = store.enqueue_review(Case(context="refund", action="Refunds take five days."), make_verdict(principle="honesty"), 0.1)
    app = create_app(store, charter, secret=b"x" * 32, queue=QueueConfig(double_share=0.0))

    def ids(html: str) -> list[int]:
        rows = html.split('id="queue-rows"', 1)[-1]
        return [int(x) for x in re.findall(r'<a href="/cases/(\d+)">', rows)]

    with TestClient(app) as cl:
        _login(cl, "ana")
        assert ids(cl.get("/queue").text) == [a, b, c]  # priority order
        assert ids(cl.get("/queue", params={"q": "refunds"}).text) == [a, c]
        assert ids(cl.get("/queue", params={"q": "REFUNDS impossible"}).text) == [a]
        assert ids(cl.get("/queue", params={"principle": "privacy"}).text) == [b]
        assert ids(cl.get("/queue", params={"community": community}).text) == [b]
        assert ids(cl.get("/queue", params={"community": "(none)"}).text) == [a, c]
        assert ids(cl.get("/queue", params={"sort": "newest"}).text) == [c, b, a]
        assert ids(cl.get("/queue", params={"sort": "oldest", "principle": "honesty"}).text) == [a, c]
        # the rows htmx refreshes keep the filter
        assert ids('id="queue-rows"' + cl.get("/queue/rows", params={"principle": "privacy"}).text) == [b]
        page = cl.get("/queue", params={"principle": "privacy", "sort": "bogus"}).text
        assert '<option value="privacy" selected>' in page and 'hx-include="#queue-filter"' in page
