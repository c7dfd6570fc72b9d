"""Speed tricks, in one place, each behind a named function with what it measured.

The domain code (the gate, the value model) calls these by name and reads as domain code; each
trick here is one the benchmarks (``bench/speed.py``) showed to matter on two shared cores. None
changes a result: verdicts are identical with or without them.

* :func:`gc_paused`: no cyclic garbage collection while a large batch builds its verdicts (a third
  of a 10,000-case batch's time went to generation-2 rescans of objects that all stay alive).
* :func:`trace_ids`: a batch's random trace ids from one read of the system's randomness
  (``uuid4`` reads it once per id).
* :func:`small_blas` (and :func:`one_blas_thread`): BLAS on one thread for a small batch's products (a single check went from
  ~17 ms to ~6 ms on two busy cores: waking BLAS threads cost more than the products).
* :func:`top_k`: the few nearest precedents by ``k`` passes of ``argmax`` (about 30x faster than
  ``argpartition`` over a 2,000-precedent memory: 0.45 s of a 10,000-case batch).
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

_GC_LOCK = threading.Lock()
_GC_STATE = {"batches": 0, "paused": False}


@contextlib.contextmanager
def gc_paused(pause: bool) -> Iterator[None]:
    """Pause the cyclic garbage collector while a large batch builds its verdicts.

    A batch of 10,000 verdicts allocates millions of small objects that all stay alive, so the
    collector's generation-2 passes rescan them again and again (a third of the batch's time).
    Verdicts hold no reference cycles, so nothing waits on the collector; it is re-enabled when the
    last concurrent batch ends, and left alone when the application had disabled it itself.
    """
    if not pause:
        yield
        return
    with _GC_LOCK:
        _GC_STATE["batches"] += 1
        if _GC_STATE["batches"] == 1 and gc.isenabled():
            gc.disable()
            _GC_STATE["paused"] = True
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_STATE["batches"] -= 1
            if _GC_STATE["batches"] == 0 and _GC_STATE["paused"]:
                _GC_STATE["paused"] = False
                if not gc.get_freeze_count():  # the application has not frozen objects of its own
                    # move every tracked object to the oldest generation unscanned: otherwise the
                    # first allocation after ``enable`` scans the batch's ~50 objects per case
                    # (0.1 s per 10,000 cases) only to find them alive; they are still collected
                    # by the next full collection if they ever form garbage cycles
                    gc.freeze()
                    gc.unfreeze()
                gc.enable()


def trace_ids(n: int) -> list[str]:
    """``n`` random UUID4s in hex, from one read of the system's randomness (``uuid4`` reads it once per id)."""
    raw = bytearray(os.urandom(16 * n))
    raw[6::16] = bytes((b & 0x0F) | 0x40 for b in raw[6::16])  # version 4
    raw[8::16] = bytes((b & 0x3F) | 0x80 for b in raw[8::16])  # RFC 4122 variant
    h = raw.hex()
    return [h[32 * i:32 * i + 32] for i in range(n)]


class SmallBlas:
    """BLAS on one thread for the products of a small batch.

    Multi-threaded BLAS spends longer waking its threads than a single check's products take, and
    when the gate runs judges in worker threads it oversubscribes the cores (a single check went
    from ~17 ms to ~6 ms on two busy cores). Large batches keep every thread. Reference counted
    under a lock, so concurrent small batches restore the setting once, after the last one.

    It works from any thread. threadpoolctl 3.8 lets only one "controlling" thread change
    OpenBLAS's process-wide pool and silently ignores the others; the gate judges in worker
    threads, so a second gate's products ran on two threads and its scores moved in the seventh
    decimal (a batch audit differed from ``accord check`` on the same cases). Each change here
    first clears that claim: this lock, not threadpoolctl's, keeps concurrent changes in order.
    """

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._depth = 0
        self._saved: list[tuple[Any, int]] = []
        self._libs: list[Any] | None = None

    def _blas(self) -> list[Any]:
        if self._libs is None:
            try:
                from threadpoolctl import ThreadpoolController

                self._libs = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
            except Exception:  # threadpoolctl missing or a BLAS it cannot drive: leave threads alone
                self._libs = []
        return self._libs

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._saved = [(c, c.num_threads) for c in self._blas() if c.num_threads != 1]
                for c, _ in self._saved:
                    _set_threads(c, 1)
            self._depth += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                for c, n in self._saved:
                    _set_threads(c, n)
                self._saved = []


def _set_threads(controller: Any, n: int) -> None:
    clear = getattr(controller, "clear_controlling_thread", None)  # threadpoolctl >= 3.8, OpenBLAS
    if clear is not None:
        clear(force=True)
    controller.set_num_threads(n)
    if clear is not None:
        clear(force=True)


_SMALL_BLAS = SmallBlas()
_NO_LIMIT = contextlib.nullcontext()


def one_blas_thread() -> contextlib.AbstractContextManager[None]:
    """One BLAS thread while the block runs, from any thread (see :class:`SmallBlas`)."""
    return _SMALL_BLAS


def blas_threads() -> int | None:
    """The BLAS thread count this process runs its large products on (None: no BLAS that
    threadpoolctl can read). Outside :func:`one_blas_thread`, this is the process's own setting."""
    counts = [c.num_threads for c in _SMALL_BLAS._blas()]
    return max(counts) if counts else None


def small_blas(n_rows: int) -> contextlib.AbstractContextManager[None]:
    """:func:`one_blas_thread` while a product of ``n_rows`` rows runs, if it is small (<= 256 rows)."""
    return _SMALL_BLAS if n_rows <= 256 else _NO_LIMIT


def top_k(sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of each row's ``k`` largest entries, largest first (ties: lowest
    index first). Overwrites ``sims``.

    For the handful of neighbours the model consults, ``k`` passes of ``argmax`` are about 30x
    faster than ``argpartition`` over a 2,000-precedent memory (which was 0.45 s of a 10,000-case
    batch); a large ``k`` falls back on ``argpartition``.
    """
    n, m = sims.shape
    k = min(k, m)
    if k > 16:
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < m else np.tile(np.arange(m), (n, 1))
        t = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-t, axis=1, kind="stable")
        return np.take_along_axis(part, order, axis=1), np.take_along_axis(t, order, axis=1)
    idx = np.empty((n, k), np.int64)
    top = np.empty((n, k), sims.dtype)
    rows = np.arange(n)
    for j in range(k):
        a = sims.argmax(axis=1)
        idx[:, j] = a
        top[:, j] = sims[rows, a]
        sims[rows, a] = -np.inf
    return idx, top
