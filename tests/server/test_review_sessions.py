"""Issue 14, item 13: review app sessions end on sign-out, a password change and disabling the user,
and the login throttle counts in the store, so several worker processes share both."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from accord.charter import load_charter
from accord.review import Users
from accord.server.review import create_app
from accord.server.review.security import COOKIE, Session, Signer
from accord.store import Store

PASSWORD = "correct horse"
SECRET = b"s" * 32


@pytest.fixture
def store(tmp_path):
    s = Store.open(f"sqlite:///{tmp_path / 'r.db'}")
    Users(s).add("ana", PASSWORD, role="reviewer")
    yield s
    s.close()


def _worker(store):
    """One worker process's app: its own objects over the shared store and secret."""
    return create_app(store, load_charter(None), secret=SECRET)


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m
    return m.group(1)


def _sign_in(c: TestClient, password: str = PASSWORD) -> str:
    r = c.post("/login", data={"username": "ana", "password": password, "csrf": _csrf(c.get("/login").text),
                               "next": "/queue"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return c.cookies[COOKIE]


def _works(app, cookie: str) -> bool:
    """Whether a copy of the cookie (a stolen one, another browser tab) still opens the queue."""
    with TestClient(app) as other:
        other.cookies.set(COOKIE, cookie)
        r = other.get("/queue", follow_redirects=False)
        return r.status_code == 200


def test_sign_out_ends_the_session_in_every_worker(store):
    w1, w2 = _worker(store), _worker(store)
    with TestClient(w1) as c:
        cookie = _sign_in(c)
        assert _works(w1, cookie) and _works(w2, cookie)
        r = c.post("/logout", data={"csrf": _csrf(c.get("/queue").text)}, follow_redirects=False)
        assert r.status_code == 303
    assert not _works(w1, cookie) and not _works(w2, cookie)
    assert [e.actor for e in store.audit_events("review.signout")] == ["ana"]
    with TestClient(w2) as c:  # signing in again gives a new session that works
        assert _works(w1, _sign_in(c))


def test_a_new_password_ends_every_session(store):
    app = _worker(store)
    with TestClient(app) as c:
        cookie = _sign_in(c)
        assert _works(app, cookie)
        Users(store).update("ana", password="a new password", actor="admin")
        assert not _works(app, cookie)
        assert c.get("/queue", follow_redirects=False).status_code == 303  # the browser that had it too
        assert _works(app, _sign_in(c, "a new password"))


def test_disabling_ends_every_session_and_enabling_does_not_bring_them_back(store):
    app = _worker(store)
    with TestClient(app) as c:
        cookie = _sign_in(c)
        Users(store).update("ana", active=False)
        assert not _works(app, cookie)
        Users(store).update("ana", active=True)
        assert not _works(app, cookie)
        Users(store).update("ana", role="admin")  # a role change is not a credential change
        fresh = _sign_in(c)
        Users(store).update("ana", role="reviewer")
        assert _works(app, fresh)


def test_a_signed_cookie_without_a_session_id_or_epoch_is_not_a_session(store):
    app = _worker(store)
    signer = Signer(SECRET)
    legacy = signer.dumps(Session(user="ana")).split(".")[0]  # re-signed below without "s"
    import base64
    import json
    d = json.loads(base64.urlsafe_b64decode(legacy + "=" * (-len(legacy) % 4)))
    del d["s"]
    body = base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    assert not _works(app, f"{body}.{signer._sig(body)}")
    assert not _works(app, signer.dumps(Session(user="ana")))  # no credential epoch: not signed in


def test_failed_sign_ins_are_counted_across_workers(store):
    w1, w2 = _worker(store), _worker(store)
    now = [1_000_000.0]
    for w in (w1, w2):
        w.state.login_throttle._clock = lambda: now[0]
    with TestClient(w1) as c1, TestClient(w2) as c2:
        for i in range(5):  # spread over both workers
            c = (c1, c2)[i % 2]
            r = c.post("/login", data={"username": "ana", "password": "wrong", "csrf": _csrf(c.get("/login").text)})
            assert r.status_code == 401
        for c in (c1, c2):
            r = c.post("/login", data={"username": "ana", "password": PASSWORD, "csrf": _csrf(c.get("/login").text)},
                       follow_redirects=False)
            assert r.status_code == 429
        now[0] += 2
        _sign_in(c2)  # the lock is over; a success clears the account's count in the store
    th = w1.state.login_throttle
    assert th._recent("user:ana", now[0]) == [] and len(th._recent("addr:testclient", now[0])) == 5


def test_store_throttle_forgets_after_its_window_and_its_tables_are_append_only(store):
    from accord.review.sessions import EndedSessions, SigninFailures
    from accord.server.review.security import LoginThrottle
    t = [0.0]
    counts = SigninFailures(store)
    th = LoginThrottle(free=2, window_s=60, clock=lambda: t[0], counts=counts)
    th.failed("a")
    th.failed("a")
    th.failed("a")
    assert th.wait_s("a") == pytest.approx(2.0) and th.wait_s("b") == 0.0
    th.succeeded("a")
    assert th.wait_s("a") == 0.0
    th.failed("a")
    th.failed("a")
    th.failed("a")
    t[0] = 61.0
    assert th.wait_s("a") == 0.0
    assert counts.count() == 7  # nothing deleted: a forgotten failure is one the window no longer reads
    EndedSessions(store).end("sid1", "ana")
    assert EndedSessions(store).ended("sid1") and not EndedSessions(store).ended("sid2")
    for table in ("review_sessions_ended", "review_signin_failures"):
        with pytest.raises(SQLAlchemyError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(f"DELETE FROM {table}"))
