"""The FastAPI application: the guard proxy, the check API, health and metrics.

Every response carries ``X-Accord-Trace-Id``: the request's trace id. Each verdict made for the
request is audited under ``{trace id}:{where}`` (``in:3`` for message 3 of the input,
``out:0`` for choice 0's text, ``tool:0:1`` for its second tool call); ``/v1/check`` audits its one
verdict under the trace id itself.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager, suppress
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from accord.gate.gate import Gate
from accord.server.proxy.completions import judge_completion
from accord.server.proxy.config import ProxyConfig
from accord.server.proxy.guard import Guard, Pending, refusal_completion, safe_field, strictest
from accord.server.proxy.judging import context_of, failed_verdict, revised_tool_arguments
from accord.server.proxy.keys import KeyStore, RateLimiter
from accord.server.proxy.metrics import Metrics
from accord.server.proxy.schemas import (
    ChatCompletion,
    ChatCompletionRequest,
    CheckRequest,
    ErrorResponse,
    Health,
    ModelList,
)
from accord.server.proxy.sinks import AuditWriter, MemorySinks, Sinks
from accord.server.proxy.spool import Spool, default_spool_dir, replay
from accord.server.proxy.streaming import DONE, StreamGuard, sse
from accord.server.proxy.upstream import Upstream, UpstreamError, malformed
from accord.types import Case, Verdict

log = logging.getLogger("accord.server")

Scope = MutableMapping[str, Any]
Message_ = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message_]]
Send = Callable[[Message_], Awaitable[None]]

TRACE_HEADER = "x-accord-trace-id"
#: the interpreter's thread switch interval while the proxy serves (see ``lifespan``)
SWITCH_INTERVAL_S = 0.001
COMMUNITY_HEADER = "x-accord-community"


class SafeJSON(JSONResponse):
    """JSON that cannot fail to encode (a lone surrogate from a client becomes U+FFFD, not a 500)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")


def error_body(message: str, type_: str = "invalid_request_error", code: str | None = None,
               param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def error(status: int, message: str, type_: str = "invalid_request_error", code: str | None = None,
          param: str | None = None, headers: dict[str, str] | None = None) -> SafeJSON:
    return SafeJSON(error_body(message, type_, code, param), status_code=status, headers=headers)


# one server-sent event (OpenAPI 3.1: the schema of a text/event-stream describes each event)
_SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {"type": "string", "description": "A JSON `chat.completion.chunk` (its last choice chunk carries "
                                                  "`accord`), an OpenAI error object if the upstream failed "
                                                  "mid-stream, or `[DONE]`."},
        "event": {"type": "string"},
    },
}

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Invalid request: bad JSON, missing or wrong fields, unknown community"},
    401: {"model": ErrorResponse, "description": "Missing or invalid API key (when keys are configured)"},
    413: {"model": ErrorResponse, "description": "Request body over the size limit"},
    429: {"model": ErrorResponse, "description": "Rate limit exceeded; see Retry-After"},
}
_UPSTREAM_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    404: {"model": ErrorResponse, "description": "The upstream rejected the request (its 4xx status is kept)"},
    502: {"model": ErrorResponse, "description": "The upstream is unreachable, failed, or sent a malformed answer"},
    504: {"model": ErrorResponse, "description": "The upstream did not answer in time"},
}


class Gatekeeper:
    """Pure ASGI middleware: trace id, body size limit, API keys and rate limits, before any routing.

    Pure ASGI (not ``BaseHTTPMiddleware``) so streaming responses pass straight through.
    """

    def __init__(self, app: Any, *, config: ProxyConfig, keys: KeyStore | None, metrics: Metrics) -> None:
        self.app = app
        self.config = config
        self.keys = keys
        self.metrics = metrics
        self.limiter = RateLimiter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["trace_id"] = rid
        trace = (TRACE_HEADER.encode(), rid.encode())

        async def send_traced(msg: Message_) -> None:
            if msg["type"] == "http.response.start":
                msg = {**msg, "headers": [*msg.get("headers", []), trace]}
            await send(msg)

        headers = dict(scope.get("headers") or [])
        # ---- size
        cl = headers.get(b"content-length")
        limit = self.config.max_body_bytes
        if cl is not None:
            try:
                n = int(cl)
            except ValueError:
                await self._reject(send_traced, 400, "invalid", "invalid Content-Length header")
                return
            if n > limit:
                await self._reject(send_traced, 413, "too_large",
                                   f"request body of {n} bytes is over the limit of {limit} bytes", "request_too_large")
                return
        elif scope.get("method") in ("POST", "PUT", "PATCH"):
            body, more = b"", True
            while more:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    return
                body += msg.get("body", b"")
                more = msg.get("more_body", False)
                if len(body) > limit:
                    await self._reject(send_traced, 413, "too_large",
                                       f"request body is over the limit of {limit} bytes", "request_too_large")
                    return
            receive = _replay(body, receive)
        # ---- keys and rate limits, for the API only
        path: str = scope.get("path", "")
        if path.startswith("/v1/"):
            who: str | None = None
            rate = self.config.rate_limit_per_min
            if self.keys is not None and self.keys.configured:
                auth = headers.get(b"authorization", b"").decode("latin-1")
                scheme, _, token = auth.partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    await self._reject(send_traced, 401, "auth",
                                       "missing API key: send 'Authorization: Bearer <key>' (make one with `accord keys add NAME`)",
                                       "missing_api_key", "authentication_error")
                    return
                info = self.keys.verify(token.strip())
                if info is None:
                    await self._reject(send_traced, 401, "auth", "invalid or revoked API key", "invalid_api_key",
                                       "authentication_error")
                    return
                who, state["client_key"] = f"key:{info.name}", info.name
                rate = info.rate_per_min if info.rate_per_min is not None else rate
            elif rate is not None:
                client = scope.get("client")
                who = f"addr:{client[0] if client else '?'}"
            if rate is not None and who is not None:
                wait = self.limiter.take(who, rate)
                if wait > 0:
                    await self._reject(send_traced, 429, "rate_limit",
                                       f"rate limit of {rate:g} requests per minute exceeded; retry in {wait:.1f} s",
                                       "rate_limit_exceeded", "rate_limit_error",
                                       headers=[(b"retry-after", str(max(1, round(wait + 0.5))).encode())])
                    return
        await self.app(scope, receive, send_traced)

    async def _reject(self, send: Send, status: int, reason: str, message: str, code: str | None = None,
                      type_: str = "invalid_request_error", headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.metrics.rejected.labels(reason).inc()
        body = json.dumps(error_body(message, type_, code)).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                *(headers or [])]})
        await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def inner() -> Message_:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return inner


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errs = exc.errors()
    for e in errs:
        if e.get("type") == "json_invalid":
            return f"invalid JSON body: {e.get('ctx', {}).get('error', e.get('msg', 'cannot parse'))}", None
    parts = []
    param = None
    for e in errs[:5]:
        loc = [str(x) for x in e.get("loc", ()) if x != "body"]
        where = ".".join(loc) or "body"
        param = param or where
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    more = f" (and {len(errs) - 5} more)" if len(errs) > 5 else ""
    return "invalid request: " + "; ".join(parts) + more, param


def create_app(
    config: ProxyConfig,
    gate: Gate | None = None,
    *,
    sinks: Sinks | None = None,
    keys: KeyStore | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """Build the proxy application.

    Args:
        config: upstream and limits.
        gate: the gate that judges (default: the packaged charter and model).
        sinks: where decisions, reviews and events go (default: kept in memory).
        keys: client API keys (``None``: no keys; with a store that has keys, they are required).
        transport: an httpx transport for the upstream (tests; default: the network).
    """
    gate = gate or Gate.default()
    sinks = sinks if sinks is not None else MemorySinks()
    writer_box: dict[str, AuditWriter] = {}
    metrics = Metrics(queue_size=sinks.queue_size, audit_backlog=lambda: writer_box["w"].backlog)
    writer = AuditWriter(sinks, on_error=lambda e: metrics.audit_failures.inc())
    writer_box["w"] = writer
    spool = _spool_for(config, sinks)
    guard = Guard(gate, config, writer, metrics, spool)
    upstreams: dict[int, Upstream] = {}

    def upstream() -> Upstream:
        # one client per event loop (test clients run each app in a loop of their own)
        loop_id = id(asyncio.get_running_loop())
        up = upstreams.get(loop_id)
        if up is None:
            up = upstreams[loop_id] = Upstream(config, transport=transport)
        return up

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        # the judge and audit threads hold the GIL for up to the switch interval at a time, and an
        # answer on the event loop needs it a dozen times: at CPython's 5 ms, /healthz took ~50 ms
        # while a large request was judged; at 1 ms, a fifth of that
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, SWITCH_INTERVAL_S))
        # the models and charter loaded so far live as long as the process: out of the collector's
        # sight, a full collection no longer rescans them (it held the GIL ~190 ms with the default gate)
        gc.collect()
        gc.freeze()
        upstream()  # its client now: building the TLS context holds the event loop ~0.1-0.2 s
        writer.audit("proxy.start", "server", {"upstream": config.base, "judge_version": gate.version})
        if spool is not None:  # what an earlier process released mid-stream and did not record
            try:
                n = await asyncio.to_thread(replay, spool.dir, sinks, existing=getattr(sinks, "existing", None),
                                            skip=spool.paths)
            except Exception as e:  # the file stays for the next start
                metrics.audit_failures.inc()
                log.error("audit spool: replay failed, kept for the next start: %s: %s", type(e).__name__, e)
            else:
                metrics.audit_replayed.inc(n)
        yield
        for up in list(upstreams.values()):
            with suppress(RuntimeError):
                await up.aclose()
        upstreams.clear()
        writer.flush(5.0)
        if spool is not None:
            spool.close()
        sys.setswitchinterval(switch)

    app = FastAPI(
        title="accord guard proxy",
        version="1",
        summary="An OpenAI-compatible proxy that judges every request, response and tool call against a charter.",
        lifespan=lifespan,
        default_response_class=SafeJSON,
    )
    app.state.guard = guard
    app.state.writer = writer
    app.state.metrics = metrics
    app.state.sinks = sinks

    # ------------------------------------------------------------------ errors, in OpenAI's format
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        metrics.rejected.labels("invalid").inc()
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype and ctype != "application/json" and not ctype.endswith("+json"):
            return error(400, f"the body must be JSON sent with 'Content-Type: application/json' (got {ctype!r})",
                         code="invalid_request")
        msg, param = _validation_message(exc)
        return error(400, msg, param=param, code="invalid_request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return error(exc.status_code, str(exc.detail), code=code, headers=getattr(exc, "headers", None))

    @app.exception_handler(UpstreamError)
    async def _upstream(request: Request, exc: UpstreamError) -> Response:
        metrics.upstream_errors.labels(exc.kind).inc()
        return SafeJSON(exc.body(), status_code=exc.status)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        log.exception("internal error")
        rid = getattr(request.state, "trace_id", "")
        return error(500, f"internal error in the proxy (trace {rid}); no upstream text was sent", "server_error",
                     "internal_error")

    # ------------------------------------------------------------------ helpers
    def who(request: Request) -> str | None:
        return getattr(request.state, "client_key", None)

    def community_of(request: Request) -> str | None:
        c = request.headers.get(COMMUNITY_HEADER)
        if c is None:
            return None
        if c not in gate.charter.communities:
            known = ", ".join(gate.charter.communities) or "none"
            raise _BadRequest(f"unknown community {c!r} in {COMMUNITY_HEADER}; the charter defines: {known}", "community")
        return c

    def client_auth(request: Request) -> str | None:
        if keys is not None and keys.configured:
            return None  # the client's header holds an accord key: never send it upstream
        return request.headers.get("authorization")

    @app.exception_handler(_BadRequest)
    async def _bad(request: Request, exc: _BadRequest) -> Response:
        metrics.rejected.labels("invalid").inc()
        return error(400, exc.message, param=exc.param, code="invalid_request")

    # ------------------------------------------------------------------ routes
    @app.post(
        "/v1/chat/completions",
        response_model=None,
        tags=["proxy"],
        summary="Create a chat completion, judged",
        description=(
            "Passed to the upstream's `/chat/completions`. The new user/tool messages are judged first "
            "(a block or held escalation answers without calling the upstream); every choice's text and "
            "tool calls are judged before the client sees them. Withheld output is replaced by a refusal "
            "with `finish_reason: \"content_filter\"` and an `accord` object carrying the verdict. With "
            "`stream: true` the answer is `text/event-stream` (OpenAI's chunks, text released only up to the "
            "last judged sentence boundary). Header `X-Accord-Community` picks a community of the charter."),
        responses={200: {"model": ChatCompletion, "description": "The judged completion (or, streaming, its chunks)",
                         "content": {"text/event-stream": {"schema": _SSE_EVENT}}},
                   **_UPSTREAM_ERRORS},
    )
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
        rid: str = request.state.trace_id
        community = community_of(request)
        payload = body.model_dump(exclude_unset=True, mode="json")
        messages: list[dict[str, Any]] = payload["messages"]
        if len(messages) > config.max_messages:
            raise _BadRequest(f"{len(messages)} messages in one request; the most this proxy accepts is "
                              f"{config.max_messages}", "messages")
        actor = who(request)
        meta = {"trace_id": rid, "model": body.model, **({"key": actor} if actor else {})}
        stream = bool(body.stream)
        input_flag: Verdict | None = None
        headers = {"x-accord-decision": "allow"}

        if config.judge_input:
            if len(messages) > 32 or len(json.dumps(messages[-1:])) > 16_384:  # a big request: off the event loop
                items = await asyncio.to_thread(guard.input_cases, messages, meta, actor, community)
            else:
                items = guard.input_cases(messages, meta, actor, community)
            verdicts = await guard.judge(items, rid)
            outcomes = [guard.outcome(v) for v in verdicts]
            stopping = [o for o in outcomes if o.stop]
            if stopping:
                o = max(stopping, key=lambda o: o.verdict.risk if o.verdict.decision == "block" else -1)
                o = next((x for x in stopping if x.verdict.decision == "block"), o)
                headers["x-accord-decision"] = o.verdict.decision
                done = refusal_completion(rid, body.model, o.verdict, held=o.held)
                if stream:
                    return StreamingResponse(_refusal_stream(done), media_type="text/event-stream", headers=headers)
                return SafeJSON(done, headers=headers)
            for p, v in zip(items, verdicts, strict=True):
                if "tool" in p.extra:  # a tool call of an assistant message: its arguments, redacted
                    if v.decision == "revise":
                        _revise_tool_call(messages[p.extra["message"]], p.extra["tool"], v)
                    continue
                if v.decision == "revise" and v.revised is not None:
                    m = messages[p.extra["message"]]
                    content = m.get("content")
                    if isinstance(content, list):
                        others = [c for c in content if not (isinstance(c, dict) and c.get("type") == "text")]
                        m["content"] = [{"type": "text", "text": v.revised}, *others]
                    else:
                        m["content"] = v.revised
            input_flag = strictest([o.verdict for o in outcomes if o.flagged])
            if input_flag is not None:
                headers["x-accord-decision"] = "escalate"

        context = context_of(messages, config.context_messages)
        up = upstream()
        t0 = time.perf_counter()
        if stream:
            resp = await up.open_stream("/chat/completions", payload, client_auth(request))
            metrics.upstream_seconds.labels("true").observe(time.perf_counter() - t0)
            n_raw = payload.get("n")
            n = n_raw if isinstance(n_raw, int) else 1
            sg = StreamGuard(guard, resp, rid=rid, context=context, meta=meta, actor=actor, community=community,
                             n=n, input_flag=input_flag)
            return StreamingResponse(sg.run(), media_type="text/event-stream",
                                     headers={**headers, "cache-control": "no-cache"})
        data = await up.post_json("/chat/completions", payload, client_auth(request))
        metrics.upstream_seconds.labels("false").observe(time.perf_counter() - t0)
        if data.get("object") not in (None, "chat.completion"):
            raise malformed(config.base, f"expected a chat.completion, got object {str(data.get('object'))[:40]!r}")
        out = await judge_completion(guard, data, rid=rid, context=context, meta=meta, actor=actor,
                                     community=community, input_flag=input_flag)
        headers["x-accord-decision"] = out["accord"]["decision"]
        return SafeJSON(out, headers=headers)

    @app.get("/v1/models", response_model=None, tags=["proxy"], summary="The upstream's models (passed through)",
             responses={200: {"model": ModelList}, **_UPSTREAM_ERRORS})
    async def models(request: Request) -> Response:
        data = await upstream().get_json("/models", client_auth(request))
        items = data.get("data")
        if not isinstance(items, list) or not all(isinstance(m, dict) and isinstance(m.get("id"), str) for m in items):
            raise malformed(config.base, "no 'data' list of models with ids")
        # identifiers and counts only: a model list is upstream text nobody judged
        out = []
        for m in items[:1000]:
            if safe_field("model", m["id"]) is None:
                continue
            entry: dict[str, Any] = {"id": m["id"], "object": "model"}
            if safe_field("created", m.get("created")) is not None:
                entry["created"] = m["created"]
            if safe_field("owned_by", m.get("owned_by")) is not None:
                entry["owned_by"] = m["owned_by"]
            out.append(entry)
        return SafeJSON({"object": "list", "data": out})

    @app.post("/v1/check", response_model=Verdict, tags=["check"], summary="Judge one case, no upstream",
              description="The gate's verdict on a case (Verdict JSON, schema_version 1). Audited under the "
                          "request's trace id; an escalation enters the review queue.",
              responses=dict(_ERRORS))
    async def check(body: CheckRequest, request: Request) -> Response:
        rid: str = request.state.trace_id
        if body.community is not None and body.community not in gate.charter.communities:
            known = ", ".join(gate.charter.communities) or "none"
            raise _BadRequest(f"unknown community {body.community!r}; the charter defines: {known}", "community")
        actor = who(request)
        case = Case.model_validate({**body.model_dump(exclude={"candidates"}),
                                    "actor": body.actor or actor,
                                    "meta": {**body.meta, "trace_id": rid}})
        if body.candidates:
            t0 = time.perf_counter()
            try:
                v = await asyncio.to_thread(gate.check, case.context, case.action, community=case.community,
                                            candidates=body.candidates, case_id=case.id, meta=case.meta)
            except Exception as e:
                v = failed_verdict(gate, case, f"the gate failed: {type(e).__name__}: {e}")
            metrics.judge_seconds.labels("check").observe(time.perf_counter() - t0)
            v = v.model_copy(update={"trace_id": rid})
        else:
            v = (await guard.judge([Pending(case, "check", "")], rid, commit=False))[0]
            v = v.model_copy(update={"trace_id": rid})
        await guard.audited([guard.commit(case, v, "check")])  # the verdict goes out once it is recorded
        return SafeJSON(v.model_dump(mode="json"), headers={"x-accord-decision": v.decision})

    @app.get("/healthz", response_model=Health, tags=["ops"], summary="Liveness")
    async def healthz() -> Health:
        return Health(judge_version=gate.version, charter=gate.charter.name, upstream=config.base,
                      auth=bool(keys is not None and keys.configured))

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=Response,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                              "description": "Prometheus text format"}})
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes,
                             description="Every error is OpenAI's `{\"error\": {message, type, param, code}}`; "
                                         "every response has an `X-Accord-Trace-Id` header.")
        comps = schema.setdefault("components", {})
        comps.setdefault("securitySchemes", {})["apiKey"] = {
            "type": "http", "scheme": "bearer",
            "description": "A key from `accord keys add NAME`; required once any key is configured."}
        for p in list(comps.get("schemas", {})):
            if p in ("HTTPValidationError", "ValidationError"):
                del comps["schemas"][p]
        for path, ops in schema.get("paths", {}).items():
            for op in ops.values():
                op.get("responses", {}).pop("422", None)
                if path.startswith("/v1/"):
                    op["security"] = [{"apiKey": []}, {}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(Gatekeeper, config=config, keys=keys, metrics=metrics)
    return app


def _spool_for(config: ProxyConfig, sinks: Sinks) -> Spool | None:
    """The durable spool for streamed answers: where the config says, else where the store is."""
    if config.spool_dir:
        return Spool(config.spool_dir)
    store = getattr(sinks, "store", None)
    url = getattr(store, "url", None)
    return Spool(default_spool_dir(str(url))) if isinstance(url, str) else None


class _BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def _revise_tool_call(message: dict[str, Any], j: int, v: Verdict) -> None:
    """Put a revised (redacted) tool call's arguments in its place in an assistant message."""
    calls = [tc.get("function") for tc in message.get("tool_calls") or [] if isinstance(tc, dict)]
    if isinstance(message.get("function_call"), dict):
        calls.append(message["function_call"])
    fn = calls[j] if j < len(calls) else None
    if isinstance(fn, dict):
        args = revised_tool_arguments(v, str(fn.get("name") or "?"))
        fn["arguments"] = args if args is not None else "{}"  # what cannot be recovered is not sent


async def _refusal_stream(done: dict[str, Any]) -> Any:
    """A whole refusal completion as a stream of chunks."""
    head = {"id": done["id"], "object": "chat.completion.chunk", "created": done["created"], "model": done["model"]}
    ch = done["choices"][0]
    yield sse({**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                                    "finish_reason": None}]})
    yield sse({**head, "choices": [{"index": 0, "delta": {"content": ch["message"]["content"],
                                                           "refusal": ch["message"]["refusal"]},
                                    "logprobs": None, "finish_reason": None}]})
    yield sse({**head, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "content_filter",
                                    "accord": ch["accord"]}]})
    yield DONE


__all__ = ["create_app"]
