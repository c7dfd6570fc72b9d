"""Judging from async code: one worker thread that batches concurrent requests' cases.

The gate is synchronous and CPU-bound. Calling it on the event loop would stall every other
request; a thread per call costs a hop each and fights over the GIL. One worker thread takes
whatever cases are waiting, judges them in one :meth:`Gate.check_many` pass (the value model
encodes a batch at once), and wakes each waiting request. Under load batches grow by themselves.

Failing closed: if ``check_many`` raises, each request's cases are retried alone, and a case that
still fails gets the charter's ``on_error`` decision. A request that waits longer than the time
limit gets ``on_timeout``. Neither is ever ``allow``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import threading
import uuid
from collections.abc import Sequence
from typing import Any

from accord.gate.gate import Gate
from accord.types import TOOL_NAME_RX, Case, Decision, Explanation, Message, ToolCall, Verdict

_STOP = object()
#: a rules-only gate judges on the caller's thread only what is this small (a large text would hold
#: the event loop: no other request, not even /healthz, is answered meanwhile)
INLINE_MAX_CHARS = 4000


def failed_verdict(gate: Gate, case: Case, reason: str, *, decision: Decision | None = None,
                   timed_out: bool = False) -> Verdict:
    """The verdict for a case the judge could not judge: the policy's failure decision, never allow."""
    policy = gate.charter.policy
    d: Decision = decision or (policy.on_timeout if timed_out else policy.on_error)
    lead = {"block": "Blocked", "escalate": "Escalated to a person"}.get(d, d)
    return Verdict(
        trace_id=uuid.uuid4().hex,
        case_id=case.id,
        decision=d,
        risk=1.0,
        principles=[],
        explanation=Explanation(summary=f"{lead}: {reason}; failing closed."),
        judge_version=gate.version,
        errors=[reason],
    )


def fast_gate(gate: Gate) -> bool:
    """Whether every judge of the gate is a hard-rules judge (sub-millisecond, never waits on anything)."""
    from accord.judges.rules import RuleJudge

    return all(isinstance(j, RuleJudge) for j in gate.cascade.stages)


class JudgeWorker:
    """Judges cases for async callers on one background thread, batching what is waiting.

    With ``inline`` (the default for a rules-only gate) small cases (up to :data:`INLINE_MAX_CHARS`)
    are judged on the caller's thread:
    a rules judgment costs less than handing it to another thread and back, and the GIL hand-off
    between threads (up to the 5 ms switch interval under load) would dominate the latency.
    """

    def __init__(self, gate: Gate, *, max_batch: int = 64, timeout_s: float | None = None,
                 inline: bool | None = None) -> None:
        self.gate = gate
        self.max_batch = max_batch
        self.inline = fast_gate(gate) if inline is None else inline
        # the gate's own budget bounds the judges; this bounds everything else it does
        self.timeout_s = timeout_s if timeout_s is not None else gate.charter.policy.judge_timeout_ms / 1000 * 2 + 1.0
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="accord-judge-worker", daemon=True)
        self._thread.start()

    async def judge(self, cases: Sequence[Case]) -> list[Verdict]:
        """Verdicts for ``cases``, in order (never raises for a judge's fault)."""
        if not cases:
            return []
        if self.inline and sum(_size(c) for c in cases) <= INLINE_MAX_CHARS:
            try:
                return self.gate.check_many(list(cases), record=False)
            except Exception:
                return self._judge_alone(list(cases))
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[list[Verdict]] = loop.create_future()
        self._q.put((list(cases), fut, loop))
        try:
            return await asyncio.wait_for(asyncio.shield(fut), self.timeout_s)
        except TimeoutError:
            return [failed_verdict(self.gate, c, f"the judge gave no answer within {self.timeout_s:.1f} s",
                                   timed_out=True) for c in cases]

    def close(self) -> None:
        self._q.put(_STOP)
        self._thread.join(5)

    # ------------------------------------------------------------------ worker thread
    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is _STOP:
                return
            items = [item]
            n = len(item[0])
            stop = False
            while n < self.max_batch:
                try:
                    more = self._q.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                items.append(more)
                n += len(more[0])
            self._judge_batch(items)
            if stop:
                return

    def _judge_batch(self, items: list[tuple[list[Case], asyncio.Future[list[Verdict]], asyncio.AbstractEventLoop]]) -> None:
        cases = [c for cs, _, _ in items for c in cs]
        try:
            verdicts = self.gate.check_many(cases, record=False)
            results: list[list[Verdict]] = []
            i = 0
            for cs, _, _ in items:
                results.append(verdicts[i:i + len(cs)])
                i += len(cs)
        except Exception:
            results = [self._judge_alone(cs) for cs, _, _ in items]
        for (_, fut, loop), res in zip(items, results, strict=True):
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
                loop.call_soon_threadsafe(_resolve, fut, res)

    def _judge_alone(self, cases: list[Case]) -> list[Verdict]:
        out = []
        for c in cases:
            try:
                out.append(self.gate.check_many([c], record=False)[0])
            except Exception as e:
                out.append(failed_verdict(self.gate, c, f"the gate failed: {type(e).__name__}: {e}"))
        return out


def _size(case: Case) -> int:
    """Characters a judge reads for ``case`` (its action and context)."""
    action = case.action if isinstance(case.action, str) else json.dumps(case.action.arguments, default=str)
    return len(action) + len(case.context_text)


def _resolve(fut: asyncio.Future[list[Verdict]], res: list[Verdict]) -> None:
    if not fut.done():
        fut.set_result(res)


# ---------------------------------------------------------------------- building cases
def message_text(content: Any) -> str:
    """The text of a message's ``content``: a string, or the text parts of a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for p in content:
            if isinstance(p, dict) and isinstance(p.get("text"), str):
                parts.append(p["text"])
            elif isinstance(p, str):
                parts.append(p)
        return "\n".join(parts)
    return str(content)


def context_of(messages: Sequence[dict[str, Any]], limit: int) -> list[Message]:
    """The last ``limit`` messages as a case's context (tool calls shown as text)."""
    out = []
    for m in list(messages)[-limit:] if limit > 0 else []:
        text = message_text(m.get("content"))
        for tc in m.get("tool_calls") or []:
            fn = (tc.get("function") or {}) if isinstance(tc, dict) else {}
            text += f"\n[call tool {fn.get('name', '?')} with {fn.get('arguments', '')}]"
        out.append(Message(role=str(m.get("role", "user")), content=text))
    return out


def new_input(messages: Sequence[dict[str, Any]]) -> list[int]:
    """Indexes of the messages the input gate judges (those with text).

    * the current turn: everything after the last assistant message that comes before the last
      user or tool message, including an assistant message *after* it (a prefill the model is
      asked to continue: "Sure, here is how");
    * every message of another role than user, assistant or tool, wherever it is: ``system`` and
      ``developer`` messages are instructions, and a request can be written there as well.

    Earlier turns were judged when they were new (their assistant answers on the way out).
    """
    roles = [m.get("role") for m in messages]
    last_req = max((i for i, r in enumerate(roles) if r in ("user", "tool", "function")), default=-1)
    start = max((i for i in range(max(last_req, 0)) if roles[i] == "assistant"), default=-1) + 1
    return [i for i in range(len(messages))
            if (i >= start or roles[i] not in ("user", "assistant", "tool", "function"))
            and message_text(messages[i].get("content")).strip()]


def parse_tool_call(name: str, arguments: str) -> ToolCall | str:
    """A tool call for the gate, or the reason it cannot be judged: a name that is not an identifier
    (OpenAI's ``[A-Za-z0-9_-]{1,64}``, dots allowed; never a sentence), arguments that are not a JSON object."""
    if not TOOL_NAME_RX.fullmatch(name):
        return "a tool call whose name is not an identifier"
    if not arguments.strip():
        return ToolCall(name=name, arguments={})
    try:
        args = json.loads(arguments)
    except ValueError as e:
        return f"tool call {name!r} has arguments that are not valid JSON ({e})"
    if not isinstance(args, dict):
        return f"tool call {name!r} has arguments that are not a JSON object"
    return ToolCall(name=name, arguments=args)


def revised_tool_arguments(verdict: Verdict, name: str) -> str | None:
    """The redacted arguments of a revised tool call, as a JSON string (None if they cannot be recovered)."""
    prefix = f"call tool {name} with "
    if verdict.revised is None or not verdict.revised.startswith(prefix):
        return None
    try:
        args = json.loads(verdict.revised[len(prefix):])
    except ValueError:
        return None
    return json.dumps(args, ensure_ascii=False) if isinstance(args, dict) else None
