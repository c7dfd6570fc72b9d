"""Issue 14, item 12 in the proxy: judging a streamed answer is linear in its length, a huge answer
is blocked with a clear reason (never passed on unjudged), and ``/healthz`` answers within 100 ms
while a worst-case request is judged."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from proxy_helpers import rules_gate

from accord.charter import load_charter
from accord.charter.model import Charter
from accord.gate.gate import Gate
from accord.judges.rules import RuleJudge
from accord.server.proxy.streaming import TextBuffer
from accord.server.proxy.testing import serve_in_thread
from accord.types import Case, Score

SENTENCE = "The old bridge over the river was repaired last spring by the town council. "  # 76 characters


def long_upstream(text: str, piece: int = 16) -> FastAPI:
    """Streams (or answers whole) ``text``, ``piece`` characters a chunk."""
    app = FastAPI()

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: Request) -> Response:
        body = await request.json()
        if not body.get("stream"):
            return JSONResponse({"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}]})

        def gen() -> Any:
            head = '{"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [{"index": 0, '
            for i in range(0, len(text), piece):
                yield "data: " + head + '"delta": {"content": ' + json.dumps(text[i:i + piece]) + "}}]}\n\n"
            yield "data: " + head + '"delta": {}, "finish_reason": "stop"}]}\n\n'
            yield "data: [DONE]\n\n"

        return StreamingResponse(gen(), media_type="text/event-stream")

    return app


class CountingRules(RuleJudge):
    """The hard rules, counting the characters of text they are given."""

    def __init__(self) -> None:
        super().__init__()
        self.chars = 0
        self.calls = 0

    def judge(self, cases: Sequence[Case], charter: Charter) -> list[list[Score]]:
        for c in cases:
            self.calls += 1
            self.chars += len(c.action) if isinstance(c.action, str) else 0
        return super().judge(cases, charter)


def _stream(url: str) -> str:
    with httpx.stream("POST", f"{url}/chat/completions", timeout=120, json={
            "model": "m", "stream": True, "messages": [{"role": "user", "content": "Tell me about the bridge."}]}) as r:
        return "".join(r.iter_text())


def test_textbuffer_slices():
    b = TextBuffer()
    whole = ""
    for piece in ["ab", "", "cde", "f", "ghij"]:
        b.add(piece)
        whole += piece
    assert len(b) == len(whole)
    for a in range(len(whole) + 1):
        for z in range(a, len(whole) + 2):
            assert b.slice(a, z) == whole[a:z]
    assert b.whole() == whole and b.slice(3) == whole[3:]


def test_judging_a_stream_is_linear_in_its_length(start_proxy):
    """Characters the judge reads per character streamed, at 12 KB and at 96 KB: bounded and flat
    (judging the whole text so far at every sentence read ~640 per character at 96 KB)."""
    ratios, seconds = {}, {}
    for n in (160, 1280):  # 12 KB and 97 KB
        text = SENTENCE * n
        judge = CountingRules()
        gate = Gate(load_charter(None), judges=[judge])
        with serve_in_thread(long_upstream(text)) as up, start_proxy(gate, upstream=up + "/v1", judge_input=False) as p:
            t0 = time.perf_counter()
            body = _stream(p.url)
            seconds[n] = time.perf_counter() - t0
        assert "[DONE]" in body and body.count("The old bridge") == n
        ratios[n] = judge.chars / len(text)
    print(f"\njudged characters per streamed character: {ratios}; seconds: {seconds}")
    assert ratios[1280] < 10, ratios
    assert ratios[1280] < ratios[160] * 1.25, ratios


@pytest.mark.parametrize("stream", [False, True])
def test_an_answer_over_the_limit_is_blocked_with_a_reason(start_proxy, stream):
    text = SENTENCE * 200  # 15,200 characters
    with serve_in_thread(long_upstream(text, piece=500)) as up, \
            start_proxy(rules_gate(), upstream=up + "/v1", judge_input=False, max_output_chars=10_000) as p:
        r = httpx.post(f"{p.url}/chat/completions", timeout=60, json={
            "model": "m", "stream": stream, "messages": [{"role": "user", "content": "Tell me about the bridge."}]})
        assert r.status_code == 200
        assert "content_filter" in r.text and "over 10,000 characters" in r.text and "max_output_chars" in r.text
        released = r.text.count("The old bridge")
        assert released < 10_000 // len(SENTENCE) + 1  # nothing past the limit went out
        p.flush()
        assert any(v.decision == "block" and "max_output_chars" in v.explanation.summary
                   for _, v, _ in p.sinks.decisions)


def _poll_health(url: str, stop: threading.Event, out: list[float]) -> None:
    with httpx.Client(timeout=10) as c:
        while not stop.is_set():
            t0 = time.perf_counter()
            c.get(url + "/healthz")
            out.append(time.perf_counter() - t0)
            time.sleep(0.02)


def test_healthz_stays_fast_while_a_worst_case_request_is_judged(start_proxy):
    """The default gate (rules, value model, decision model), one request at the body limit made of
    the charter's worst regex input and as many messages as allowed; /healthz polled meanwhile."""
    gate = Gate.default()
    evil = "x@" + "a." * 700  # the e-mail rule's old catastrophic input
    msgs = [{"role": "system", "content": evil} for _ in range(500)] + [{"role": "user", "content": evil * 4}]
    with start_proxy(gate, max_messages=512) as p:
        base = p.url.removesuffix("/v1")
        httpx.get(base + "/healthz", timeout=10)
        lat: list[float] = []
        stop = threading.Event()
        t = threading.Thread(target=_poll_health, args=(base, stop, lat), daemon=True)
        t.start()
        time.sleep(0.3)
        t0 = time.perf_counter()
        r = httpx.post(f"{p.url}/chat/completions", timeout=120, json={"model": "m", "messages": msgs})
        took = time.perf_counter() - t0
        stop.set()
        t.join(10)
    assert r.status_code in (200, 413), r.text[:300]
    during = lat
    print(f"\nworst-case request {r.status_code} in {took:.1f} s; /healthz while judging: n={len(during)}, "
          f"median {statistics.median(during) * 1000:.1f} ms, max {max(during) * 1000:.1f} ms")
    assert took > 0.3, "the request was not expensive enough to test anything"
    assert max(during) < 0.100, f"/healthz took {max(during) * 1000:.0f} ms while a request was judged"


def test_windows_revise_what_they_read_and_never_repeat_released_text(start_proxy):
    """E-mail addresses in consecutive sentences: the second window reads the first (already
    redacted and released) in its overlap; each address is replaced once, nothing is sent twice."""
    sentences = [f"Sentence {i} is plain. " for i in range(3)] + [
        "Write to ann.lee@example.com today. ", "Or to bo.ray@example.org tomorrow. ", "Thanks for reading. "]
    text = "".join(sentences)
    with serve_in_thread(long_upstream(text, piece=7)) as up, \
            start_proxy(rules_gate(), upstream=up + "/v1", judge_input=False) as p:
        body = _stream(p.url)
    content = "".join(
        (ch.get("delta") or {}).get("content") or ""
        for line in body.splitlines() if line.startswith("data: {")
        for ch in json.loads(line[6:]).get("choices") or [])
    assert "@example" not in content
    assert content == text.replace("ann.lee@example.com", "[email removed]").replace("bo.ray@example.org",
                                                                                      "[email removed]")
