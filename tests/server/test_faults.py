"""Faults: the upstream refuses, stalls or talks nonsense; the judge raises or hangs.

In every case the client gets a well-formed OpenAI error (or error event), and no text that was not
judged acceptable.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import httpx
import pytest
from openai import APIError, APIStatusError, OpenAI
from proxy_helpers import charter_with

from accord.charter import load_charter
from accord.gate.gate import Gate
from accord.server.proxy.testing import LATE_HARM, free_port
from accord.types import Case, Score


def post(url: str, text: str, stream: bool = False, **kw) -> httpx.Response:
    return httpx.post(url + "/chat/completions", json={"model": "m", "stream": stream,
                                                        "messages": [{"role": "user", "content": text}]},
                      timeout=20, **kw)


def assert_openai_error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["code"] == code and err["message"]
    assert r.headers["x-accord-trace-id"]
    return err


def sse_events(r: httpx.Response) -> list:
    out = []
    for line in r.text.splitlines():
        if line.startswith("data: "):
            data = line[6:]
            out.append(None if data == "[DONE]" else json.loads(data))
    return out


def streamed_text(events: list) -> str:
    return "".join(c["delta"].get("content") or "" for e in events if e and "choices" in e for c in e["choices"])


# ---------------------------------------------------------------------- upstream faults
@pytest.fixture(scope="module")
def dead_proxy(start_proxy):
    with start_proxy(upstream=f"http://127.0.0.1:{free_port()}/v1") as p:
        yield p


@pytest.fixture(scope="module")
def impatient_proxy(start_proxy):
    with start_proxy(read_timeout_s=0.5) as p:
        yield p


@pytest.mark.parametrize("stream", [False, True])
def test_refused_connection_is_502(dead_proxy, stream):
    err = assert_openai_error(post(dead_proxy.url, "hi", stream), 502, "upstream_unreachable")
    assert err["type"] == "upstream_error"


def test_refused_connection_seen_by_openai_client(dead_proxy):
    with OpenAI(base_url=dead_proxy.url, api_key="x", max_retries=0) as c, pytest.raises(APIStatusError) as e:
        c.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 502


def test_models_with_upstream_down_is_502(dead_proxy):
    assert_openai_error(httpx.get(dead_proxy.url + "/models"), 502, "upstream_unreachable")


@pytest.mark.parametrize("stream", [False, True])
def test_slow_upstream_is_504(impatient_proxy, stream):
    t0 = time.monotonic()
    assert_openai_error(post(impatient_proxy.url, "hi [slow]", stream), 504, "upstream_timeout")
    assert time.monotonic() - t0 < 2.5


def test_stream_that_stalls_ends_with_an_error_event_and_no_held_text(impatient_proxy):
    r = post(impatient_proxy.url, "hi [stall]", stream=True)
    assert r.status_code == 200  # the stream had started
    events = sse_events(r)
    assert events[-1] is not None and events[-1]["error"]["code"] == "upstream_timeout"
    assert None not in events  # no [DONE]
    assert streamed_text(events) == ""  # the first 8 characters were not a judged sentence
    assert LATE_HARM[:8] not in r.text


def test_stream_that_stalls_breaks_the_openai_client(impatient_proxy):
    with OpenAI(base_url=impatient_proxy.url, api_key="x", max_retries=0) as c, pytest.raises(APIError):
        for _ in c.chat.completions.create(model="m", messages=[{"role": "user", "content": "[stall]"}], stream=True):
            pass


def test_malformed_body_is_502(proxy):
    assert_openai_error(post(proxy.url, "hi [malformed]"), 502, "upstream_malformed")


def test_malformed_stream_chunk_ends_with_an_error_event(proxy):
    r = post(proxy.url, "hi [malformed]", stream=True)
    events = sse_events(r)
    assert events[-1]["error"]["code"] == "upstream_malformed"
    assert streamed_text(events) == ""


def test_upstream_5xx_is_502_and_4xx_keeps_its_status(proxy):
    err = assert_openai_error(post(proxy.url, "hi [upstream-500]"), 502, "upstream_status")
    assert "HTTP 500" in err["message"]
    err = assert_openai_error(post(proxy.url, "hi [upstream-404]"), 404, "upstream_rejected")
    assert err["type"] == "invalid_request_error"


def test_upstream_errors_are_counted(proxy):
    post(proxy.url, "hi [malformed]")
    metrics = httpx.get(proxy.url.removesuffix("/v1") + "/metrics").text
    assert 'accord_upstream_errors_total{kind="malformed"}' in metrics


# ---------------------------------------------------------------------- judge faults
class Raising:
    name = "raising"
    version = "raising-1"

    def judge(self, cases: Sequence[Case], charter) -> list[list[Score]]:
        raise RuntimeError("the judge broke")


class Hanging:
    name = "hanging"
    version = "hanging-1"

    def judge(self, cases: Sequence[Case], charter) -> list[list[Score]]:
        time.sleep(1.0)
        return [[] for _ in cases]


def failing_gate(judge, **policy) -> Gate:
    return Gate(charter_with(**policy) if policy else load_charter(None), judges=[judge])


@pytest.mark.parametrize("stream", [False, True])
def test_raising_judge_holds_input_per_policy(start_proxy, upstream, stream):
    with start_proxy(failing_gate(Raising())) as p:
        before = len(upstream[1].state.requests)
        r = post(p.url, "What is the capital of France?", stream)
        assert r.status_code == 200
        assert len(upstream[1].state.requests) == before  # held: nothing went upstream
        body = r.json() if not stream else None
        if stream:
            events = sse_events(r)
            tag = next(c["accord"] for e in events if e for c in e["choices"] if c.get("finish_reason"))
        else:
            tag = body["choices"][0]["accord"]
        assert tag["decision"] == "escalate" and tag["held"] is True and tag["stage"] == "input"
        assert "the judge broke" in " ".join(tag["verdict"]["errors"])


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("on_error", ["escalate", "block"])
def test_raising_judge_never_lets_output_through(start_proxy, stream, on_error):
    with start_proxy(failing_gate(Raising(), on_error=on_error, escalate_hold=True), judge_input=False) as p:
        r = post(p.url, "What is the capital of France?", stream)
        assert r.status_code == 200
        if stream:
            events = sse_events(r)
            text = streamed_text(events)
            fin = next(c for e in events if e for c in e["choices"] if c.get("finish_reason"))
            finish, tag = fin["finish_reason"], fin["accord"]
        else:
            ch = r.json()["choices"][0]
            text, finish, tag = ch["message"]["content"], ch["finish_reason"], ch["accord"]
        assert "Paris" not in text
        assert finish == "content_filter" and tag["decision"] == on_error
        p.flush()
        assert all(v.decision == on_error for _, v, _ in p.sinks.decisions)


@pytest.mark.parametrize("stream", [False, True])
def test_raising_judge_with_pass_policy_still_holds(start_proxy, stream):
    # escalate_hold: false passes on what a judge was unsure of, never what no judge could look at
    # (issue 14, item 4: a judge outage used to deliver the upstream's text, flagged)
    with start_proxy(failing_gate(Raising(), escalate_hold=False), judge_input=False) as p:
        r = post(p.url, "What is the capital of France?", stream)
        assert "Paris" not in r.text
        if not stream:
            ch = r.json()["choices"][0]
            assert ch["accord"]["decision"] == "escalate" and ch["accord"]["held"] is True
            assert ch["finish_reason"] == "content_filter"
        p.flush()
        assert len(p.sinks.reviews) == 1


def test_hanging_judge_times_out_closed(start_proxy):
    gate = failing_gate(Hanging(), judge_timeout_ms=100, on_timeout="block")
    with start_proxy(gate, judge_input=False) as p:
        t0 = time.monotonic()
        ch = post(p.url, "hi").json()["choices"][0]
        assert ch["finish_reason"] == "content_filter" and ch["accord"]["decision"] == "block"
        assert time.monotonic() - t0 < 1.0


def test_gate_that_raises_outside_the_judges_fails_closed(start_proxy, monkeypatch):
    gate = failing_gate(Raising(), on_error="block")

    def broken(*a, **k):
        raise ValueError("gate exploded")

    monkeypatch.setattr(gate, "check_many", broken)
    with start_proxy(gate, judge_input=False) as p:
        for stream in (False, True):
            r = post(p.url, "What is the capital of France?", stream)
            assert "Paris" not in r.text
            assert "content_filter" in r.text
        r = httpx.post(p.url + "/check", json={"action": "hello"})
        assert r.status_code == 200 and r.json()["decision"] == "block"
        assert "gate exploded" in r.json()["errors"][0]
