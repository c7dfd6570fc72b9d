"""People who review: names, roles, communities and salted scrypt password hashes.

Users live in the store's ``review_users`` table (migration ``0002_review_users``), append-only
like every other table: adding a user, setting a password, changing a role or disabling someone
is a new row, and the newest row of a name is the user as they are now. Every change is also an
audit event (without the hash).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import SQLAlchemyError

from accord.errors import InputError, StoreError
from accord.store import Store
from accord.store.models import UTCDateTime, utcnow

Role = Literal["reviewer", "admin"]
ROLES: tuple[Role, ...] = ("reviewer", "admin")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 8

# scrypt parameters: 16 MiB and ~50 ms per hash, per OWASP's minimum for scrypt
_N, _R, _P = 2**14, 8, 1

#: the changes that end a user's sessions (:meth:`Users.credential_epoch`)
CREDENTIAL_CHANGES = ("added", "password", "disabled")

_meta = MetaData()
users_table = Table(
    "review_users", _meta,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("communities", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    Column("password_hash", String(400), nullable=False),
    Column("active", Boolean(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("change", String(32), nullable=False),
)


def hash_password(password: str) -> str:
    """A salted scrypt hash: ``scrypt$N$r$p$salt$hash`` (base64)."""
    salt = secrets.token_bytes(16)
    h = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, maxmem=64 * 1024 * 1024, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(h).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash made by :func:`hash_password` (constant-time compare)."""
    try:
        kind, n, r, p, salt, h = stored.split("$")
        if kind != "scrypt":
            return False
        want = base64.b64decode(h)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=64 * 1024 * 1024, dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


#: a hash no password matches, used to spend the same time on unknown names as on known ones
_DUMMY = hash_password(secrets.token_hex(16))


@dataclass(frozen=True)
class User:
    """A reviewer or admin as they are now."""

    name: str
    role: str
    communities: tuple[str, ...]
    active: bool
    created_at: datetime
    password_hash: str = field(default="", repr=False)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise InputError(f"invalid user name {name!r}",
                         hint="use 1-64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; expected one of: {', '.join(ROLES)}")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InputError(f"the password is too short ({len(password)} characters; at least {MIN_PASSWORD})")


class Users:
    """The review app's users over a store (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _run(self, doing: str, stmt: Any, fetch: bool = False) -> Any:
        try:
            with self.store.engine.begin() as conn:
                res = conn.execute(stmt)
                return res.mappings().all() if fetch else None
        except SQLAlchemyError as e:
            raise StoreError(f"cannot {doing} in {self.store.url}: {str(getattr(e, 'orig', e)).splitlines()[0]}") from None

    def _append(self, name: str, role: str, communities: Sequence[str], password_hash: str, active: bool,
                actor: str, change: str) -> None:
        self._run(f"{change} user {name}", insert(users_table).values(
            created_at=utcnow(), name=name, role=role, communities=list(communities), password_hash=password_hash,
            active=active, actor=actor, change=change))
        self.store.audit(f"user.{change}", actor, {"name": name, "role": role, "communities": list(communities),
                                                    "active": active})

    def get(self, name: str) -> User | None:
        """The user as they are now (also when disabled), or ``None``."""
        rows = self._run("read a user", select(users_table).where(users_table.c.name == name)
                         .order_by(users_table.c.id.desc()).limit(1), fetch=True)
        return _user(rows[0]) if rows else None

    def credential_epoch(self, name: str) -> int | None:
        """The id of the user's newest row that set their credentials (added, password set,
        disabled), or ``None`` for no such user. A session remembers it at sign-in and ends when
        it moves on: a new password or disabling someone signs out every session they had (and
        enabling them again does not bring those back)."""
        t = users_table
        rows = self._run("read a user", select(func.max(t.c.id).label("epoch")).where(
            t.c.name == name, t.c.change.in_(CREDENTIAL_CHANGES)), fetch=True)
        epoch = rows[0]["epoch"] if rows else None
        return None if epoch is None else int(epoch)

    def list(self) -> list[User]:
        """Every user as they are now, by name."""
        latest = select(func.max(users_table.c.id)).group_by(users_table.c.name).scalar_subquery()
        rows = self._run("list users", select(users_table).where(users_table.c.id.in_(latest))
                         .order_by(users_table.c.name), fetch=True)
        return [_user(r) for r in rows]

    def add(self, name: str, password: str, *, role: str = "reviewer", communities: Sequence[str] = (),
            actor: str = "cli") -> User:
        """Add a user; a name that exists (even disabled) is an :class:`InputError`."""
        _check_name(name)
        _check_role(role)
        _check_password(password)
        if self.get(name) is not None:
            raise InputError(f"user {name!r} already exists", hint="change them with `accord users set`")
        self._append(name, role, sorted(set(communities)), hash_password(password), True, actor, "added")
        u = self.get(name)
        assert u is not None
        return u

    def update(self, name: str, *, password: str | None = None, role: str | None = None,
               communities: Sequence[str] | None = None, active: bool | None = None, actor: str = "cli") -> User:
        """Change a user (a new row); unchanged fields carry over."""
        u = self.get(name)
        if u is None:
            raise InputError(f"no user {name!r}", hint="add them with `accord users add`")
        if role is not None:
            _check_role(role)
        if password is not None:
            _check_password(password)
        change = ("password" if password is not None else "disabled" if active is False
                  else "enabled" if active is True else "changed")
        self._append(name, role or u.role, sorted(set(communities)) if communities is not None else u.communities,
                     hash_password(password) if password is not None else u.password_hash,
                     u.active if active is None else active, actor, change)
        nu = self.get(name)
        assert nu is not None
        return nu

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the name exists, is active and the password matches; else ``None``.

        An unknown name costs the same scrypt work as a wrong password, so timing does not tell
        which names exist.
        """
        u = self.get(name) if _NAME.match(name or "") else None
        ok = verify_password(password, u.password_hash if u is not None else _DUMMY)
        return u if (u is not None and ok and u.active) else None


def _user(r: Any) -> User:
    return User(name=r["name"], role=r["role"], communities=tuple(r["communities"] or ()), active=bool(r["active"]),
                created_at=r["created_at"], password_hash=r["password_hash"])
