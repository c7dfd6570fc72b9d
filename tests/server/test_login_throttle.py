"""Issue 14, item 13: the review app slows and then locks repeated failed sign-ins (per account and
per address), and password checks do not hold the event loop."""

from __future__ import annotations

import re
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from accord.charter import load_charter
from accord.review import Users
from accord.server.proxy.testing import serve_in_thread
from accord.server.review import create_app
from accord.server.review.security import LoginThrottle
from accord.store import Store

PASSWORD = "correct horse"


@pytest.fixture
def app(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'r.db'}")
    users = Users(store)
    users.add("ana", PASSWORD, role="reviewer")
    users.add("bo", PASSWORD, role="reviewer")
    yield create_app(store, load_charter(None), secret=b"s" * 32)
    store.close()


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m
    return m.group(1)


def _try(c: TestClient, name: str, password: str) -> httpx.Response:
    token = _csrf(c.get("/login").text)
    return c.post("/login", data={"username": name, "password": password, "csrf": token, "next": "/queue"},
                  follow_redirects=False)


def test_repeated_failures_lock_the_account_even_for_the_right_password(app):
    now = [1000.0]
    app.state.login_throttle._clock = lambda: now[0]
    with TestClient(app) as c:
        for _ in range(5):
            assert _try(c, "ana", "wrong").status_code == 401
        r = _try(c, "ana", PASSWORD)
        assert r.status_code == 429 and "Too many failed sign-ins" in r.text and int(r.headers["retry-after"]) >= 1
        now[0] += 2  # the first lock (1 s) is over
        assert _try(c, "ana", PASSWORD).status_code == 303


def test_the_lock_doubles_and_the_address_is_throttled_too(app):
    now = [1000.0]
    app.state.login_throttle._clock = lambda: now[0]
    with TestClient(app) as c:
        waits = []
        for i in range(9):  # guessing a different name each time, from one address
            r = _try(c, f"guess{i}", "wrong")
            if r.status_code == 429:
                waits.append(int(r.headers["retry-after"]))
                now[0] += waits[-1]
                r = _try(c, f"guess{i}", "wrong")
            assert r.status_code == 401
        assert waits == [1, 2, 4, 8]  # 1 s after five failures, doubling
        assert _try(c, "bo", PASSWORD).status_code == 429  # a real account, but from the guessing address


def test_throttle_forgets_after_its_window():
    t = [0.0]
    th = LoginThrottle(free=2, window_s=60, clock=lambda: t[0])
    th.failed("a")
    th.failed("a")
    th.failed("a")
    assert th.wait_s("a") == pytest.approx(2.0)
    t[0] = 61.0
    assert th.wait_s("a") == 0.0 and th.wait_s("b") == 0.0


def test_concurrent_bad_logins_do_not_stall_the_app(app):
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as c, \
            httpx.Client(base_url=url, timeout=30, limits=httpx.Limits(max_connections=20)) as attacker:
        token = _csrf(attacker.get("/login").text)

        def bad(i: int) -> None:
            attacker.post("/login", data={"username": f"x{i}", "password": "wrong", "csrf": token})

        lat = []
        threads = [threading.Thread(target=bad, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for _ in range(20):
            t0 = time.perf_counter()
            assert c.get("/healthz").status_code == 200
            lat.append(time.perf_counter() - t0)
            time.sleep(0.02)
        for t in threads:
            t.join(30)
    print(f"\n/healthz during 20 concurrent bad sign-ins: max {max(lat) * 1000:.0f} ms")
    assert max(lat) < 0.100
