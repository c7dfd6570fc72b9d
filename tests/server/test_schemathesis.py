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

