"""The review app's sign-in state that must hold across worker processes: ended sessions and
failed sign-ins, in the store (migration ``0007_review_auth``).

- ``review_sessions_ended``: one row per session ended by signing out (its random id, the user,
  when). Append-only like the audit tables: deleting a row would bring a signed-out cookie back
  to life. A session cookie names its id; the app refuses a cookie whose id is here. Sessions
  ended by a password change or by disabling the user need no row: the cookie also names the
  user's *credential epoch* (:meth:`accord.review.Users.credential_epoch`), which those changes
  move on.
- ``review_signin_failures``: one row per failed sign-in per throttle key (``user:NAME``,
  ``addr:HOST``) with its time, and a row with ``ok`` true where a sign-in succeeded (it clears
  the account's count: only failures after it count). Append-only too, like every table of the
  store: rows are never deleted, and only those within the throttle's window are read (one row
  per failed attempt, which the throttle itself slows to a handful an hour per account or
  address).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
)
from sqlalchemy.exc import SQLAlchemyError

from accord.errors import StoreError
from accord.store import Store

_meta = MetaData()
_Id = BigInteger().with_variant(Integer(), "sqlite")
sessions_ended_table = Table(
    "review_sessions_ended", _meta,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("sid", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("ended_at", Float(), nullable=False),
    Column("reason", String(32), nullable=False),
    Index("ix_review_sessions_ended_sid", "sid"),
)
signin_failures_table = Table(
    "review_signin_failures", _meta,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False),
    Column("at", Float(), nullable=False),
    Column("ok", Boolean(), nullable=False),
    Index("ix_review_signin_failures_key_at", "key", "at"),
)


def _run(store: Store, doing: str, stmt: Any, fetch: bool = False, scalars: bool = True, params: Any = None) -> Any:
    try:
        with store.engine.begin() as conn:
            res = conn.execute(stmt, params) if params is not None else conn.execute(stmt)
            if not fetch:
                return None
            return res.scalars().all() if scalars else [tuple(r) for r in res]
    except SQLAlchemyError as e:
        raise StoreError(f"cannot {doing} in {store.url}: {str(getattr(e, 'orig', e)).splitlines()[0]}") from None


class EndedSessions:
    """Sessions ended by signing out, in the store (every worker process sees them)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def end(self, sid: str, name: str, reason: str = "signout") -> None:
        _run(self.store, "end a session", insert(sessions_ended_table).values(
            sid=sid, name=name, ended_at=time.time(), reason=reason))

    def ended(self, sid: str) -> bool:
        rows = _run(self.store, "read ended sessions", select(sessions_ended_table.c.id)
                    .where(sessions_ended_table.c.sid == sid).limit(1), fetch=True)
        return bool(rows)


class SigninFailures:
    """Failed sign-ins per throttle key, in the store: the counts behind
    :class:`accord.server.review.security.LoginThrottle` (its ``counts``), so that every worker
    process of the app counts the same failures (an attacker cannot spread guesses over them)
    and a restart forgives nothing. Times are wall-clock seconds (processes share no monotonic
    clock)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def recent(self, key: str, now: float, window_s: float) -> list[float]:
        """The key's failures within the window, since its last success, oldest first."""
        t = signin_failures_table
        rows = _run(self.store, "read failed sign-ins", select(t.c.at, t.c.ok).where(
            t.c.key == key[:300], t.c.at > now - window_s).order_by(t.c.id), fetch=True, scalars=False)
        fails: list[float] = []
        for at, ok in rows:
            fails = [] if ok else [*fails, float(at)]
        return fails

    def failed(self, keys: tuple[str, ...], now: float) -> None:
        _run(self.store, "count a failed sign-in", insert(signin_failures_table),
             params=[{"key": k[:300], "at": now, "ok": False} for k in keys])

    def succeeded(self, key: str, now: float) -> None:
        _run(self.store, "clear failed sign-ins", insert(signin_failures_table).values(key=key[:300], at=now, ok=True))

    def count(self) -> int:
        """Rows in the table (for tests and operators)."""
        return int(_run(self.store, "count sign-in rows", select(func.count()).select_from(signin_failures_table),
                        fetch=True)[0])
