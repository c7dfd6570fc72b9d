"""The review web app without a browser: auth, roles, CSRF, the review flow, and inert model text."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from tests.review.conftest import make_verdict

from accord.review import QueueConfig, Users
from accord.server.review import create_app
from accord.types import Case, Precedent

EVIL = ('<script>alert("x")</script> <img src=x onerror=alert(1)> [click](javascript:alert(1)) **bold** '
        '</pre></textarea><svg onload=alert(2)> {{ 7*7 }} &amp; <a href="javascript:alert(3)">link</a> '
        'invoice_\u202efdp.exe \u2067isolated\u2069')  # bidi controls: shown as stored, never applied
PASSWORD = "correct horse"


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field in the page"
    return m.group(1)


@pytest.fixture
def setup(store, charter, base_model_dir):
    users = Users(store)
    users.add("ana", PASSWORD, role="reviewer")
    users.add("root", PASSWORD, role="admin")
    users.add("cara", PASSWORD, role="reviewer", communities=["cautious"])
    evil_verdict = make_verdict(communities={"default": "escalate", "cautious": "block"})
    evil_verdict = evil_verdict.model_copy(update={"explanation": evil_verdict.explanation.model_copy(update={
        "summary": "summary " + EVIL, "counterfactual": "cf " + EVIL,
        "precedents": [Precedent(context="pc " + EVIL, action="pa " + EVIL, verdict="unacceptable", similarity=0.9,
                                 source="review")]})})
    evil = store.enqueue_review(Case(context="ctx " + EVIL, action="act " + EVIL), evil_verdict, 0.99)
    plain = [store.enqueue_review(Case(context="same context", action=f"response {i}"), make_verdict(), 0.5 - i / 100)
             for i in range(3)]
    routed = store.enqueue_review(Case(action="cautious only", community="cautious"), make_verdict(), 0.1)
    app = create_app(store, charter, secret=b"x" * 32, queue=QueueConfig(double_share=0.0), model_dir=base_model_dir)
    return app, evil, plain, routed


def _login(client: TestClient, name: str) -> None:
    r = client.get("/login")
    r = client.post("/login", data={"username": name, "password": PASSWORD, "csrf": _csrf(r.text), "next": "/queue"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text


def test_unauthenticated_is_redirected_or_401(setup):
    app, evil, *_ = setup
    with TestClient(app) as c:
        for path in ("/", "/queue", f"/cases/{evil}", "/pairwise", "/admin", "/next"):
            r = c.get(path, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
        assert c.get("/queue", headers={"HX-Request": "true"}).status_code == 401
        assert c.post(f"/cases/{evil}/review", data={"decision": "allow"}).status_code == 401
        assert c.get("/healthz").status_code == 200


def test_wrong_password_and_open_redirect(setup):
    app, *_ = setup
    with TestClient(app) as c:
        r = c.get("/login")
        bad = c.post("/login", data={"username": "ana", "password": "nope nope", "csrf": _csrf(r.text)})
        assert bad.status_code == 401 and "Wrong name or password" in bad.text
        r = c.post("/login", data={"username": "ana", "password": PASSWORD, "csrf": _csrf(bad.text),
                                   "next": "//evil.example/x"}, follow_redirects=False)
        assert r.headers["location"] == "/queue"


def test_reviewer_cannot_reach_admin_pages(setup, store):
    app, *_ = setup
    with TestClient(app) as c:
        _login(c, "ana")
        assert c.get("/admin").status_code == 403
        page = c.get("/queue").text
        r = c.post("/admin/models/rollback", data={"csrf": _csrf(page), "reason": "x"})
        assert r.status_code == 403
        assert not store.model_events()
    with TestClient(app) as c:
        _login(c, "root")
        assert c.get("/admin").status_code == 200


def test_forms_without_csrf_are_rejected(setup, store):
    app, evil, *_ = setup
    with TestClient(app) as c:
        # even sign-in needs the token
        r = c.post("/login", data={"username": "ana", "password": PASSWORD})
        assert r.status_code == 403
        _login(c, "ana")
        r = c.post(f"/cases/{evil}/review", data={"decision": "block"})
        assert r.status_code == 403 and "CSRF" in r.text
        r = c.post(f"/cases/{evil}/review", data={"decision": "block", "csrf": "forged"})
        assert r.status_code == 403
        assert store.reviews() == []
        page = c.get(f"/cases/{evil}").text
        r = c.post(f"/cases/{evil}/review", data={"decision": "block", "csrf": _csrf(page)}, follow_redirects=False)
        assert r.status_code == 303
        assert [x.decision for x in store.reviews()] == ["block"]
        # the htmx path: the token in a header, an HX-Redirect back
        r = c.post(f"/cases/{evil}/review", data={"decision": "allow"},
                   headers={"HX-Request": "true", "X-CSRF-Token": _csrf(page)})
        assert r.status_code == 200 and r.headers["HX-Redirect"].startswith("/next")
        # a second verdict by the same person amends the first; both rows stay
        assert [x.decision for x in store.reviews()] == ["allow"]
        assert len(store.reviews(current=False)) == 2


def test_review_flow_with_tags_correction_and_routing(setup, store):
    app, evil, plain, routed = setup
    with TestClient(app) as c:
        _login(c, "ana")
        r = c.get("/next", follow_redirects=False)
        assert r.headers["location"] == f"/cases/{evil}"  # highest priority first
        page = c.get(f"/cases/{plain[0]}").text
        r = c.post(f"/cases/{plain[0]}/review", data={"decision": "block", "principles": ["harm", "honesty"],
                                                       "correction": "A safe answer.", "comment": "bad",
                                                       "csrf": _csrf(page)})
        assert r.status_code == 200  # followed to the next case
        (rev,) = store.reviews()
        assert rev.principles == ("harm", "honesty") and rev.correction == "A safe answer." and rev.reviewer == "ana"
        bad = c.post(f"/cases/{plain[1]}/review", data={"decision": "block", "principles": ["nope"], "csrf": _csrf(page)})
        assert bad.status_code == 400
        # routing: ana (no communities) sees the cautious item; cara sees it; a non-member does not
        assert c.get(f"/cases/{routed}").status_code == 200
    Users(store).add("lib", PASSWORD, communities=["libertarian"])
    with TestClient(app) as c:
        _login(c, "lib")
        assert c.get(f"/cases/{routed}").status_code == 403
        assert f"/cases/{routed}" not in c.get("/queue").text


def test_pairwise_records_a_preference(setup, store):
    app, _evil, _plain, _ = setup
    with TestClient(app) as c:
        _login(c, "ana")
        page = c.get("/pairwise").text
        assert "same context" in page
        pid = re.search(r'name="pair" value="([^"]+)"', page).group(1)
        r = c.post("/pairwise", data={"pair": pid, "choice": "a", "csrf": _csrf(page)})
        assert r.status_code == 200
        (entry,) = store.feedback_log(["preference"])
        assert entry.author == "ana" and entry.record.context == "same context"
        assert entry.record.source == f"pairwise:{pid}"
        assert pid not in c.get("/pairwise").text  # not offered twice
        assert c.post("/pairwise", data={"pair": "ctx:999:1000", "choice": "a", "csrf": _csrf(page)}).status_code == 400


def test_model_text_is_inert_on_every_page(setup, store):
    app, evil, _plain, _ = setup
    with TestClient(app) as c:
        _login(c, "ana")
        assert c.get(f"/cases/{evil}").status_code == 200
        store.add_review(evil, "ana", "block", correction="fix " + EVIL, comment="comment " + EVIL)
        store.add_review(evil, "root", "allow", comment="root " + EVIL)
    pages = []
    with TestClient(app) as c:
        _login(c, "root")
        for path in ("/queue", f"/cases/{evil}", "/pairwise", "/admin"):
            r = c.get(path)
            assert r.status_code == 200, path
            pages.append((path, r.text, r.headers))
        pages.append(("/queue/rows", c.get("/queue/rows").text, {}))
    assert any("&lt;script&gt;" in html for _, html, _ in pages)
    for path, html, headers in pages:
        for raw in ("<script>alert", "<img src=x", "<svg onload", 'href="javascript:', "onerror=alert(1)>"):
            assert raw not in html, f"{raw!r} unescaped on {path}"
        # the only script tags are the app's own files
        assert set(re.findall(r"<script[^>]*>", html)) <= {'<script src="/static/htmx.min.js" defer>',
                                                            '<script src="/static/review.js" defer>'}
        if headers:
            assert "script-src 'self'" in headers["content-security-policy"]
    case_html = dict((p, h) for p, h, _ in pages)[f"/cases/{evil}"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in case_html
    assert "[click](javascript:alert(1))" in case_html and "**bold**" in case_html  # markdown shown as typed
    assert "{{ 7*7 }}" in case_html  # data is never evaluated as a template
    for path, html, _ in pages:
        assert not re.search("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]", html), f"a bidi control on {path}"
    assert "invoice_[U+202E]fdp.exe [U+2067]isolated[U+2069]" in case_html  # visible where the text had them
    pair_html = dict((p, h) for p, h, _ in pages)["/pairwise"]
    assert "fix &lt;script&gt;" in pair_html  # the correction is offered as a pair, escaped


def test_admin_dashboard_and_rollback(setup, store, base_model_dir, tmp_path, charter):
    from tests.review.conftest import enqueue, synthetic_cases

    from accord.review import retrain_from_store

    app, evil, _plain, _ = setup
    for i, (ctx, act, bad) in enumerate(synthetic_cases()[:30]):
        item = enqueue(store, ctx, act)
        store.add_review(item, "ana", "block" if bad else "allow")
        if i % 2:
            store.add_review(item, "root", "block" if (bad or i % 5 == 0) else "allow")
    res = retrain_from_store(store, charter, base_model_dir=base_model_dir, out_dir=tmp_path / "m", actor="root",
                             teach=False)  # a promotion to roll back (the decision model is not looked at)
    assert res.promoted
    with TestClient(app) as c:
        _login(c, "root")
        html = c.get("/admin").text
        for chart in ("chart-reviews", "chart-age", "chart-agreement", "chart-escalation"):
            assert f'id="{chart}"' in html
        assert "<svg" in html and "<rect" in html
        # every review is from today: one day of agreement is drawn as a bar, not a lone dot on a line
        agreement = html.split('id="chart-agreement"', 1)[1].split("</figure>", 1)[0]
        assert "<rect" in agreement and "<polyline" not in agreement
        assert "ana · root" in html  # a Cohen's kappa row
        assert 'id="contested"' in html and f"#{evil}" in html  # communities decided differently
        r = c.post("/admin/models/rollback", data={"csrf": _csrf(html), "reason": "dashboard test"},
                   follow_redirects=False)
        assert r.status_code == 303
    assert store.current_model("default").version == res.previous.version
    assert store.model_events()[-1].actor == "root" and store.model_events()[-1].reason == "dashboard test"
