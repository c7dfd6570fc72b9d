"""Many threads recording at once (the proxy's pattern), and several processes' worth of openers."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from accord.store import Store

THREADS = 8
PER_THREAD = 25


def test_threads_record_decisions(store, pair):
    pairs = [[pair("allow" if i % 3 else "block") for i in range(PER_THREAD)] for _ in range(THREADS)]
    start = threading.Barrier(THREADS)

    def work(mine):
        start.wait()
        for n, (c, v) in enumerate(mine):
            if n % 5 == 4:
                store.record_decisions([(c, v)], source="batch")
            else:
                store.record_decision(c, v, source="proxy")
        return len(mine)

    with ThreadPoolExecutor(THREADS) as ex:
        assert sum(ex.map(work, pairs)) == THREADS * PER_THREAD
    recs = store.decisions(limit=None)
    assert len(recs) == THREADS * PER_THREAD
    assert {r.trace_id for r in recs} == {v.trace_id for mine in pairs for _, v in mine}
    assert store.stats().decisions_total == THREADS * PER_THREAD


def test_threads_mix_reads_and_writes(store, pair):
    item = store.enqueue_review(*pair("escalate"))

    def work(i):
        store.record_decision(*pair())
        store.add_review(item, f"r{i % 4}", "allow" if i % 2 else "block")
        store.audit("ping", f"t{i}")
        return len(store.review_items("all"))

    with ThreadPoolExecutor(6) as ex:
        assert set(ex.map(work, range(24))) == {1}
    assert store.review_item(item).reviewers == 4  # type: ignore[union-attr]
    assert len(store.reviews(item_id=item)) == 24


def test_concurrent_first_opens_migrate_once(db_url):
    with ThreadPoolExecutor(4) as ex:
        stores = list(ex.map(lambda _: Store.open(db_url), range(4)))
    try:
        assert all(s.stats().decisions_total == 0 for s in stores)
    finally:
        for s in stores:
            s.close()
