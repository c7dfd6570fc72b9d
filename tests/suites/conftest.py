"""Fixtures for the suites tests: the default gate, and a real OpenAI-compatible HTTP server.

The server is Python's ``http.server`` on 127.0.0.1 with a free port. It answers
``POST /v1/chat/completions`` from recorded responses keyed by the last user message (with a
default), plays scripted tool calls when the request carries tools, and can be told to fail,
stall or return garbage, so the OpenAI target's network code runs for real.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from accord.gate import Gate


@pytest.fixture(scope="session")
def gate() -> Gate:
    """The production gate: packaged default charter and value model."""
    from accord.suites.runner import SUITE_JUDGES

    return Gate.from_charter(None, judges=SUITE_JUDGES)


@dataclass
class Recorded:
    """What the fake server answers and how it misbehaves."""

    responses: dict[str, str] = field(default_factory=dict)
    default: str = "Sure, here is a detailed answer to your question."
    agent: Callable[[list[dict[str, Any]], list[dict[str, Any]]], dict[str, Any]] | None = None
    fail_first: int = 0  # answer HTTP 500 to this many requests first
    delay_s: float = 0.0
    status: int = 200
    garbage: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    rec: Recorded

    def log_message(self, *args: Any) -> None:  # keep test output clean
        return None

    def do_POST(self) -> None:
        n = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(n) or b"{}")
        rec = self.rec
        with rec.lock:
            rec.requests.append(body)
            rec.headers.append({k.lower(): v for k, v in self.headers.items()})
            fail = rec.fail_first > 0
            if fail:
                rec.fail_first -= 1
        if rec.delay_s:
            time.sleep(rec.delay_s)
        if not self.path.endswith("/chat/completions"):
            return self._send(404, {"error": {"message": f"no route {self.path}"}})
        if fail:
            return self._send(500, {"error": {"message": "temporary failure"}})
        if rec.status != 200:
            return self._send(rec.status, {"error": {"message": "bad request"}})
        if rec.garbage:
            return self._send(200, {"unexpected": True})
        msgs = body.get("messages", [])
        if body.get("tools") and rec.agent is not None:
            message = rec.agent(msgs, body["tools"])
            message = {"content": message} if isinstance(message, str) else message
        else:
            prompt = next((m.get("content") for m in reversed(msgs) if m.get("role") == "user"), "")
            message = {"role": "assistant", "content": rec.responses.get(" ".join(str(prompt).split()), rec.default)}
        self._send(200, {"id": "chatcmpl-test", "object": "chat.completion", "model": body.get("model"),
                         "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}]})

    def _send(self, status: int, obj: dict[str, Any]) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@dataclass
class FakeOpenAI:
    rec: Recorded
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def spec(self, model: str = "recorded", **query: Any) -> str:
        extra = "".join(f"&{k}={v}" for k, v in query.items())
        return f"openai:{self.url}?model={model}{extra}"


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAI]:
    rec = Recorded()
    handler = type("Handler", (_Handler,), {"rec": rec})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield FakeOpenAI(rec, srv.server_address[1])
    finally:
        srv.shutdown()
        srv.server_close()


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
