"""Targets: Python callables, a real OpenAI-compatible HTTP server, shell commands, replay; faults."""

from __future__ import annotations

import json
import sys
import time

import pytest

from accord.errors import InputError, RegistryError
from accord.suites import (
    CommandTarget,
    OpenAITarget,
    PythonTarget,
    ReplayTarget,
    Reply,
    TargetFault,
    get_target,
    register_target,
    target_schemes,
)
from accord.suites.targets import reply_from
from conftest import free_port

CHAT = [{"role": "system", "content": "be nice"}, {"role": "user", "content": "hello there"}]
TOOLS = [{"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}}]


def test_reply_from_accepts_the_usual_shapes():
    assert reply_from("hi") == Reply("hi")
    assert reply_from(None) == Reply("")
    r = reply_from({"content": None, "tool_calls": [{"id": "x", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]})
    assert r.content == "" and r.tool_calls[0].name == "f" and r.tool_calls[0].arguments == {"a": 1}
    assert reply_from([{"name": "g", "arguments": {"b": 2}}]).tool_calls[0].arguments == {"b": 2}
    assert reply_from({"name": "g", "arguments": {}}).tool_calls[0].name == "g"
    bad = reply_from({"tool_calls": [{"function": {"name": "f", "arguments": "{oops"}}]}).tool_calls[0]
    assert bad.parse_error and "not valid JSON" in bad.parse_error
    with pytest.raises(TargetFault, match="expected a string"):
        reply_from(42)
    with pytest.raises(TargetFault, match="no function name"):
        reply_from({"tool_calls": [{"function": {}}]})


def test_python_target_gets_prompt_or_messages_and_tools():
    got = {}

    def text(prompt):
        got["prompt"] = prompt
        return "ok"

    def chat(messages, tools=None):
        got["messages"], got["tools"] = messages, tools
        return {"content": "fine"}

    assert PythonTarget(text).respond(CHAT).content == "ok" and got["prompt"] == "hello there"
    assert PythonTarget(chat).respond(CHAT, TOOLS).content == "fine"
    assert got["messages"] == CHAT and got["tools"] == TOOLS

    def boom(prompt):
        raise ValueError("nope")

    with pytest.raises(TargetFault, match="raised ValueError: nope"):
        PythonTarget(boom).respond(CHAT)


def test_py_spec_imports_a_callable():
    t = get_target("py:suite_fake_targets:refuse_all")
    assert t.name == "py:suite_fake_targets:refuse_all" and "can't help" in t.respond(CHAT).content
    with pytest.raises(InputError, match="cannot import module 'no_such_mod_xyz'"):
        get_target("py:no_such_mod_xyz:f")
    with pytest.raises(InputError, match="has no attribute 'nothing'"):
        get_target("py:suite_fake_targets:nothing")
    with pytest.raises(InputError, match=r"must look like py:package\.module:function"):
        get_target("py:suite_fake_targets")


def test_openai_target_against_a_real_http_server(openai_server, monkeypatch):
    openai_server.rec.responses["hello there"] = "General Kenobi."
    monkeypatch.setenv("MY_KEY", "sk-test-123")
    t = get_target(openai_server.spec("m1", key_env="MY_KEY"))
    assert isinstance(t, OpenAITarget)
    r = t.respond(CHAT)
    assert r.content == "General Kenobi." and r.latency_ms > 0
    body = openai_server.rec.requests[-1]
    assert body["model"] == "m1" and body["messages"] == CHAT and "tools" not in body
    assert openai_server.rec.headers[-1]["authorization"] == "Bearer sk-test-123"
    openai_server.rec.agent = lambda msgs, tools: {"content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": tools[0]["function"]["name"], "arguments": "{}"}}]}
    r = t.respond(CHAT, TOOLS)
    assert r.tool_calls[0].name == "ping" and openai_server.rec.requests[-1]["tools"] == TOOLS
    t.close()


def test_openai_target_retries_server_errors(openai_server):
    openai_server.rec.fail_first = 2
    t = get_target(openai_server.spec(retries=2))
    assert t.respond(CHAT).content.startswith("Sure")
    assert len(openai_server.rec.requests) == 3
    openai_server.rec.fail_first = 5
    with pytest.raises(TargetFault, match=r"HTTP 500 .*after 2 tries"):
        get_target(openai_server.spec(retries=1)).respond(CHAT)


def test_openai_target_faults(openai_server):
    openai_server.rec.status = 400
    with pytest.raises(TargetFault, match="HTTP 400"):
        get_target(openai_server.spec(retries=0)).respond(CHAT)
    openai_server.rec.status = 200
    openai_server.rec.garbage = True
    with pytest.raises(TargetFault, match="not an OpenAI chat completion"):
        get_target(openai_server.spec(retries=0)).respond(CHAT)
    openai_server.rec.garbage = False
    openai_server.rec.delay_s = 1.0
    t0 = time.perf_counter()
    with pytest.raises(TargetFault, match=r"timed out after 0.2 s"):
        get_target(openai_server.spec(retries=0, timeout=0.2)).respond(CHAT)
    assert time.perf_counter() - t0 < 0.9


def test_openai_target_unreachable():
    port = free_port()
    with pytest.raises(TargetFault, match=rf"cannot reach http://127.0.0.1:{port}/v1/chat/completions"):
        get_target(f"openai:http://127.0.0.1:{port}/v1?model=x&retries=1").respond(CHAT)


def test_openai_concurrency_limit(openai_server):
    import concurrent.futures as cf

    openai_server.rec.delay_s = 0.2
    t = get_target(openai_server.spec(concurrency=2))
    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda _: t.respond(CHAT), range(6)))
    # six 0.2 s requests, at most two in flight: at least three rounds
    assert time.perf_counter() - t0 >= 0.55


@pytest.mark.parametrize(("spec", "msg"), [
    ("openai:127.0.0.1:8000?model=x", "needs an http"),
    ("openai:http://127.0.0.1:8000/v1", r"needs \?model=NAME"),
    ("openai:http://127.0.0.1:8000/v1?model=x&colour=red", "unknown option"),
    ("openai:http://127.0.0.1:8000/v1?model=x&timeout=soon", "bad query value"),
    ("openai:http://127.0.0.1:8000/v1?model=x&concurrency=0", "concurrency must be >= 1"),
    ("cmd:", "needs a command"),
    ("replay:/no/such/file.jsonl", "cannot read"),
])
def test_bad_specs_are_input_errors(spec, msg):
    with pytest.raises(InputError, match=msg):
        get_target(spec)


def test_unknown_scheme_lists_what_exists():
    with pytest.raises(RegistryError) as e:
        get_target("grpc://x")
    assert all(s in e.value.message for s in ("openai:...", "py:...", "cmd:...", "replay:..."))
    register_target("const", lambda rest: PythonTarget(lambda p: rest, name=f"const:{rest}"))
    assert "const" in target_schemes() and get_target("const:hi").respond(CHAT).content == "hi"


def test_command_target(tmp_path):
    script = tmp_path / "bot.py"
    script.write_text(
        "import sys, json\n"
        "data = sys.stdin.read()\n"
        "if data.startswith('{'):\n"
        "    req = json.loads(data)\n"
        "    print(json.dumps({'tool_calls': [{'name': req['tools'][0]['function']['name'], 'arguments': {}}]}))\n"
        "elif 'crash' in data:\n"
        "    sys.exit(3)\n"
        "elif 'slow' in data:\n"
        "    import time; time.sleep(5)\n"
        "else:\n"
        "    print('you said: ' + data.upper())\n")
    t = get_target(f"cmd:{sys.executable} {script}")
    assert isinstance(t, CommandTarget)
    assert t.respond(CHAT).content == "you said: HELLO THERE"
    assert t.respond(CHAT, TOOLS).tool_calls[0].name == "ping"
    with pytest.raises(TargetFault, match="exited 3"):
        t.respond([{"role": "user", "content": "crash"}])
    quick = CommandTarget(f"{sys.executable} {script}", timeout=0.5)
    with pytest.raises(TargetFault, match=r"timed out after 0\.5 s"):
        quick.respond([{"role": "user", "content": "slow"}])
    with pytest.raises(TargetFault, match="cannot run"):
        CommandTarget("/no/such/binary-xyz").respond(CHAT)


def test_replay_target(tmp_path):
    p = tmp_path / "rec.jsonl"
    p.write_text(json.dumps({"prompt": "hello   there", "response": "hi!"}) + "\n\n"
                 + json.dumps({"prompt": "use a tool", "response": "", "tool_calls": [{"name": "ping", "arguments": {}}]}) + "\n")
    t = get_target(f"replay:{p}")
    assert isinstance(t, ReplayTarget)
    assert t.respond(CHAT).content == "hi!"  # matched by prompt, whitespace folded
    assert t.respond([{"role": "user", "content": "use a tool"}]).tool_calls[0].name == "ping"
    with pytest.raises(TargetFault, match="no recorded response"):
        t.respond([{"role": "user", "content": "something else"}])
    p.write_text('{"prompt": "x"}\n{"response": "y"}\n')
    with pytest.raises(InputError, match=r"rec\.jsonl:2: a replay line needs"):
        get_target(f"replay:{p}")
    p.write_text("")
    with pytest.raises(InputError, match="no recorded responses"):
        get_target(f"replay:{p}")
