"""Signed session cookies and CSRF tokens for the review app (standard library only).

A session is a small JSON object (user name, session id, the user's credential epoch, CSRF
token, issue time) in a cookie signed with HMAC-SHA256. The signature alone would keep a cookie
valid until it expires; the app also refuses a session whose id was ended by signing out, or
whose credential epoch is no longer the user's (the password was changed or the user disabled
since), both read from the store (:mod:`accord.review.sessions`), so every worker process sees
them. The cookie is ``HttpOnly`` and ``SameSite=Lax`` (and ``Secure`` when asked). Every form carries the session's CSRF token and every ``POST`` is
refused without it (the synchroniser-token pattern; ``SameSite`` alone does not cover old
browsers or same-site attackers).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

COOKIE = "accord_review"
MAX_AGE_S = 12 * 3600


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


@dataclass
class Session:
    """What the cookie holds: the signed-in user (or none), the session's id, the user's credential
    epoch at sign-in, the CSRF token and when it was issued."""

    user: str | None = None
    sid: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    epoch: int | None = None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    issued: float = field(default_factory=time.time)
    dirty: bool = True  # must be (re)sent to the browser

    def as_payload(self) -> dict[str, Any]:
        return {"u": self.user, "s": self.sid, "e": self.epoch, "c": self.csrf, "t": int(self.issued)}


class Signer:
    """Signs and checks session cookies with one secret key."""

    def __init__(self, secret: bytes, max_age_s: int = MAX_AGE_S) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret must be at least 16 bytes")
        self._key = hashlib.sha256(b"accord-review-session:" + secret).digest()
        self.max_age_s = max_age_s

    def _sig(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def dumps(self, s: Session) -> str:
        body = _b64(json.dumps(s.as_payload(), separators=(",", ":")).encode())
        return f"{body}.{self._sig(body)}"

    def loads(self, cookie: str | None) -> Session | None:
        """The session in a cookie, or ``None`` when it is missing, forged or expired."""
        if not cookie or "." not in cookie:
            return None
        body, sig = cookie.rsplit(".", 1)
        if not hmac.compare_digest(sig, self._sig(body)):
            return None
        try:
            d = json.loads(_unb64(body))
            s = Session(user=d.get("u"), sid=str(d["s"]), epoch=d.get("e"), csrf=str(d["c"]), issued=float(d["t"]),
                        dirty=False)
        except (ValueError, KeyError, TypeError):  # a cookie from before session ids, too: sign in again
            return None
        if s.epoch is not None and (not isinstance(s.epoch, int) or isinstance(s.epoch, bool)):
            return None
        if time.time() - s.issued > self.max_age_s:
            return None
        return s


def csrf_ok(session: Session | None, token: str | None) -> bool:
    """Whether a submitted token matches the session's (constant-time)."""
    return bool(session and token and hmac.compare_digest(session.csrf, token))


class LoginThrottle:
    """Failed sign-ins, per account and per client address: after ``free`` failures within
    ``window_s`` each further attempt must wait (1 s, doubling with every failure, at most
    ``max_lock_s``), even with the right password; a success clears the account's count.

    Without ``counts`` it counts in memory, per process (a restart forgives); the review app
    passes :class:`accord.review.sessions.SigninFailures` (with a wall clock), which keeps the
    counts in the store, so that all its worker processes share them. Either turns password
    guessing from thousands of tries a minute into a handful an hour for one account or one
    address.
    """

    def __init__(self, free: int = 5, window_s: float = 900.0, max_lock_s: float = 900.0,
                 clock: Any = time.monotonic, counts: Any = None) -> None:
        self.free = free
        self.window_s = window_s
        self.max_lock_s = max_lock_s
        self._clock = clock
        self._counts = counts
        self._fails: dict[str, list[float]] = {}

    def _recent(self, key: str, now: float) -> list[float]:
        if self._counts is not None:
            return list(self._counts.recent(key, now, self.window_s))
        fails = [t for t in self._fails.get(key, []) if now - t < self.window_s]
        if fails:
            self._fails[key] = fails
        else:
            self._fails.pop(key, None)
        return fails

    def wait_s(self, *keys: str) -> float:
        """Seconds before any of ``keys`` may try again (0: now)."""
        now = self._clock()
        wait = 0.0
        for k in keys:
            fails = self._recent(k, now)
            if len(fails) >= self.free:
                lock = min(self.max_lock_s, 2.0 ** (len(fails) - self.free))
                wait = max(wait, fails[-1] + lock - now)
        return max(0.0, wait)

    def failed(self, *keys: str) -> None:
        now = self._clock()
        if self._counts is not None:
            self._counts.failed(keys, now)
            return
        for k in keys:
            self._recent(k, now)
            self._fails.setdefault(k, []).append(now)
        if len(self._fails) > 100_000:  # a flood of names: forget the oldest
            for k in list(self._fails)[:50_000]:
                del self._fails[k]

    def succeeded(self, key: str) -> None:
        if self._counts is not None:
            self._counts.succeeded(key, self._clock())
            return
        self._fails.pop(key, None)


#: Unicode's bidirectional controls (embeddings, overrides, isolates and the marks): text that
#: contains them can show its words in another order than they are stored, e.g. an action that
#: reads as "report.pdf" while it is "fdp.troper" (U+202E), and can reorder the page around it
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def inert_bidi(value: Any) -> Any:
    """Every value a review page shows, with each bidirectional control replaced by a visible
    ``[U+XXXX]``: a reviewer must see the text in the order it is stored, and see that it was
    written to be shown otherwise. Used as the templates' ``finalize``, so no page can forget it."""
    if not isinstance(value, str) or not _BIDI.search(value):
        return value
    # type(value): a Markup stays Markup (the marker is safe HTML)
    return type(value)(_BIDI.sub(lambda m: f"[U+{ord(m.group()):04X}]", str(value)))
