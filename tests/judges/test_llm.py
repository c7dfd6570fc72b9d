"""The LLM judge against a real OpenAI-compatible HTTP server on 127.0.0.1 serving scripted answers."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from accord import Gate
from accord.errors import InputError, JudgeError, JudgeTimeout
from accord.judges import get_judge
from accord.judges.cascade import Cascade
from accord.judges.llm import LLMJudge
from accord.judges.rules import RuleJudge
from accord.types import Case, ToolCall

Reply = tuple[int, Any, float, dict[str, str]]  # status, body (str content or dict), delay s, headers


def chat(content: str, logprobs: Any = None) -> dict[str, Any]:
    """An OpenAI chat.completion body."""
    choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
    if logprobs is not None:
        choice["logprobs"] = logprobs
    return {"id": "chatcmpl-1", "object": "chat.completion", "model": "m", "choices": [choice]}


def action_of(body: dict[str, Any]) -> str:
    """The action text the judge sent (json format: inside <action>; guard: the last turn)."""
    last = body["messages"][-1]["content"]
    m = re.search(r"<action>\n(.*)\n</action>", last, re.DOTALL)
    return m.group(1) if m else last


def principle_ids(body: dict[str, Any]) -> list[str]:
    sys_prompt = body["messages"][0]["content"]
    return re.findall(r"^- ([a-z_\-]+) \(", sys_prompt, re.MULTILINE)


def json_judge(body: dict[str, Any]) -> str:
    """A scripted judge: 'poison' violates harm (quoting it), everything else is fine."""
    act = action_of(body)
    out = []
    for pid in principle_ids(body):
        bad = pid == "harm" and "poison" in act.lower()
        out.append({"id": pid, "score": 0.95 if bad else 0.02, "quote": "poison in his coffee" if bad else "",
                    "reason": "poisoning hurts people" if bad else "fine"})
    return json.dumps({"principles": out})


class FakeLLM:
    """A ThreadingHTTPServer speaking the chat-completions API; ``script(body, n)`` decides each reply."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self.script: Callable[[dict[str, Any], int], Reply] = lambda body, n: (200, json_judge(body), 0.0, {})
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                body = json.loads(raw)
                with outer._lock:
                    outer.requests.append(body)
                    outer.headers.append({k.lower(): v for k, v in self.headers.items()})
                    n = len(outer.requests)
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                try:
                    status, reply, delay, headers = outer.script(body, n)
                    if delay:
                        time.sleep(delay)
                    data = (json.dumps(chat(reply)) if isinstance(reply, str) else
                            json.dumps(reply) if isinstance(reply, dict) else str(reply)).encode()
                    if status != 200 and isinstance(reply, str):
                        data = json.dumps({"error": {"message": reply}}).encode()
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    with contextlib.suppress(OSError):  # the client gave up (time-out tests)
                        self.wfile.write(data)
                finally:
                    with outer._lock:
                        outer.in_flight -= 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    s = FakeLLM()
    yield s
    s.close()


@pytest.fixture
def make_judge(server):
    made: list[LLMJudge] = []

    def make(**kw: Any) -> LLMJudge:
        opts: dict[str, Any] = {"model": "judge-7b", "base_url": server.url, "timeout_s": 5.0, "backoff_s": 0.01}
        opts.update(kw)
        j = LLMJudge(**opts)
        made.append(j)
        return j

    yield make
    for j in made:
        j.close()


POISON = Case(context="My brother annoys me.", action="Put a little poison in his coffee every day.")
BREAD = Case(action="Here is a recipe for banana bread with walnuts.")


# ---------------------------------------------------------------------- good answers
def test_good_json_scores_every_principle_with_quoted_evidence(server, make_judge, charter):
    j = make_judge()
    out = j.judge([POISON, BREAD], charter)
    assert len(out) == 2
    bad = {s.principle: s for s in out[0]}
    assert set(bad) == set(charter.principle_ids)
    assert bad["harm"].score == pytest.approx(0.95) and bad["harm"].source == "llm:judge-7b"
    ev = bad["harm"].evidence[0]
    assert ev.field == "action" and POISON.action_text[ev.start:ev.end] == "poison in his coffee"
    assert all(s.score < 0.1 and not s.evidence for s in out[1])
    body = server.requests[0]
    assert body["model"] == "judge-7b" and body["temperature"] == 0.0
    assert body["response_format"] == {"type": "json_object"}
    assert principle_ids(body) == charter.principle_ids
    assert j.version == "llm:judge-7b:json:p3e1" and j.name == "llm"  # prompt version 3, one example per side


def test_fenced_json_is_accepted_and_invented_quotes_are_dropped(server, make_judge, charter):
    def script(body, n):
        ans = json.loads(json_judge(body))
        ans["principles"][0]["quote"] = "words that are not in the case"
        return 200, "```json\n" + json.dumps(ans) + "\n```", 0.0, {}

    server.script = script
    out = make_judge().judge([POISON], charter)[0]
    assert {s.principle for s in out} == set(charter.principle_ids)
    assert not next(s for s in out if s.principle == charter.principle_ids[0]).evidence


def test_api_key_comes_from_the_named_env_var(server, make_judge, charter, monkeypatch):
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-test-123")
    make_judge(api_key_env="MY_JUDGE_KEY").judge([BREAD], charter)
    assert server.headers[0]["authorization"] == "Bearer sk-test-123"
    monkeypatch.delenv("MY_JUDGE_KEY")
    make_judge(api_key_env="MY_JUDGE_KEY", cache_size=0).judge([POISON], charter)
    assert "authorization" not in server.headers[1]


# ---------------------------------------------------------------------- malformed answers
def _with(body, mutate):
    ans = json.loads(json_judge(body))
    mutate(ans)
    return json.dumps(ans)


MALFORMED: dict[str, Callable[[dict[str, Any]], str]] = {
    "prose": lambda b: "The action looks harmful to me.",
    "truncated": lambda b: json_judge(b)[:40],
    "not-an-object": lambda b: json.dumps([1, 2, 3]),
    "missing-principle": lambda b: _with(b, lambda a: a["principles"].pop()),
    "unknown-principle": lambda b: _with(b, lambda a: a["principles"].append({"id": "vibes", "score": 0.1})),
    "duplicate": lambda b: _with(b, lambda a: a["principles"].append(dict(a["principles"][0]))),
    "score-out-of-range": lambda b: _with(b, lambda a: a["principles"][0].update(score=1.5)),
    "score-as-string": lambda b: _with(b, lambda a: a["principles"][0].update(score="0.9")),
    "extra-key": lambda b: _with(b, lambda a: a.update(verdict="allow")),
    "text-after-json": lambda b: json_judge(b) + "\nHope this helps!",
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_answer_is_a_judge_error(server, make_judge, charter, kind):
    server.script = lambda body, n: (200, MALFORMED[kind](body), 0.0, {})
    with pytest.raises(JudgeError, match="malformed"):
        make_judge().judge([POISON], charter)
    assert len(server.requests) == 1  # a malformed answer is not retried


def test_reply_without_content_is_a_judge_error(server, make_judge, charter):
    server.script = lambda body, n: (200, {"choices": []}, 0.0, {})
    with pytest.raises(JudgeError, match="choices"):
        make_judge().judge([BREAD], charter)


def test_malformed_answer_never_allows_in_the_gate(server, make_judge, charter):
    server.script = lambda body, n: (200, '{"principles": "all fine"}', 0.0, {})
    v = Gate(charter, judges=[RuleJudge(), make_judge()]).check("hi", "Here is a recipe for banana bread.")
    assert v.decision == charter.policy.on_error and v.errors
    assert "malformed" in v.errors[0]


# ---------------------------------------------------------------------- time-outs and retries
def test_slow_server_times_out_closed(server, make_judge, charter):
    server.script = lambda body, n: (200, json_judge(body), 1.0, {})
    t0 = time.perf_counter()
    with pytest.raises(JudgeTimeout, match="timed out"):
        make_judge(timeout_s=0.15, retries=3).judge([BREAD], charter)
    assert time.perf_counter() - t0 < 0.8
    assert len(server.requests) == 1  # a time-out is not retried: the gate's budget is spent


def test_slow_server_escalates_in_the_gate(server, make_judge, charter):
    server.script = lambda body, n: (200, json_judge(body), 1.0, {})
    ch = charter.model_copy(update={"policy": charter.policy.model_copy(update={"on_timeout": "block"})})
    v = Gate(ch, judges=[make_judge(timeout_s=0.15)]).check("", "Here is a recipe for banana bread.")
    assert v.decision == "block" and v.errors


def test_deadline_bounds_retries(server, make_judge, charter):
    server.script = lambda body, n: (503, "overloaded", 0.0, {"retry-after": "0.3"})
    t0 = time.perf_counter()
    with pytest.raises(JudgeTimeout, match="deadline"):
        make_judge(retries=10, deadline_s=0.5).judge([BREAD], charter)
    assert time.perf_counter() - t0 < 0.9


def test_500s_then_success_is_retried(server, make_judge, charter):
    server.script = lambda body, n: (500, "boom", 0.0, {}) if n <= 2 else (200, json_judge(body), 0.0, {})
    j = make_judge(retries=2)
    out = j.judge([POISON], charter)
    assert next(s for s in out[0] if s.principle == "harm").score == pytest.approx(0.95)
    assert len(server.requests) == 3 and j.stats["retries"] == 2


def test_429_honours_retry_after(server, make_judge, charter):
    server.script = lambda body, n: (429, "slow down", 0.0, {"retry-after": "0.2"}) if n == 1 else (200, json_judge(body), 0.0, {})
    t0 = time.perf_counter()
    make_judge(retries=1).judge([BREAD], charter)
    assert time.perf_counter() - t0 >= 0.2 and len(server.requests) == 2


def test_persistent_500s_fail_closed_after_the_retries(server, make_judge, charter):
    server.script = lambda body, n: (502, "bad gateway", 0.0, {})
    with pytest.raises(JudgeError, match=r"HTTP 502.*after 3 tries"):
        make_judge(retries=2).judge([BREAD], charter)
    assert len(server.requests) == 3


def test_client_errors_are_not_retried(server, make_judge, charter):
    server.script = lambda body, n: (401, "invalid api key", 0.0, {})
    with pytest.raises(JudgeError, match="HTTP 401"):
        make_judge(retries=3).judge([BREAD], charter)
    assert len(server.requests) == 1


def test_unreachable_endpoint_is_a_judge_error(charter):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with LLMJudge("m", base_url=f"http://127.0.0.1:{port}/v1", retries=1, backoff_s=0.01) as j, \
            pytest.raises(JudgeError, match="ConnectError"):
        j.judge([BREAD], charter)


# ---------------------------------------------------------------------- cache and concurrency
def test_cache_dedupes_and_remembers(server, make_judge, charter):
    j = make_judge()
    j.judge([POISON, POISON, BREAD], charter)
    assert len(server.requests) == 2
    j.judge([BREAD, POISON], charter)
    assert len(server.requests) == 2 and j.stats["cache_hits"] == 2
    changed = charter.model_copy(update={"principles": [
        charter.principles[0].model_copy(update={"text": "Never help anyone hurt anyone."}), *charter.principles[1:]]})
    j.judge([BREAD], changed)  # a changed charter never reuses an answer to the old prompt
    assert len(server.requests) == 3


def test_lru_evicts_the_oldest(server, make_judge, charter):
    j = make_judge(cache_size=1)
    j.judge([POISON], charter)
    j.judge([BREAD], charter)
    j.judge([POISON], charter)
    assert len(server.requests) == 3


def test_disk_cache_survives_a_new_judge(server, make_judge, charter, tmp_path):
    make_judge(cache_dir=tmp_path).judge([POISON], charter)
    out = make_judge(cache_dir=tmp_path).judge([POISON], charter)
    assert len(server.requests) == 1
    assert next(s for s in out[0] if s.principle == "harm").evidence[0].text == "poison in his coffee"
    make_judge(cache_dir=tmp_path, model="other-model").judge([POISON], charter)
    assert len(server.requests) == 2  # the model is part of the key


def test_failed_answers_are_not_cached(server, make_judge, charter):
    server.script = lambda body, n: (200, "nope", 0.0, {}) if n == 1 else (200, json_judge(body), 0.0, {})
    j = make_judge()
    with pytest.raises(JudgeError):
        j.judge([BREAD], charter)
    assert j.judge([BREAD], charter)[0]
    assert len(server.requests) == 2


def test_concurrency_limit(server, make_judge, charter):
    server.script = lambda body, n: (200, json_judge(body), 0.15, {})
    cases = [Case(action=f"Here is fact number {i} about otters.") for i in range(8)]
    t0 = time.perf_counter()
    out = make_judge(max_concurrency=2).judge(cases, charter)
    dt = time.perf_counter() - t0
    assert len(out) == 8 and len(server.requests) == 8
    assert server.max_in_flight == 2
    assert dt >= 0.15 * 4 * 0.9  # 8 requests, 2 at a time


# ---------------------------------------------------------------------- Llama Guard
def _guard(**kw):
    return {"format": "llama-guard", "model": "llama-guard3:1b", **kw}


def test_llama_guard_safe(server, make_judge, charter):
    server.script = lambda body, n: (200, "safe", 0.0, {})
    out = make_judge(**_guard()).judge([BREAD], charter)[0]
    scores = {s.principle: s.score for s in out}
    assert scores and all(v == 0.0 for v in scores.values())
    assert "autonomy" not in scores and "helpfulness" not in scores  # Llama Guard has no opinion there
    body = server.requests[0]
    assert body["messages"] == [{"role": "user", "content": BREAD.action_text}]
    assert "response_format" not in body


def test_llama_guard_unsafe_maps_categories(server, make_judge, charter):
    server.script = lambda body, n: (200, "\n\nunsafe\nS1,S10", 0.0, {})
    out = make_judge(**_guard()).judge([POISON], charter)[0]
    scores = {s.principle: s.score for s in out}
    assert scores["harm"] == 1.0 and scores["fairness"] == 1.0
    assert scores["privacy"] == 0.0 and scores["legality"] == 0.0
    assert all(s.source == "llm:llama-guard3:1b" for s in out)
    assert server.requests[0]["messages"] == [
        {"role": "user", "content": POISON.context_text}, {"role": "assistant", "content": POISON.action_text}]


def test_llama_guard_1_codes_and_custom_maps(server, make_judge, charter):
    server.script = lambda body, n: (200, "unsafe\nO3", 0.0, {})
    assert {s.principle for s in make_judge(**_guard(guard_version=1)).judge([POISON], charter)[0] if s.score == 1.0} == {"legality"}
    j = make_judge(**_guard(categories={"O3": ["autonomy"]}))
    assert {s.principle for s in j.judge([POISON], charter)[0] if s.score == 1.0} == {"autonomy"}


def test_llama_guard_unknown_category_still_flags(server, make_judge, charter):
    server.script = lambda body, n: (200, "unsafe\nS99", 0.0, {})
    out = make_judge(**_guard()).judge([POISON], charter)[0]
    assert [s.principle for s in out if s.score == 1.0] == ["harm"]  # the gravest principle


@pytest.mark.parametrize("answer", ["I think this is fine", "", "unsafe\nviolence", "safe\nS1", "unsafe\nS1\nextra"])
def test_llama_guard_malformed(server, make_judge, charter, answer):
    server.script = lambda body, n: (200, answer, 0.0, {})
    with pytest.raises(JudgeError, match="malformed"):
        make_judge(**_guard()).judge([POISON], charter)


def test_llama_guard_logprobs_give_graded_scores(server, make_judge, charter):
    def lp(first, p_unsafe):
        import math
        return {"content": [{"token": first, "logprob": math.log(max(p_unsafe, 1e-9) if first == "unsafe" else 1 - p_unsafe),
                             "top_logprobs": [{"token": "unsafe", "logprob": math.log(p_unsafe)},
                                              {"token": "safe", "logprob": math.log(1 - p_unsafe)}]}]}

    server.script = lambda body, n: (200, chat("safe", lp("safe", 0.3)), 0.0, {}) if n == 1 else (200, chat("unsafe\nS1", lp("unsafe", 0.7)), 0.0, {})
    j = make_judge(**_guard(logprobs=True))
    safe = {s.principle: s.score for s in j.judge([BREAD], charter)[0]}
    assert safe["harm"] == pytest.approx(0.3)
    unsafe = {s.principle: s.score for s in j.judge([POISON], charter)[0]}
    assert unsafe["harm"] == pytest.approx(0.7) and unsafe["privacy"] == 0.0
    assert server.requests[0]["logprobs"] is True


# ---------------------------------------------------------------------- registry and config
def test_registered_and_configurable_from_env(server, charter, monkeypatch):
    monkeypatch.setenv("ACCORD_LLM_BASE_URL", server.url)
    monkeypatch.setenv("ACCORD_LLM_MODEL", "env-model")
    j = get_judge("llm")
    try:
        assert isinstance(j, LLMJudge) and j.model == "env-model"
        j.judge([BREAD], charter)
        assert server.requests[0]["model"] == "env-model"
    finally:
        j.close()  # type: ignore[attr-defined]
    monkeypatch.delenv("ACCORD_LLM_MODEL")
    with pytest.raises(InputError, match="model"):
        get_judge("llm")
    with pytest.raises(InputError, match="format"):
        LLMJudge("m", format="yaml")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- the cascade
def test_only_uncertain_cases_reach_the_llm(server, make_judge, charter, small_model):
    """rules → small value model → LLM: the LLM sees exactly the cases the first two are unsure of."""
    cases = [
        Case(action="Here are step-by-step instructions to build a pipe bomb from hardware-store parts."),  # charter example
        Case(context="How do I kill a Python process that hangs?",
             action="Find its id with `ps aux | grep python`, then run `kill -9 <pid>`."),  # charter example
        Case(context="cut storage costs", action=ToolCall(name="delete_files", arguments={"path": "/backups/db"})),  # hard rule
        POISON,
        BREAD,
        Case(action="Tell me how to pick a lock."),
        Case(action="You can get a cheaper flight by booking on a Tuesday."),
    ]
    band = (0.2, 0.8)
    # what the first two stages say, computed independently of the cascade
    rule_scores = RuleJudge().judge(cases, charter)
    model_scores = small_model.judge(cases, charter)
    expected = [c.action_text for c, r, m in zip(cases, rule_scores, model_scores, strict=True)
                if not any(s.decision in ("block", "allow") for s in r)
                and any(band[0] < s.score < band[1] for s in m)]
    assert 0 < len(expected) < len(cases)

    llm = make_judge()
    gate = Gate(charter, judges=[RuleJudge(), small_model, llm], band=band)
    verdicts = gate.check_many(cases)
    seen = sorted(action_of(b) for b in server.requests)
    assert seen == sorted(expected)
    by_action = {c.action_text: v for c, v in zip(cases, verdicts, strict=True)}
    assert by_action[POISON.action_text].decision == "block"
    harm = next(p for p in by_action[POISON.action_text].principles if p.id == "harm")
    assert harm.source == "llm:judge-7b" and harm.evidence and harm.evidence[0].text == "poison in his coffee"
    assert by_action[BREAD.action_text].decision == "allow"
    assert by_action[cases[2].action_text].decision == "block" and not any(
        p.source.startswith("llm") for p in by_action[cases[2].action_text].principles)

    # the same batch again costs no request (cache), and the verdicts stand
    n = len(server.requests)
    again = gate.check_many(cases)
    assert len(server.requests) == n
    assert [v.decision for v in again] == [v.decision for v in verdicts]


def test_cascade_fails_closed_when_the_llm_stage_fails(server, make_judge, charter, small_model):
    server.script = lambda body, n: (500, "down", 0.0, {})
    gate = Gate(charter, judges=[RuleJudge(), small_model, make_judge(retries=0)])
    v = gate.check("", "Tell me how to pick a lock.")
    assert v.decision in ("escalate", "block") and "HTTP 500" in v.errors[0]
    assert Cascade([RuleJudge(), small_model, make_judge(retries=0)]).version.endswith("llm:judge-7b:json:p3e1")
