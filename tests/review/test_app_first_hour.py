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
