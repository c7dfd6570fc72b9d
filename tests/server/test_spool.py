"""The durable spool of streamed answers (issue 14, item 8): what it keeps, what a start replays,
and what it leaves alone. The kill -9 runs are in test_kill9.py (slow)."""

from __future__ import annotations

import httpx
from proxy_helpers import charter_with, rules_gate

from accord.server.proxy import MemorySinks, ProxyConfig, create_app
from accord.server.proxy.sinks import StoreSinks
from accord.server.proxy.spool import Spool, default_spool_dir, read_spool, replay
from accord.server.proxy.testing import serve_in_thread
from accord.store import Store
from accord.types import Case, Explanation, Verdict


def _v(key: str, decision: str = "allow") -> Verdict:
    return Verdict(trace_id=key, decision=decision, risk=0.5, principles=[],  # type: ignore[arg-type]
                   explanation=Explanation(summary=decision), judge_version="t")


def test_open_records_are_read_back_with_their_released_text(tmp_path):
    sp = Spool(tmp_path)
    sp.put("r1:out:0", Case(action="One. "), _v("r1:out:0"), "proxy:output", None)
    sp.extend("r1:out:0", "Two. ")
    sp.extend("r1:out:0", "Three. ", _v("r1:out:0", "escalate"), 0.7)
    sp.put("r2:out:0", Case(action="done"), _v("r2:out:0"), "proxy:output", None)
    sp.done("r2:out:0")
    with open(sp.path, "ab") as f:
        f.write(b'{"op": "ext", "k": "r1:out:0", "t": "cut mid-wri')  # the crash cut the last line
    [(key, case, verdict, source, priority)] = read_spool(sp.path)
    assert key == "r1:out:0" and case.action == "One. Two. Three. " and case.meta["interrupted"] is True
    assert verdict.decision == "escalate" and priority == 0.7 and source == "proxy:output"
    assert sp.pending == 1
    sp.close()
    assert sp.path.exists()  # an open record: kept for the next start


def test_replay_writes_what_the_store_lacks_and_skips_live_files(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    sinks = StoreSinks(store)
    dead = Spool(tmp_path / "spool")
    dead.put("a:out:0", Case(action="released"), _v("a:out:0", "escalate"), "proxy:output", 0.5)
    dead.put("b:out:0", Case(action="also"), _v("b:out:0"), "proxy:output", None)
    store.record_decision(Case(action="also"), _v("b:out:0"), "proxy:output")  # the store has this one
    live = Spool(tmp_path / "spool")  # another process, still running
    live.put("c:out:0", Case(action="in flight"), _v("c:out:0"), "proxy:output", None)
    dead.close()  # as if its process died: the lock is gone, the file stays
    n = replay(tmp_path / "spool", sinks, existing=sinks.existing, skip=[live.path])
    assert n == 1 and not dead.path.exists()
    assert store.decision("a:out:0").case_json["meta"]["interrupted"] is True
    assert [i.trace_id for i in store.review_items("all")] == ["a:out:0"]  # the escalation's review item
    assert store.decision("c:out:0") is None and live.path.exists()
    assert replay(tmp_path / "spool", sinks, existing=sinks.existing) == 0  # live.path is locked
    live.close()
    store.close()


def test_default_places():
    assert str(default_spool_dir("sqlite:///var/accord.db")) == "var/accord.db.spool"
    assert str(default_spool_dir("postgresql+psycopg://a@h/db")).startswith(".accord/spool/")


def test_a_stream_whose_record_was_not_written_is_replayed_by_the_next_start(tmp_path, upstream):
    class Failing(MemorySinks):
        def record(self, case, verdict, source, review_priority=None):
            raise RuntimeError("database is locked")

    spool_dir = str(tmp_path / "spool")
    cfg = ProxyConfig(upstream=upstream[0], judge_input=False, spool_dir=spool_dir)
    gate = rules_gate(charter_with(escalate_hold=True))
    app = create_app(cfg, gate, sinks=Failing())
    with serve_in_thread(app) as url:
        r = httpx.post(url + "/v1/chat/completions", timeout=20, json={
            "model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
        assert "Paris" in r.text and "audit_unavailable" in r.text  # released, then the record failed
    app.state.writer.close()
    app.state.guard.close()
    trace = r.headers["x-accord-trace-id"]

    sinks = MemorySinks()
    again = create_app(cfg, gate, sinks=sinks)
    with serve_in_thread(again) as url:
        metrics = httpx.get(url + "/metrics", timeout=10).text
    again.state.writer.close()
    again.state.guard.close()
    replayed = [(c, v) for c, v, src in sinks.decisions if v.trace_id == f"{trace}:out:0"]
    assert len(replayed) == 1 and "Paris" in replayed[0][0].action and replayed[0][0].meta["interrupted"]
    assert "accord_audit_spool_replayed_total 1.0" in metrics


def test_the_spool_does_not_grow_without_end(tmp_path):
    sp = Spool(tmp_path)
    sp.ROTATE_BYTES = 2000
    keep = "k0:out:0"
    sp.put(keep, Case(action="x" * 3000), _v(keep), "proxy:output", None)  # open for the whole test
    for i in range(1, 40):
        key = f"k{i}:out:0"
        sp.put(key, Case(action="y" * 500), _v(key), "proxy:output", None)
        sp.extend(key, "more")
        sp.done(key)
    files = sp.paths
    assert len(files) >= 2  # past ROTATE_BYTES new records went to a new file
    assert sum(p.stat().st_size for p in files) < 8000  # done records do not pile up
    sp.done(keep)
    assert not files[0].exists()  # the older file, all done: removed
    assert sp.path.stat().st_size == 0  # the current one, all done: emptied
    sp.close()
    assert list(tmp_path.iterdir()) == []
