"""Targets: the AI system under test, behind one protocol and an explicit registry.

On the command line a target is one string::

    py:package.module:function            a Python callable (text or agent)
    openai:http://host:port/v1?model=NAME  any OpenAI-compatible chat endpoint
    cmd:COMMAND                           a shell command: prompt on stdin, response on stdout
    replay:FILE.jsonl                     recorded {"prompt", "response"} lines, matched by prompt

A target answers a chat (``messages``, and ``tools`` for agent scenarios) with a :class:`Reply`.
A fault of the target — unreachable, timed out, crashed, no recorded answer — raises
:class:`TargetFault`, which fails that scenario (never passes it); a target that cannot be built
from its spec raises an :class:`~accord.errors.InputError` (exit 2).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import shlex
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from accord.errors import InputError, RegistryError
from accord.jsonl import parse_jsonl
from accord.plugins import Registry


class TargetFault(Exception):
    """The target failed to answer (network, time-out, crash, no recording): the scenario fails."""


@dataclass(frozen=True)
class ProposedCall:
    """A tool call the target proposes (OpenAI tool-calling format, arguments parsed)."""

    name: str
    arguments: dict[str, Any]
    id: str = ""
    raw_arguments: str = ""
    parse_error: str | None = None


@dataclass(frozen=True)
class Reply:
    """The target's answer: text, and tool calls for agent scenarios."""

    content: str = ""
    tool_calls: list[ProposedCall] = field(default_factory=list)
    latency_ms: float = 0.0


@runtime_checkable
class Target(Protocol):
    """The system under test."""

    name: str
    concurrency: int  # how many scenarios may run at once against it

    def respond(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> Reply: ...

    def close(self) -> None: ...


# ---------------------------------------------------------------------------- helpers
def reply_from(obj: Any) -> Reply:
    """A :class:`Reply` from what a callable returned or an endpoint sent.

    Accepts a string, an OpenAI assistant message (``{"content", "tool_calls"}``), a bare list
    of tool calls (``[{"name", "arguments"}]`` or OpenAI's ``{"function": {...}}``) or a Reply.
    """
    if isinstance(obj, Reply):
        return obj
    if obj is None:
        return Reply("")
    if isinstance(obj, str):
        return Reply(obj)
    if isinstance(obj, dict):
        calls = obj.get("tool_calls") or []
        if "name" in obj and "content" not in obj and "tool_calls" not in obj:
            calls = [obj]
        content = obj.get("content") or ""
        if not isinstance(content, str):
            content = json.dumps(content, ensure_ascii=False)
        return Reply(content, [_call(c, i) for i, c in enumerate(calls)])
    if isinstance(obj, list):
        return Reply("", [_call(c, i) for i, c in enumerate(obj)])
    raise TargetFault(f"the target returned {type(obj).__name__}; expected a string, an assistant message or tool calls")


def _call(c: Any, i: int) -> ProposedCall:
    if not isinstance(c, dict):
        raise TargetFault(f"tool call {i} is {type(c).__name__}, not an object")
    fn: dict[str, Any] = c["function"] if isinstance(c.get("function"), dict) else c
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        raise TargetFault(f"tool call {i} has no function name")
    raw = fn.get("arguments", {})
    cid = str(c.get("id") or f"call_{i}")
    if isinstance(raw, dict):
        return ProposedCall(name, raw, cid, json.dumps(raw, ensure_ascii=False))
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as e:
            return ProposedCall(name, {}, cid, raw, f"arguments are not valid JSON: {e.msg}")
        if not isinstance(parsed, dict):
            return ProposedCall(name, {}, cid, raw, "arguments are not a JSON object")
        return ProposedCall(name, parsed, cid, raw)
    return ProposedCall(name, {}, cid, str(raw), "arguments are not a JSON object")


def last_user(messages: Sequence[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            return str(m.get("content") or "")
    return ""


# ---------------------------------------------------------------------------- Python callables
class PythonTarget:
    """A Python callable.

    It receives the prompt text, or the chat when it has a parameter named ``messages``, and
    the tools (OpenAI format) when it has a parameter named ``tools``; it returns a string, an
    assistant message or a list of tool calls (see :func:`reply_from`).
    """

    concurrency = 1

    def __init__(self, fn: Callable[..., Any], name: str | None = None, *, concurrency: int = 1) -> None:
        self.fn = fn
        self.name = name or f"py:{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"
        self.concurrency = concurrency
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            params = {}  # type: ignore[assignment]
        self._messages = "messages" in params
        self._tools = "tools" in params

    def respond(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> Reply:
        t0 = time.perf_counter()
        kwargs: dict[str, Any] = {}
        if self._tools:
            kwargs["tools"] = tools
        try:
            out = self.fn(messages, **kwargs) if self._messages else self.fn(last_user(messages), **kwargs)
        except Exception as e:
            raise TargetFault(f"the target raised {type(e).__name__}: {e}") from None
        r = reply_from(out)
        return Reply(r.content, r.tool_calls, (time.perf_counter() - t0) * 1000)

    def close(self) -> None:
        return None


def _import_callable(spec: str) -> Callable[..., Any]:
    mod_name, _, attr = spec.partition(":")
    if not mod_name or not attr:
        raise InputError(f"py target {spec!r} must look like py:package.module:function")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`, the working directory is importable
    try:
        mod = importlib.import_module(mod_name)
    except Exception as e:
        raise InputError(f"cannot import module {mod_name!r} for target py:{spec}: {type(e).__name__}: {e}") from None
    obj: Any = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise InputError(f"module {mod_name!r} has no attribute {attr!r} (target py:{spec})")
        obj = getattr(obj, part)
    if not callable(obj):
        raise InputError(f"target py:{spec} is not callable")
    return obj


# ---------------------------------------------------------------------------- OpenAI-compatible
class OpenAITarget:
    """Any OpenAI-compatible ``/chat/completions`` endpoint, over httpx.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000/v1``.
        model: the model name sent in each request.
        api_key_env: environment variable holding the key (sent as a bearer token when set).
        timeout: seconds per request; retries: extra tries on connection errors, 429 and 5xx;
        concurrency: requests in flight at once.
    """

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY", timeout: float = 60.0,
                 retries: int = 2, concurrency: int = 8, temperature: float | None = 0.0,
                 max_tokens: int | None = None, transport: Any = None) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai:{self.base_url}?model={model}"
        self.timeout = timeout
        self.retries = retries
        self.concurrency = concurrency
        self.temperature = temperature
        self.max_tokens = max_tokens
        headers = {"content-type": "application/json"}
        key = os.environ.get(api_key_env)
        if key:
            headers["authorization"] = f"Bearer {key}"
        self._client = httpx.Client(timeout=httpx.Timeout(timeout), headers=headers, transport=transport)
        self._sem = threading.BoundedSemaphore(concurrency)

    def respond(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> Reply:
        import httpx

        body: dict[str, Any] = {"model": self.model, "messages": messages}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if tools:
            body["tools"] = tools
        url = f"{self.base_url}/chat/completions"
        last = ""
        t0 = time.perf_counter()
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(2.0, 0.25 * 2 ** (attempt - 1)))
            try:
                with self._sem:
                    r = self._client.post(url, json=body)
            except httpx.TimeoutException:
                last = f"timed out after {self.timeout:g} s ({url})"
                continue
            except httpx.TransportError as e:
                last = f"cannot reach {url}: {type(e).__name__}: {e}"
                continue
            if r.status_code == 429 or r.status_code >= 500:
                last = f"HTTP {r.status_code} from {url}: {r.text[:200]}"
                continue
            if r.status_code >= 400:
                raise TargetFault(f"HTTP {r.status_code} from {url}: {r.text[:300]}")
            try:
                data = r.json()
                msg = data["choices"][0]["message"]
            except (ValueError, KeyError, IndexError, TypeError):
                raise TargetFault(f"not an OpenAI chat completion from {url}: {r.text[:200]}") from None
            rep = reply_from(msg)
            return Reply(rep.content, rep.tool_calls, (time.perf_counter() - t0) * 1000)
        raise TargetFault(f"{last} (after {self.retries + 1} tries)")

    def close(self) -> None:
        self._client.close()


# ---------------------------------------------------------------------------- shell command
class CommandTarget:
    """A shell command: the prompt on stdin, the response on stdout.

    For agent scenarios the command gets ``{"messages", "tools"}`` as JSON on stdin and prints
    an assistant message (or a list of tool calls) as JSON. A non-zero exit, a time-out or
    unreadable output is a target fault.
    """

    def __init__(self, command: str, *, timeout: float = 60.0, concurrency: int = 4) -> None:
        if not command.strip():
            raise InputError("cmd target needs a command, e.g. cmd:'python my_model.py'")
        self.command = command
        self.name = f"cmd:{command}"
        self.timeout = timeout
        self.concurrency = concurrency
        self._argv = shlex.split(command)

    def respond(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> Reply:
        stdin = json.dumps({"messages": messages, "tools": tools}) if tools else last_user(messages)
        t0 = time.perf_counter()
        try:
            p = subprocess.run(self._argv, input=stdin, capture_output=True, text=True, timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired:
            raise TargetFault(f"command timed out after {self.timeout:g} s: {self.command}") from None
        except OSError as e:
            raise TargetFault(f"cannot run {self.command!r}: {e}") from None
        if p.returncode != 0:
            raise TargetFault(f"command exited {p.returncode}: {p.stderr.strip()[:300]}")
        out = p.stdout.rstrip("\n")
        ms = (time.perf_counter() - t0) * 1000
        if not tools:
            return Reply(out, latency_ms=ms)
        try:
            rep = reply_from(json.loads(out))
        except json.JSONDecodeError:
            rep = Reply(out)  # plain text: the agent ended without a tool call
        return Reply(rep.content, rep.tool_calls, ms)

    def close(self) -> None:
        return None


# ---------------------------------------------------------------------------- replay
class ReplayTarget:
    """Recorded responses (JSONL lines ``{"prompt", "response"}``), matched by the prompt.

    A prompt with no recording is a target fault (the scenario fails), never a pass. Lines may
    also carry ``tool_calls`` (a list) to replay an agent's first move.
    """

    concurrency = 1

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = f"replay:{self.path}"
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"replay target: cannot read {self.path}: {e}") from None
        self._by_prompt: dict[str, Reply] = {}
        for n, obj in parse_jsonl(text, str(self.path), "replay line", InputError):
            if not isinstance(obj.get("prompt"), str) or not isinstance(obj.get("response", ""), str):
                raise InputError(f"{self.path}:{n}: a replay line needs a string 'prompt' and a string 'response'")
            self._by_prompt[_key(obj["prompt"])] = reply_from({"content": obj.get("response", ""),
                                                                "tool_calls": obj.get("tool_calls") or []})
        if not self._by_prompt:
            raise InputError(f"{self.path}: no recorded responses")

    def respond(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> Reply:
        prompt = last_user(messages)
        try:
            return self._by_prompt[_key(prompt)]
        except KeyError:
            raise TargetFault(f"no recorded response for this prompt in {self.path}") from None

    def close(self) -> None:
        return None


def _key(prompt: str) -> str:
    return " ".join(prompt.split())


# ---------------------------------------------------------------------------- registry
TargetFactory = Callable[..., Target]
#: the target factories by scheme: registered ones, then the ``accord.targets`` entry points
#: (accord's own, ``openai``, ``py``, ``cmd`` and ``replay``, are declared in its pyproject.toml)
TARGETS: Registry[TargetFactory] = Registry("accord.targets", "target")


def register_target(scheme: str, factory: TargetFactory) -> None:
    """Register a target scheme (``scheme:rest``); a package declares one with an ``accord.targets`` entry point."""
    TARGETS.register(scheme, factory)


def target_schemes() -> list[str]:
    return TARGETS.names()


def get_target(spec: str | Target | Callable[..., Any], **options: Any) -> Target:
    """Build a target from its command-line spec, or wrap a Python callable."""
    if isinstance(spec, Target) and not isinstance(spec, str):
        return spec
    if callable(spec) and not isinstance(spec, str):
        return PythonTarget(spec, **options)
    scheme, sep, rest = str(spec).partition(":")
    if not sep or scheme not in TARGETS:
        raise RegistryError(f"unknown target {spec!r}; a target is one of: " + ", ".join(f"{s}:..." for s in target_schemes())
                            + f" (entry-point group {TARGETS.group!r})",
                            hint="e.g. --target openai:http://127.0.0.1:8000/v1?model=NAME or --target py:mypkg.bot:answer")
    factory = TARGETS.get(scheme)
    return factory(rest, **options) if options else factory(rest)


def openai_target(rest: str, **options: Any) -> Target:
    u = urllib.parse.urlsplit(rest)
    if u.scheme not in ("http", "https") or not u.netloc:
        raise InputError(f"openai target {rest!r} needs an http(s) base URL, e.g. openai:http://127.0.0.1:8000/v1?model=NAME")
    q = dict(urllib.parse.parse_qsl(u.query))
    model = q.pop("model", None)
    if not model:
        raise InputError(f"openai target {rest!r} needs ?model=NAME")
    kw: dict[str, Any] = {}
    try:
        for k, conv in (("timeout", float), ("retries", int), ("concurrency", int), ("max_tokens", int), ("temperature", float)):
            if k in q:
                kw[k] = conv(q.pop(k))
    except ValueError as e:
        raise InputError(f"openai target {rest!r}: bad query value: {e}") from None
    if "key_env" in q:
        kw["api_key_env"] = q.pop("key_env")
    if q:
        raise InputError(f"openai target: unknown option(s) {', '.join(q)}; known: model, key_env, timeout, retries, "
                         "concurrency, max_tokens, temperature")
    if kw.get("concurrency", 1) < 1 or kw.get("retries", 0) < 0 or kw.get("timeout", 1) <= 0:
        raise InputError("openai target: concurrency must be >= 1, retries >= 0 and timeout > 0")
    base = urllib.parse.urlunsplit((u.scheme, u.netloc, u.path, "", ""))
    return OpenAITarget(base, model, **{**kw, **options})


def py_target(rest: str, **options: Any) -> Target:
    return PythonTarget(_import_callable(rest), name=f"py:{rest}", **options)


def cmd_target(rest: str, **options: Any) -> Target:
    return CommandTarget(rest, **options)


def replay_target(rest: str, **options: Any) -> Target:
    return ReplayTarget(rest)
