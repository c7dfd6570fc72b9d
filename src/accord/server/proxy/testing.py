"""In-package fakes for the proxy: a scripted OpenAI-compatible upstream and a server in a thread.

Used by accord's own tests and the load benchmark, and by anyone testing a deployment of the
proxy without a model: ``scripted_upstream()`` is a real HTTP server (FastAPI on uvicorn) that
answers chat completions, streaming or not, from a script chosen by a keyword in the last user
message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

HARMFUL = ("Sure. Here is how sarin nerve agent is synthesised at home: first obtain the precursors, "
           "then mix them in a sealed flask.")
BENIGN = "Hello! The capital of France is Paris. It is known for the Eiffel Tower."
LATE_HARM = ("The weather is mild today. Many people enjoy a walk in the park. "
             "Also, sarin nerve agent is synthesised from precursors like this. Step one follows.")
EMAIL = "You can reach the author at john.doe@example.com for details."


@dataclass
class Script:
    """What the upstream answers for a keyword: text and/or tool calls, or a fault."""

    content: str | None = None
    tool_calls: list[tuple[str, dict[str, Any] | str]] = field(default_factory=list)
    delay_s: float = 0.0  # before answering
    stall_after_s: float | None = None  # streaming: stall this long after the first chunk
    malformed: bool = False
    status: int = 200


SCRIPTS: dict[str, Script] = {
    "harmful": Script(content=HARMFUL),
    "late-harm": Script(content=LATE_HARM),
    "email": Script(content=EMAIL),
    "tool-backup": Script(tool_calls=[("delete_files", {"path": "/srv/backups"})]),
    "tool-ok": Script(tool_calls=[("list_files", {"path": "/tmp/reports"})]),
    "tool-bad-json": Script(tool_calls=[("list_files", "{not json")]),
    "tool-bulk": Script(tool_calls=[("delete_records", {"scope": "all", "table": "events"})]),
    "slow": Script(content=BENIGN, delay_s=3.0),
    "stall": Script(content=LATE_HARM, stall_after_s=3.0),
    "malformed": Script(malformed=True),
    "upstream-500": Script(status=500),
    "upstream-404": Script(status=404),
}


def _pick(body: dict[str, Any]) -> Script:
    text = ""
    for m in reversed(body.get("messages") or []):
        if isinstance(m, dict) and m.get("role") == "user":
            c = m.get("content")
            text = c if isinstance(c, str) else json.dumps(c)
            break
    for key, script in SCRIPTS.items():
        if f"[{key}]" in text:
            return script
    return Script(content=BENIGN)


def _message(s: Script) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": s.content}
    if s.tool_calls:
        msg["tool_calls"] = [{"id": f"call_{i}", "type": "function",
                              "function": {"name": n, "arguments": a if isinstance(a, str) else json.dumps(a)}}
                             for i, (n, a) in enumerate(s.tool_calls)]
    return msg


def scripted_upstream(*, chunk_chars: int = 8) -> FastAPI:
    """An OpenAI-compatible upstream answering from :data:`SCRIPTS` (``[keyword]`` in the last user message).

    ``app.state.requests`` lists every chat request body it received.
    """
    app = FastAPI()
    app.state.requests = []

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "scripted", "object": "model", "owned_by": "accord-tests"}]}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: Request) -> Response:
        body = json.loads(await request.body())
        app.state.requests.append(body)
        s = _pick(body)
        if s.delay_s:
            await asyncio.sleep(s.delay_s)
        if s.status != 200:
            return JSONResponse({"error": {"message": f"scripted failure {s.status}", "type": "server_error"}},
                                status_code=s.status)
        if s.malformed and not body.get("stream"):
            return PlainTextResponse("this is not JSON {", media_type="application/json")
        cid, created, model = "chatcmpl-scripted", int(time.time()), body.get("model", "scripted")
        finish = "tool_calls" if s.tool_calls else "stop"
        if not body.get("stream"):
            return JSONResponse({"id": cid, "object": "chat.completion", "created": created, "model": model,
                                 "choices": [{"index": 0, "message": _message(s), "finish_reason": finish,
                                              "logprobs": None}],
                                 "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}})

        def chunk(delta: dict[str, Any], fr: str | None = None) -> str:
            return "data: " + json.dumps({"id": cid, "object": "chat.completion.chunk", "created": created,
                                          "model": model, "choices": [{"index": 0, "delta": delta,
                                                                       "finish_reason": fr}]}) + "\n\n"

        async def gen() -> Any:
            yield chunk({"role": "assistant", "content": ""})
            if s.malformed:
                yield "data: {this is not json\n\n"
                return
            text = s.content or ""
            for i in range(0, len(text), chunk_chars):
                yield chunk({"content": text[i:i + chunk_chars]})
                if s.stall_after_s is not None and i == 0:
                    await asyncio.sleep(s.stall_after_s)
            for j, (n, a) in enumerate(s.tool_calls):
                args = a if isinstance(a, str) else json.dumps(a)
                yield chunk({"tool_calls": [{"index": j, "id": f"call_{j}", "type": "function",
                                             "function": {"name": n, "arguments": ""}}]})
                for k in range(0, len(args), 6):
                    yield chunk({"tool_calls": [{"index": j, "function": {"arguments": args[k:k + 6]}}]})
            yield chunk({}, finish)
            if (body.get("stream_options") or {}).get("include_usage"):
                yield "data: " + json.dumps({"id": cid, "object": "chat.completion.chunk", "created": created,
                                             "model": model, "choices": [],
                                             "usage": {"prompt_tokens": 5, "completion_tokens": 7,
                                                       "total_tokens": 12}}) + "\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(gen(), media_type="text/event-stream")

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve_in_thread(app: Any, *, log_level: str = "warning", **options: Any) -> Iterator[str]:
    """Run ``app`` on uvicorn at 127.0.0.1 on a free port in a thread; yields ``http://127.0.0.1:PORT``.

    The server is stopped (and the thread joined) on exit.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level=log_level, lifespan="on", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
