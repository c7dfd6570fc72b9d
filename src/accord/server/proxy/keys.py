"""Client API keys and per-key rate limits.

A key is shown once, when it is made (``accord keys add NAME``); only its SHA-256 is kept. Keys
are long random strings, so a fast hash is enough (there is nothing to brute-force). Keys live in
the audit store as append-only events (``api_key.add`` / ``api_key.revoke``): the current set is
the fold of those events, and revoking a key is a new row, never a delete.

Keys are *configured* once any key was ever added (revoked ones count): from then on every
``/v1/`` request needs a valid key, so revoking the last key locks the proxy rather than opening it.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from accord.errors import InputError

ADD, REVOKE = "api_key.add", "api_key.revoke"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{0,99}$")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    """A key as stored: never the key itself."""

    name: str
    sha256: str
    prefix: str
    rate_per_min: float | None = None
    revoked: bool = False


class EventLog(Protocol):
    """Where key events are kept: the audit store's ``audit_events`` (or a list, in tests)."""

    def append(self, kind: str, actor: str, payload: dict[str, Any]) -> None: ...

    def read(self, kinds: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
        """(kind, payload) of every event of these kinds, oldest first."""
        ...


class MemoryEventLog:
    """An in-memory :class:`EventLog`."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def append(self, kind: str, actor: str, payload: dict[str, Any]) -> None:
        self.events.append((kind, actor, dict(payload)))

    def read(self, kinds: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
        ks = set(kinds)
        return [(k, p) for k, _, p in self.events if k in ks]


class StoreEventLog:
    """The audit store's ``audit_events`` as an :class:`EventLog`."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def append(self, kind: str, actor: str, payload: dict[str, Any]) -> None:
        self.store.audit(kind, actor, payload)

    def read(self, kinds: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
        events = [e for k in kinds for e in self.store.audit_events(k, limit=None)]
        return [(e.kind, e.payload) for e in sorted(events, key=lambda e: e.id)]


class KeyStore:
    """Adds, revokes, lists and verifies client keys on an :class:`EventLog`."""

    def __init__(self, log: EventLog, *, refresh_s: float = 5.0) -> None:
        self.log = log
        self.refresh_s = refresh_s
        self._by_hash: dict[str, KeyInfo] = {}
        self._configured = False
        self._loaded_at = -math.inf
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ admin
    def add(self, name: str, *, rate_per_min: float | None = None, actor: str = "cli") -> str:
        """Make a key for ``name`` and return it: the only time it is ever seen."""
        if not _NAME.match(name):
            raise InputError(f"bad key name {name!r}: use letters, digits and _ . @ - (at most 100)")
        if rate_per_min is not None and rate_per_min <= 0:
            raise InputError("a key's rate limit must be > 0 requests per minute")
        if any(k.name == name and not k.revoked for k in self.list()):
            raise InputError(f"a key named {name!r} exists; revoke it first or choose another name")
        key = "acc-" + secrets.token_urlsafe(32)
        self.log.append(ADD, actor, {"name": name, "sha256": hash_key(key), "prefix": key[:8],
                                     "rate_per_min": rate_per_min})
        self._loaded_at = -math.inf
        return key

    def revoke(self, name: str, *, actor: str = "cli") -> None:
        if not any(k.name == name and not k.revoked for k in self.list()):
            raise InputError(f"no active key named {name!r}")
        self.log.append(REVOKE, actor, {"name": name})
        self._loaded_at = -math.inf

    def list(self) -> list[KeyInfo]:
        """Every key ever added, in order, with whether it is revoked."""
        keys: list[KeyInfo] = []
        for kind, p in self.log.read((ADD, REVOKE)):
            if kind == ADD:
                keys.append(KeyInfo(name=str(p["name"]), sha256=str(p["sha256"]), prefix=str(p.get("prefix", "")),
                                    rate_per_min=p.get("rate_per_min")))
            else:
                keys = [KeyInfo(k.name, k.sha256, k.prefix, k.rate_per_min, True) if k.name == p.get("name") else k
                        for k in keys]
        return keys

    # ------------------------------------------------------------------ request path
    def _refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._loaded_at < self.refresh_s:
            return
        with self._lock:
            if not force and now - self._loaded_at < self.refresh_s:
                return
            keys = self.list()
            self._by_hash = {k.sha256: k for k in keys if not k.revoked}
            self._configured = bool(keys)
            self._loaded_at = now

    @property
    def configured(self) -> bool:
        self._refresh()
        return self._configured

    def verify(self, key: str) -> KeyInfo | None:
        """The key's record when it is valid and not revoked."""
        self._refresh()
        h = hash_key(key)
        info = self._by_hash.get(h)
        if info is None and time.monotonic() - self._loaded_at >= 1.0:
            self._refresh(force=True)  # a key added a moment ago works without a restart
            info = self._by_hash.get(h)
        return info


class RateLimiter:
    """A token bucket per client: ``rate`` requests per minute, bursts up to one minute's worth (at least 1)."""

    def __init__(self, max_clients: int = 100_000) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._max = max_clients

    def take(self, who: str, rate_per_min: float) -> float:
        """0.0 when the request may go; otherwise the seconds to wait before trying again."""
        now = time.monotonic()
        cap = max(1.0, rate_per_min)
        tokens, last = self._buckets.get(who, (cap, now))
        tokens = min(cap, tokens + (now - last) * rate_per_min / 60.0)
        if tokens >= 1.0:
            if len(self._buckets) >= self._max and who not in self._buckets:
                self._buckets.clear()  # bounded memory; a reset only ever lets clients through sooner
            self._buckets[who] = (tokens - 1.0, now)
            return 0.0
        self._buckets[who] = (tokens, now)
        return (1.0 - tokens) * 60.0 / rate_per_min
