"""A durable local spool: the records of what a stream has already released, until the store has them.

A streamed answer is released sentence by sentence, as each part is judged, and its decision is
written to the audit store when the stream ends. A process killed in between (``kill -9``, an
out-of-memory kill, a power cut on the store's host) would leave text with a client and no record
of it. So before any part of a stream reaches the client, the proxy appends what it is about to
release (the case, the judged text so far, the strictest verdict, the review priority) to a spool
file on local disk; when the store has written the stream's records, the spool marks them done.
On start-up the proxy replays every spool file no live process holds: each record not marked
done, and not in the store already (trace ids are unique), is written with ``meta.interrupted``
set, escalations with their review item in the same transaction.

Each process appends to its own file (``<pid>-<random>.jsonl``) and holds an exclusive
``flock`` on it for its life; the lock dies with the process, so a replaying process never reads
a file that is still being written. A line is one ``write(2)`` on an unbuffered file: it survives
the death of the process as soon as the call returns (the kernel has it). Surviving a power cut
too needs ``fsync`` per line (``ACCORD_SPOOL_FSYNC=1``), at about a millisecond per released
part on an SSD.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from accord.review.audit import Sinks
from accord.types import Case, Verdict

log = logging.getLogger("accord.server")

SPOOL_ENV = "ACCORD_SPOOL_DIR"
FSYNC_ENV = "ACCORD_SPOOL_FSYNC"


def default_spool_dir(store_url: str) -> Path:
    """Where a proxy writing to ``store_url`` spools: ``$ACCORD_SPOOL_DIR``, else beside a SQLite
    file (``accord.db.spool/``), else ``.accord/spool/<hash of the URL>`` (PostgreSQL)."""
    env = os.environ.get(SPOOL_ENV, "").strip()
    if env:
        return Path(env)
    if store_url.startswith("sqlite:///") and ":memory:" not in store_url:
        db = Path(store_url.removeprefix("sqlite:///").split("?", 1)[0])
        return db.with_name(db.name + ".spool")
    return Path(".accord") / "spool" / hashlib.sha256(store_url.encode()).hexdigest()[:12]


class _File:
    """One spool file: its descriptor (locked), its size and the records in it not yet done."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.size = 0
        self.open: set[str] = set()

    def close(self) -> None:
        """Close; remove the file when every record in it reached the store."""
        if not self.open:
            with contextlib.suppress(OSError):
                self.path.unlink()
        os.close(self.fd)


class Spool:
    """This process's spool (see the module docstring). Thread-safe.

    It does not grow without end: a file whose records are all done is emptied (the current one)
    or removed (an older one); past :attr:`ROTATE_BYTES` new records go to a new file.
    """

    ROTATE_BYTES = 16 << 20

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._cur = _File(self.dir)
        except OSError as e:
            raise OSError(f"cannot create the audit spool in {self.dir}: {e.strerror or e}") from None
        self._fsync = os.environ.get(FSYNC_ENV, "") not in ("", "0")
        self._lock = threading.Lock()
        self._files: list[_File] = [self._cur]
        self._where: dict[str, _File] = {}  # open record -> its file
        self.written = 0
        self._closed = False

    @property
    def path(self) -> Path:
        """The file new records go to."""
        return self._cur.path

    @property
    def paths(self) -> list[Path]:
        with self._lock:
            return [f.path for f in self._files]

    def _write(self, f: _File, obj: dict[str, Any]) -> None:  # under self._lock
        line = (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8", "replace")
        os.write(f.fd, line)
        if self._fsync:
            os.fsync(f.fd)
        f.size += len(line)
        self.written += 1

    def put(self, key: str, case: Case, verdict: Verdict, source: str, priority: float | None) -> None:
        """Hold (or replace) the record ``key``: what the store must get if this process dies now."""
        obj = {"op": "put", "k": key, "case": case.model_dump(mode="json"), "v": verdict.model_dump(mode="json"),
               "src": source, "p": priority}
        with self._lock:
            f = self._where.get(key)
            if f is None:
                if self._cur.size > self.ROTATE_BYTES:
                    self._cur = _File(self.dir)
                    self._files.append(self._cur)
                f = self._where[key] = self._cur
                f.open.add(key)
            self._write(f, obj)

    def extend(self, key: str, text: str, verdict: Verdict | None = None, priority: float | None = None) -> None:
        """Append released text to record ``key``'s action (and replace its verdict when given)."""
        obj: dict[str, Any] = {"op": "ext", "k": key, "t": text}
        if verdict is not None:
            obj["v"], obj["p"] = verdict.model_dump(mode="json"), priority
        with self._lock:
            f = self._where.get(key)
            if f is not None:
                self._write(f, obj)

    def done(self, key: str) -> None:
        """The store has record ``key``."""
        with self._lock:
            f = self._where.pop(key, None)
            if f is None:
                return
            f.open.discard(key)
            if f.open:
                self._write(f, {"op": "done", "k": key})
            elif f is self._cur:
                os.ftruncate(f.fd, 0)  # nothing in it is needed any more
                f.size = 0
            else:
                f.close()
                self._files.remove(f)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._where)

    def close(self) -> None:
        """Close the files; those whose records all reached the store are removed (the others
        the next start replays)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for f in self._files:
                f.close()


def read_spool(path: Path) -> list[tuple[str, Case, Verdict, str, float | None]]:
    """The records of a spool file not marked done: (key, case, verdict, source, priority)."""
    entries: dict[str, dict[str, Any]] = {}
    with open(path, "rb") as f:
        for raw in f:
            try:
                obj = json.loads(raw)
            except ValueError:
                continue  # a line cut by the crash: the record before it still holds
            k = obj.get("k")
            if obj.get("op") == "put":
                entries[k] = {**obj, "t": []}
            elif obj.get("op") == "ext" and k in entries:
                entries[k]["t"].append(obj["t"])
                if "v" in obj:
                    entries[k]["v"], entries[k]["p"] = obj["v"], obj.get("p")
            elif obj.get("op") == "done":
                entries.pop(k, None)
    out = []
    for k, e in entries.items():
        case = dict(e["case"])
        if e["t"]:
            case["action"] = str(case.get("action") or "") + "".join(e["t"])
        case["meta"] = {**(case.get("meta") or {}), "interrupted": True}
        out.append((k, Case.model_validate(case), Verdict.model_validate(e["v"]), str(e["src"]), e.get("p")))
    return out


def replay(directory: str | Path, sinks: Sinks, *, existing: Callable[[list[str]], set[str]] | None = None,
           skip: Iterable[Path] = ()) -> int:
    """Write the records of every spool file in ``directory`` that no live process holds; returns
    how many were written. A file is removed once all its records are in the store; one whose
    records cannot be written stays for the next start (and the error is raised)."""
    d = Path(directory)
    if not d.is_dir():
        return 0
    skipped = {Path(p) for p in skip}
    n = 0
    for path in sorted(d.glob("*.jsonl")):
        if path in skipped:
            continue
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live process's spool
            records = read_spool(path)
            have = existing([r[0] for r in records]) if existing is not None and records else set()
            for key, case, verdict, source, priority in records:
                if key in have:
                    continue
                sinks.record(case, verdict, source, priority)
                n += 1
            path.unlink()
        finally:
            os.close(fd)
    if n:
        log.warning("audit spool: wrote %d record(s) of answers released before an earlier process stopped", n)
    return n


__all__ = ["SPOOL_ENV", "Spool", "default_spool_dir", "read_spool", "replay"]
