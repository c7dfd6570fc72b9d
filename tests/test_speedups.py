"""accord.speedups: the one-thread BLAS limit holds whichever thread asks for it."""

from __future__ import annotations

import threading

import pytest

from accord.speedups import one_blas_thread, small_blas


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_small_blas_limits_from_any_thread():
    """threadpoolctl 3.8 ignores a limit set from any thread but the first that set one; the gate
    judges in worker threads, and a second gate's products then ran on every core: its scores
    differed in the seventh decimal from the first gate's on the same cases."""
    import numpy as np  # noqa: F401  (loads the BLAS threadpoolctl reports)

    before = _blas_threads()
    if not before or max(before) < 2:
        pytest.skip("BLAS runs on one thread here: nothing to limit")
    with one_blas_thread():  # the main thread claims the limit first
        assert set(_blas_threads()) == {1}
    assert _blas_threads() == before
    seen: list[list[int]] = []
    for _ in range(2):  # two other threads, one after the other (two gates' judge threads)
        def work() -> None:
            with small_blas(10):
                seen.append(_blas_threads())
        t = threading.Thread(target=work)
        t.start()
        t.join()
    assert seen == [[1] * len(before)] * 2
    assert _blas_threads() == before
    with small_blas(10_000):  # a large product keeps every thread
        assert _blas_threads() == before
