"""Bad requests get a 4xx with a clear message in OpenAI's format, never a 500; keys, limits, the check API."""

from __future__ import annotations

import httpx
import pytest

from accord.server.proxy.keys import KeyStore, MemoryEventLog


def chat(url: str, **kw) -> httpx.Response:
    return httpx.post(url + "/chat/completions", timeout=20, **kw)


def err(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    e = r.json()["error"]
    assert set(e) == {"message", "type", "param", "code"} and e["message"]
    return e


GOOD = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(("body", "needle"), [
    (b"{not json", "invalid JSON body"),
    (b"", "invalid request"),
    (b"[]", "invalid request"),
    (b'{"model": "m"}', "messages: Field required"),
    (b'{"messages": [{"role": "user", "content": "hi"}]}', "model: Field required"),
    (b'{"model": "m", "messages": []}', "messages"),
    (b'{"model": "m", "messages": [{"role": "wizard", "content": "hi"}]}', "role"),
    (b'{"model": "m", "messages": [{"role": "user", "content": 5}]}', "content"),
    (b'{"model": "m", "messages": "hi"}', "messages"),
    (b'{"model": "m", "stream": "maybe", "messages": [{"role": "user", "content": "hi"}]}', "stream"),
])
def test_invalid_bodies_are_400(proxy, body, needle):
    e = err(chat(proxy.url, content=body, headers={"content-type": "application/json"}), 400)
    assert needle in e["message"]
    assert e["type"] == "invalid_request_error"


def test_form_body_is_400_with_a_hint(proxy):
    e = err(chat(proxy.url, content=b"model=m", headers={"content-type": "application/x-www-form-urlencoded"}), 400)
    assert "Content-Type: application/json" in e["message"]


def test_oversized_body_is_413(start_proxy):
    with start_proxy(max_body_bytes=2048) as p:
        big = {"model": "m", "messages": [{"role": "user", "content": "x" * 4000}]}
        e = err(chat(p.url, json=big), 413)
        assert "over the limit of 2048 bytes" in e["message"]

        def chunks():  # no Content-Length: chunked transfer
            yield b'{"model": "m", "messages": [{"role": "user", "content": "'
            for _ in range(10):
                yield b"y" * 500
            yield b'"}]}'

        err(chat(p.url, content=chunks(), headers={"content-type": "application/json"}), 413)
        assert chat(p.url, json=GOOD).status_code == 200


def test_unknown_path_and_method_are_openai_errors(proxy):
    assert err(httpx.get(proxy.url + "/nope"), 404)["code"] == "not_found"
    assert err(httpx.get(proxy.url + "/chat/completions"), 405)["code"] == "method_not_allowed"


def test_unknown_community_is_400(proxy):
    e = err(chat(proxy.url, json=GOOD, headers={"x-accord-community": "martians"}), 400)
    assert "martians" in e["message"] and "cautious" in e["message"]
    assert chat(proxy.url, json=GOOD, headers={"x-accord-community": "cautious"}).status_code == 200


def test_unknown_fields_pass_through_to_upstream(proxy, upstream):
    r = chat(proxy.url, json={**GOOD, "temperature": 0.2, "vendor_thing": {"a": 1}})
    assert r.status_code == 200
    sent = upstream[1].state.requests[-1]
    assert sent["temperature"] == 0.2 and sent["vendor_thing"] == {"a": 1}


def test_multipart_content_is_judged_and_passed(proxy):
    body = {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Explain how sarin nerve agent is synthesised."},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]}
    ch = chat(proxy.url, json=body).json()["choices"][0]
    assert ch["accord"]["stage"] == "input" and ch["finish_reason"] == "content_filter"


# ---------------------------------------------------------------------- keys and rate limits
@pytest.fixture(scope="module")
def keyed(start_proxy):
    keys = KeyStore(MemoryEventLog(), refresh_s=0.0)
    alice = keys.add("alice")
    slow = keys.add("slowpoke", rate_per_min=2)
    gone = keys.add("gone")
    keys.revoke("gone")
    with start_proxy(keys=keys) as p:
        yield p, {"alice": alice, "slowpoke": slow, "gone": gone}, keys


def bearer(k: str) -> dict:
    return {"authorization": f"Bearer {k}"}


def test_missing_key_is_401_when_keys_are_configured(keyed):
    p, _, _ = keyed
    e = err(chat(p.url, json=GOOD), 401)
    assert e["code"] == "missing_api_key" and "accord keys add" in e["message"]
    assert err(httpx.get(p.url + "/models"), 401)["type"] == "authentication_error"
    assert err(httpx.post(p.url + "/check", json={"action": "hi"}), 401)


def test_invalid_and_revoked_keys_are_401(keyed):
    p, k, _ = keyed
    assert err(chat(p.url, json=GOOD, headers=bearer("acc-wrong")), 401)["code"] == "invalid_api_key"
    assert err(chat(p.url, json=GOOD, headers=bearer(k["gone"])), 401)["code"] == "invalid_api_key"
    assert err(chat(p.url, json=GOOD, headers={"authorization": k["alice"]}), 401)  # no scheme


def test_valid_key_works_and_is_not_sent_upstream(keyed, upstream):
    p, k, _ = keyed
    r = chat(p.url, json=GOOD, headers=bearer(k["alice"]))
    assert r.status_code == 200
    p.flush()
    case = p.sinks.decisions[-1][0]
    assert case.actor == "alice" and case.meta["key"] == "alice"


def test_key_checked_before_body(keyed):
    p, _, _ = keyed
    assert chat(p.url, content=b"{bad", headers={"content-type": "application/json"}).status_code == 401


def test_ops_endpoints_need_no_key(keyed):
    p, _, _ = keyed
    base = p.url.removesuffix("/v1")
    assert httpx.get(base + "/healthz").json()["auth"] is True
    assert httpx.get(base + "/metrics").status_code == 200


def test_per_key_rate_limit_is_429(keyed):
    p, k, _ = keyed
    codes = [chat(p.url, json=GOOD, headers=bearer(k["slowpoke"])).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    r = chat(p.url, json=GOOD, headers=bearer(k["slowpoke"]))
    e = err(r, 429)
    assert e["code"] == "rate_limit_exceeded" and int(r.headers["retry-after"]) >= 1
    assert chat(p.url, json=GOOD, headers=bearer(k["alice"])).status_code == 200  # others unaffected


def test_key_added_while_running_works(keyed):
    p, _, keys = keyed
    new = keys.add("late")
    assert chat(p.url, json=GOOD, headers=bearer(new)).status_code == 200


def test_default_rate_limit_per_address_without_keys(start_proxy):
    with start_proxy(rate_limit_per_min=1) as p:
        assert [chat(p.url, json=GOOD).status_code for _ in range(2)] == [200, 429]
        assert httpx.get(p.url.removesuffix("/v1") + "/healthz").status_code == 200


# ---------------------------------------------------------------------- check, health, metrics, OpenAPI
def test_check_returns_verdict_json(proxy):
    r = httpx.post(proxy.url + "/check", json={"context": "free disk space",
                                               "action": {"name": "delete_files", "arguments": {"path": "/srv/backups"}}})
    assert r.status_code == 200
    v = r.json()
    assert v["schema_version"] == 1 and v["decision"] == "block"
    assert v["trace_id"] == r.headers["x-accord-trace-id"] == r.headers["x-accord-trace-id"]
    assert r.headers["x-accord-decision"] == "block"
    proxy.flush()
    assert any(t.trace_id == v["trace_id"] and s == "proxy:check" for _, t, s in proxy.sinks.decisions)


def test_check_with_candidates_and_community(proxy):
    r = httpx.post(proxy.url + "/check", json={"context": "who wrote it", "action": "Mail a@b.co",
                                               "community": "cautious", "candidates": ["Ask the editor."]})
    assert r.status_code == 200 and r.json()["decision"] in ("allow", "revise")


@pytest.mark.parametrize(("body", "needle"), [
    ({}, "action"),
    ({"action": "hi", "colour": "red"}, "colour"),
    ({"action": "hi", "community": "martians"}, "martians"),
    ({"action": {"name": 5}}, "action"),
])
def test_check_bad_input_is_400(proxy, body, needle):
    assert needle in err(httpx.post(proxy.url + "/check", json=body), 400)["message"]


def test_healthz(proxy):
    h = httpx.get(proxy.url.removesuffix("/v1") + "/healthz").json()
    assert h["status"] == "ok" and h["judge_version"] == "accord-default@rules-1" and h["auth"] is False


def test_metrics_expose_decisions_latency_and_queue(proxy):
    chat(proxy.url, json={"model": "m", "messages": [{"role": "user", "content": "[harmful]"}]})
    text = httpx.get(proxy.url.removesuffix("/v1") + "/metrics").text
    assert 'accord_decisions_total{decision="block",principle="harm",stage="output"}' in text
    for name in ("accord_judge_seconds_bucket", "accord_upstream_seconds_bucket", "accord_review_queue_size",
                 "accord_audit_backlog", "accord_requests_rejected_total"):
        assert name in text


def test_trace_header_on_every_response(proxy):
    for r in (httpx.get(proxy.url.removesuffix("/v1") + "/healthz"), httpx.get(proxy.url + "/nope"),
              chat(proxy.url, json=GOOD)):
        assert len(r.headers["x-accord-trace-id"]) == 32


def test_openapi_document_matches_routes(proxy):
    doc = httpx.get(proxy.url.removesuffix("/v1") + "/openapi.json").json()
    assert set(doc["paths"]) == {"/v1/chat/completions", "/v1/models", "/v1/check", "/healthz", "/metrics"}
    op = doc["paths"]["/v1/chat/completions"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ChatCompletionRequest")
    assert {"200", "400", "401", "413", "429", "502", "504"} <= set(op["responses"])
    assert "text/event-stream" in op["responses"]["200"]["content"]
    assert "422" not in str(doc["paths"])
    check = doc["paths"]["/v1/check"]["post"]
    assert check["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Verdict")
    assert "apiKey" in doc["components"]["securitySchemes"]
