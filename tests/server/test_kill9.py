"""Issue 14, items 8 and 9 under ``kill -9``: no answered request without its audit record, no
escalation without its review item.

A real ``accord serve`` (a subprocess, rules only) in front of a scripted upstream that streams
slowly, on SQLite and on PostgreSQL. Four clients send streamed and whole requests, some of whose
answers escalate mid-stream; the proxy is killed with SIGKILL at a random moment, 20 times, and
started again after each kill (the start replays the spool of the process before). A request
counts as answered when the client received any text of it (a streamed part, a whole answer, a
refusal). At the end every answered request has its output's record in the store, and every
escalation in the store has its review item.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy import text

from accord.server.proxy.testing import free_port, serve_in_thread
from accord.store import Store

pytestmark = pytest.mark.slow

KILLS = 20
PG_ENV = "ACCORD_TEST_POSTGRES_URL"
SENTENCES = [f"Sentence {i} tells you about the mild weather in the old town today." for i in range(14)]
ESCALATING = "We should ban all cars in every city."  # the default charter's blanket-bans rule


def slow_upstream() -> FastAPI:
    """Twelve sentences, streamed one every 20 ms (whole answers after up to 50 ms); with
    ``[ban]`` in the request, a sentence the rules escalate comes sixth."""
    app = FastAPI()

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: Request) -> Response:
        body = await request.json()
        sentences = list(SENTENCES[:12])
        if "[ban]" in body["messages"][-1]["content"]:
            sentences.insert(5, ESCALATING)
        if not body.get("stream"):
            await asyncio.sleep(random.random() * 0.05)
            return JSONResponse({"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": " ".join(sentences)}}]})

        async def gen() -> Any:
            for i, s in enumerate(sentences):
                chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                         "choices": [{"index": 0, "delta": {"content": s + " "},
                                      "finish_reason": "stop" if i == len(sentences) - 1 else None}]}
                yield f"data: {json.dumps(chunk)}\n\n"
                await asyncio.sleep(0.02)
            yield "data: [DONE]\n\n"

        return StreamingResponse(gen(), media_type="text/event-stream")

    return app


def _accord() -> list[str]:
    exe = Path(sys.executable).parent / "accord"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "accord.cli.main"]


def _start(db: str, upstream: str, cwd: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "ACCORD_SPOOL_DIR"}  # the default place, beside the store
    proc = subprocess.Popen([*_accord(), "serve", "--upstream", upstream, "--db", db, "--no-model",
                             "--port", str(port), "--drift-every", "off"],
                            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"accord serve exited {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("accord serve did not become healthy within 60 s")
        time.sleep(0.05)


def _client(url: str, seed: int, stop: threading.Event, answered: dict[str, str]) -> None:
    rnd = random.Random(seed)
    with httpx.Client(base_url=url + "/v1", timeout=10) as c:
        while not stop.is_set():
            stream = rnd.random() < 0.7
            word = "[ban]" if rnd.random() < 0.4 else ""
            body = {"model": "m", "stream": stream,
                    "messages": [{"role": "user", "content": f"Tell me about the weather. {word}"}]}
            try:
                if not stream:
                    r = c.post("/chat/completions", json=body)
                    if r.status_code == 200 and r.json()["choices"][0]["message"]["content"]:
                        answered[r.headers["x-accord-trace-id"]] = "whole"
                    continue
                with c.stream("POST", "/chat/completions", json=body) as r:
                    rid = r.headers.get("x-accord-trace-id", "")
                    for line in r.iter_lines():
                        if not line.startswith("data: {"):
                            continue
                        for ch in json.loads(line[6:]).get("choices") or []:
                            if (ch.get("delta") or {}).get("content"):
                                answered[rid] = "stream"
            except (httpx.HTTPError, ValueError, KeyError):
                continue  # the proxy died under us


def _kill_cycles(db: str, tmp_path: Path, seed: int) -> dict[str, str]:
    rnd = random.Random(seed)
    answered: dict[str, str] = {}
    with serve_in_thread(slow_upstream()) as up:
        for k in range(KILLS):
            proc, url = _start(db, up + "/v1", tmp_path)
            stop = threading.Event()
            threads = [threading.Thread(target=_client, args=(url, seed * 100 + k * 10 + i, stop, answered), daemon=True)
                       for i in range(4)]
            for t in threads:
                t.start()
            time.sleep(rnd.uniform(0.05, 1.2))  # a random point of the load
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            stop.set()
            for t in threads:
                t.join(15)
        proc, _ = _start(db, up + "/v1", tmp_path)  # the last start replays the last kill's spool
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return answered


def _check(db: str, answered: dict[str, str]) -> None:
    streams = sum(1 for v in answered.values() if v == "stream")
    assert len(answered) >= KILLS and streams >= KILLS // 2, f"too little load to mean anything: {len(answered)} answered"
    with Store.open(db) as store:
        have = store.existing_trace_ids([f"{rid}:out:0" for rid in answered])
        missing = [rid for rid in answered if f"{rid}:out:0" not in have]
        with store.engine.connect() as conn:
            orphans = conn.execute(text(
                "SELECT count(*) FROM decisions d WHERE d.decision = 'escalate' AND NOT EXISTS "
                "(SELECT 1 FROM review_items r WHERE r.trace_id = d.trace_id)")).scalar()
            escalations = conn.execute(text("SELECT count(*) FROM decisions WHERE decision = 'escalate'")).scalar()
        interrupted = sum(1 for d in store.iter_decisions() if (d.case_json.get("meta") or {}).get("interrupted"))
        assert store.verify().ok
    print(f"\n{KILLS} kills: {len(answered)} answered ({streams} streamed), {len(missing)} without a record; "
          f"{escalations} escalations, {orphans} without a review item; {interrupted} records from the spool")
    assert missing == [], f"{len(missing)} of {len(answered)} answered requests have no audit record: {missing[:5]}"
    assert orphans == 0
    assert escalations > 0


def test_kill9_sqlite(tmp_path):
    db = f"sqlite:///{tmp_path / 'accord.db'}"
    answered = _kill_cycles(db, tmp_path, seed=14)
    _check(db, answered)


@pytest.fixture
def pg_db() -> Iterator[str]:
    base = os.environ.get(PG_ENV, "").strip()
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    from accord.store.migrate import make_engine, parse_url

    schema = f"accord_kill_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield parse_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.mark.postgres
def test_kill9_postgres(tmp_path, pg_db):
    answered = _kill_cycles(pg_db, tmp_path, seed=15)
    _check(pg_db, answered)
