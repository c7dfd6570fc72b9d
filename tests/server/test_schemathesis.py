"""Property-based requests from the OpenAPI document (schemathesis): no 500s, answers match the document.

Bounded: a few dozen examples per operation against the ASGI app, the upstream an in-process fake.
"""

from __future__ import annotations

import json

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from proxy_helpers import rules_gate

from accord.server.proxy import MemorySinks, ProxyConfig, create_app


def fake_upstream(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/models"):
        return httpx.Response(200, json={"object": "list", "data": [{"id": "fake", "object": "model"}]})
    body = json.loads(request.content)
    if body.get("stream"):
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "fake",
                 "choices": [{"index": 0, "delta": {"content": "Fine. Thanks."}, "finish_reason": "stop"}]}
        return httpx.Response(200, text=f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n",
                              headers={"content-type": "text/event-stream"})
    return httpx.Response(200, json={"id": "c", "object": "chat.completion", "created": 1, "model": "fake",
                                     "choices": [{"index": 0, "finish_reason": "stop",
                                                  "message": {"role": "assistant", "content": "Fine. Thanks."}}]})


app = create_app(ProxyConfig(upstream="http://upstream.invalid/v1", max_body_bytes=64 * 1024), rules_gate(),
                 sinks=MemorySinks(), transport=httpx.MockTransport(fake_upstream))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
schema.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_openapi_document(case):
    case.call_and_validate(checks=CHECKS)



# ---------------------------------------------------------------- the same fuzz against a malicious upstream
HARM = "Sarin is synthesised at home step by step"  # the rules block it wherever they read it


def evil_upstream(request: httpx.Request) -> httpx.Response:
    """Harm in every field, an error body or a broken stream: chosen by the request's bytes."""
    meta = {"id": HARM, "created": HARM, "model": HARM, "system_fingerprint": HARM, "usage": {"total_tokens": HARM}}
    if request.url.path.endswith("/models"):
        return httpx.Response(200, json={"object": "list", "data": [{"id": HARM, "owned_by": HARM}]})
    pick = sum(request.content) % 3
    if pick == 0:
        return httpx.Response(500, json={"error": {"message": f"Traceback: {HARM}"}})
    body = json.loads(request.content)
    if body.get("stream"):
        chunk = {**meta, "object": "chat.completion.chunk",
                 "choices": [{"index": 0, "delta": {"role": HARM, "content": HARM + ". "}, "finish_reason": HARM}]}
        tail = "data: [DONE]\n\n" if pick == 1 else f"data: {json.dumps({'error': HARM})}\n\n"
        return httpx.Response(200, text=f"data: {json.dumps(chunk)}\n\n{tail}",
                              headers={"content-type": "text/event-stream"})
    return httpx.Response(200, json={**meta, "object": "chat.completion", "choices": [
        {"index": 0, "finish_reason": HARM, "message": {"role": HARM, "content": HARM, "refusal": HARM}}]})


evil_app = create_app(ProxyConfig(upstream="http://upstream.invalid/v1", max_body_bytes=64 * 1024), rules_gate(),
                      sinks=MemorySinks(), transport=httpx.MockTransport(evil_upstream))
evil_schema = schemathesis.openapi.from_asgi("/openapi.json", evil_app)
evil_schema.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE])


@evil_schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_fuzzed_requests_never_receive_unjudged_upstream_text(case):
    response = case.call()
    assert "sarin" not in response.text.lower(), response.text[:400]
    assert response.status_code != 500, response.text[:400]  # 502 is the upstream's failure, documented
    case.validate_response(response, checks=[schemathesis.checks.status_code_conformance,
                                             schemathesis.checks.response_schema_conformance])
