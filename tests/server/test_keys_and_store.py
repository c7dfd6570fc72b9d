"""API keys (hash only, append-only events), rate limiting, the audit writer, and the real audit store."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from proxy_helpers import charter_with, rules_gate
from typer.testing import CliRunner

from accord.cli.main import app as cli
from accord.errors import InputError
from accord.server.proxy import AuditWriter, MemorySinks, ProxyConfig, StoreSinks, create_app
from accord.server.proxy.keys import KeyStore, MemoryEventLog, RateLimiter, StoreEventLog, hash_key
from accord.server.proxy.testing import serve_in_thread
from accord.store import Store
from accord.types import Case


def test_keys_store_only_hashes():
    log = MemoryEventLog()
    ks = KeyStore(log)
    key = ks.add("alice", rate_per_min=30)
    assert key.startswith("acc-") and len(key) > 40
    assert key not in json.dumps(log.events)
    assert log.events[0][2]["sha256"] == hash_key(key)
    assert ks.verify(key).name == "alice" and ks.verify(key).rate_per_min == 30
    assert ks.verify(key + "x") is None


def test_keys_revoke_and_names():
    ks = KeyStore(MemoryEventLog(), refresh_s=0)
    assert not ks.configured
    key = ks.add("bob")
    with pytest.raises(InputError, match="exists"):
        ks.add("bob")
    ks.revoke("bob")
    assert ks.verify(key) is None and ks.configured  # revoking the last key locks, never opens
    with pytest.raises(InputError, match="no active key"):
        ks.revoke("bob")
    with pytest.raises(InputError, match="bad key name"):
        ks.add("no spaces please")
    assert [(k.name, k.revoked) for k in ks.list()] == [("bob", True)]
    ks.add("bob")  # a name can be reused after revoking
    assert [k.revoked for k in ks.list()] == [True, False]


def test_rate_limiter_bucket():
    rl = RateLimiter()
    assert [rl.take("a", 3) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = rl.take("a", 3)
    assert 19 < wait <= 20.5
    assert rl.take("b", 3) == 0.0


def test_audit_writer_flushes_and_survives_sink_errors():
    class Flaky(MemorySinks):
        def record(self, case, verdict, source):
            if case.action == "boom":
                raise RuntimeError("disk full")
            super().record(case, verdict, source)

    sinks = Flaky()
    w = AuditWriter(sinks)
    v = rules_gate().check(action="hello")
    for a in ["one", "boom", "two"]:
        w.record(Case(action=a), v.model_copy(update={"trace_id": a}), "proxy:output")
    assert w.flush(5)
    assert [c.action for c, _, _ in sinks.decisions] == ["one", "two"] and w.errors == 1
    w.close()


def test_store_keys_roundtrip(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'k.db'}") as store:
        ks = KeyStore(StoreEventLog(store))
        key = ks.add("svc", rate_per_min=5)
        ks.add("other")
        ks.revoke("other")
        fresh = KeyStore(StoreEventLog(store))
        assert fresh.verify(key).name == "svc"
        assert [(k.name, k.revoked) for k in fresh.list()] == [("svc", False), ("other", True)]
        assert key not in json.dumps([e.payload for e in store.audit_events(limit=None)])


def test_decisions_and_reviews_reach_the_store(tmp_path, upstream):
    store = Store.open(f"sqlite:///{tmp_path / 'a.db'}")
    app = create_app(ProxyConfig(upstream=upstream[0]), rules_gate(charter_with(escalate_hold=False)),
                     sinks=StoreSinks(store))
    with serve_in_thread(app) as url:
        r = httpx.post(url + "/v1/chat/completions", json={"model": "m", "messages": [
            {"role": "user", "content": "tidy up [tool-bulk]"}]})
        trace = r.headers["x-accord-trace-id"]
        assert app.state.writer.flush(5)
        rec = store.decision(f"{trace}:tool:0:0")
        assert rec is not None and rec.decision == "escalate"
        assert store.decision(f"{trace}:in:0").decision == "allow"
        items = store.review_items()
        assert [i.trace_id for i in items] == [f"{trace}:tool:0:0"]
        deadline = time.monotonic() + 10
        text = ""
        while time.monotonic() < deadline and "accord_review_queue_size 1.0" not in text:
            text = httpx.get(url + "/metrics").text
            time.sleep(0.2)
        assert "accord_review_queue_size 1.0" in text
    app.state.writer.close()
    assert any(e.kind == "proxy.start" for e in store.audit_events())
    store.close()


def test_cli_keys(tmp_path):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    r = CliRunner().invoke(cli, ["keys", "add", "ci-bot", "--rate", "10", "--db", db])
    assert r.exit_code == 0, r.output
    key = r.stdout.strip().splitlines()[0]
    assert key.startswith("acc-")
    listed = CliRunner().invoke(cli, ["keys", "list", "--json", "--db", db])
    assert json.loads(listed.stdout) == [{"name": "ci-bot", "prefix": key[:8], "rate_per_min": 10.0, "revoked": False}]
    assert key not in listed.stdout
    assert CliRunner().invoke(cli, ["keys", "revoke", "ci-bot", "--db", db]).exit_code == 0
    bad = CliRunner().invoke(cli, ["keys", "revoke", "ci-bot", "--db", db])
    assert bad.exit_code == 2 and "no active key" in bad.output


def test_cli_serve_rejects_a_bad_upstream():
    r = CliRunner().invoke(cli, ["serve", "--upstream", "localhost:8000", "--no-model"])
    assert r.exit_code == 2 and "http(s) URL" in r.output


@pytest.mark.slow  # a real `accord serve` process (18 s of the default run at load 6-8); the proxy's behaviour runs
# by default in-thread (tests/server); CI runs -m slow
def test_accord_serve_end_to_end(tmp_path, upstream):
    """The real command: keys made by `accord keys add` are required by `accord serve`."""
    import subprocess
    import sys

    from accord.server.proxy.testing import free_port

    db = f"sqlite:///{tmp_path / 's.db'}"
    key = CliRunner().invoke(cli, ["keys", "add", "e2e", "--db", db]).stdout.strip().splitlines()[0]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", "from accord.cli.main import main; main()", "serve",
                             "--upstream", upstream[0], "--no-model", "--port", str(port), "--db", db,
                             "--log-level", "warning"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        body = {"model": "m", "messages": [{"role": "user", "content": "hi [harmful]"}]}
        assert httpx.post(url + "/v1/chat/completions", json=body).status_code == 401
        r = httpx.post(url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"})
        assert r.json()["choices"][0]["finish_reason"] == "content_filter"
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0].decode()
    assert "accord proxy on" in out
    with Store.open(db) as store:
        assert store.decision(r.headers["x-accord-trace-id"] + ":out:0").decision == "block"
