"""The proxy's judging logic: cases from chat requests and completions, verdicts applied to them.

Everything the upstream says passes through a whitelist before it can reach the client: the
message's ``role``, ``content``, ``refusal`` and ``tool_calls`` (each judged), and the response's
``id``, ``created``, ``model``, ``system_fingerprint``, ``service_tier`` and ``usage``, each
validated as the kind of value it is (an identifier, a count, one of the known finish reasons:
:func:`safe_field`, :func:`safe_usage`, :func:`safe_finish_reason`), so none can carry a sentence
nobody judged. Other fields (``logprobs``, ``reasoning_content``, vendor extras) are dropped.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from accord.gate.gate import Gate
from accord.review.audit import escalation_priority
from accord.server.proxy.config import ProxyConfig
from accord.server.proxy.judging import (
    JudgeWorker,
    context_of,
    failed_verdict,
    message_text,
    new_input,
    parse_tool_call,
)
from accord.server.proxy.metrics import Metrics
from accord.server.proxy.sinks import AuditWriter
from accord.server.proxy.spool import Spool
from accord.server.proxy.upstream import AuditUnavailable
from accord.types import DECISION_ORDER, Case, Decision, Message, ToolCall, Verdict

#: the longest a request waits for its audit records (the store's own busy time-out is 30 s)
AUDIT_WAIT_S = 35.0
TOP_FIELDS = ("id", "created", "model", "system_fingerprint", "service_tier", "usage")
#: an identifier: no spaces, no sentence (model names such as ``Qwen/Qwen2.5-0.5B-Instruct:q4_k_m``)
_IDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/@+\-]{0,127}")
FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter", "function_call")


def safe_field(key: str, value: Any) -> Any:
    """An upstream metadata value the client may see, or ``None``: ``created`` a plain integer,
    ``usage`` token counts (:func:`safe_usage`), every other field an identifier (no text)."""
    if key == "created":
        return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**40 else None
    if key == "usage":
        return safe_usage(value)
    return value if isinstance(value, str) and _IDENT.fullmatch(value) else None


def safe_usage(usage: Any, depth: int = 0) -> dict[str, Any] | None:
    """Token counts only: keys that are identifiers, values that are non-negative integers (or such
    objects, one level down, e.g. ``prompt_tokens_details``)."""
    if not isinstance(usage, dict) or depth > 1:
        return None
    out: dict[str, Any] = {}
    for k, v in list(usage.items())[:32]:
        if not (isinstance(k, str) and re.fullmatch(r"[a-z][a-z0-9_]{0,63}", k)):
            continue
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**53:
            out[k] = v
        elif isinstance(v, dict):
            sub = safe_usage(v, depth + 1)
            if sub is not None:
                out[k] = sub
    return out


def safe_finish_reason(value: Any) -> str | None:
    """One of the finish reasons OpenAI defines, else ``None``."""
    return value if isinstance(value, str) and value in FINISH_REASONS else None


def strictest(verdicts: list[Verdict]) -> Verdict | None:
    """The verdict with the strictest decision (the first among equals)."""
    best: Verdict | None = None
    for v in verdicts:
        if best is None or DECISION_ORDER[v.decision] > DECISION_ORDER[best.decision]:
            best = v
    return best


def client_view(v: Verdict) -> dict[str, Any]:
    """The verdict as the client sees it: without evidence snippets or a revised text of withheld output.

    The full verdict is in the audit store under the same ``trace_id``.
    """
    d = v.model_dump(mode="json")
    if v.decision in ("block", "escalate"):
        d["revised"] = None
        for p in d["principles"]:
            p["evidence"] = []
    return d


@dataclass
class Outcome:
    """What to do with one piece of output, given its verdict and the escalation policy."""

    verdict: Verdict
    stop: bool  # withhold it (blocked, held for review, or a revision that cannot be applied)
    held: bool = False
    flagged: bool = False


@dataclass
class Pending:
    """One case waiting to be judged, and where its verdict goes."""

    case: Case
    stage: str
    suffix: str
    extra: dict[str, Any] = field(default_factory=dict)


class Guard:
    """Holds the gate's worker, the audit writer and the metrics; judges cases for the routes."""

    def __init__(self, gate: Gate, config: ProxyConfig, writer: AuditWriter, metrics: Metrics,
                 spool: Spool | None = None) -> None:
        self.gate = gate
        self.config = config
        self.writer = writer
        self.metrics = metrics
        self.spool = spool
        self.worker = JudgeWorker(gate, timeout_s=config.judge_timeout_s)

    @property
    def hold(self) -> bool:
        return self.gate.charter.policy.escalate_hold

    def close(self) -> None:
        self.worker.close()

    # ------------------------------------------------------------------ judging
    async def judge(self, items: list[Pending], rid: str, *, commit: bool = True) -> list[Verdict]:
        """Verdicts for ``items`` with trace ids ``{rid}:{suffix}``; committed (audited) unless told otherwise."""
        if not items:
            return []
        t0 = time.perf_counter()
        raw = await self.worker.judge([p.case for p in items])
        dt = time.perf_counter() - t0
        for stage in {p.stage for p in items}:
            self.metrics.judge_seconds.labels(stage).observe(dt)
        out = [v.model_copy(update={"trace_id": f"{rid}:{p.suffix}"}) for p, v in zip(items, raw, strict=True)]
        if commit:
            await self.audited([self.commit(p.case, v, p.stage) for p, v in zip(items, out, strict=True)])
        return out

    def commit(self, case: Case, v: Verdict, stage: str, *, spool: bool = False) -> Future[None]:
        """Count, audit and (when escalated) queue one final verdict; the future is done when the
        record is written (await it with :meth:`audited` before releasing what it is about).

        With ``spool`` (a stream, which releases before its records are written) the record is
        first put in the durable spool (:mod:`accord.server.proxy.spool`) and marked done there
        once the store has it."""
        self.metrics.decision(v, stage)
        source, priority = f"proxy:{stage}", escalation_priority(v)
        sp = self.spool if spool else None
        if sp is not None:
            sp.put(v.trace_id, case, v, source, priority)
        fut = self.writer.record(case, v, source, priority)
        if sp is not None:
            key = v.trace_id
            fut.add_done_callback(lambda f: sp.done(key) if f.exception() is None else None)
        return fut

    async def audited(self, futures: list[Future[None]]) -> None:
        """Wait until these records are written; :class:`AuditUnavailable` (503, the answer withheld)
        when one cannot be, or is not within :data:`AUDIT_WAIT_S`."""
        if not futures:
            return
        try:
            await asyncio.wait_for(asyncio.gather(*(asyncio.wrap_future(f) for f in futures)), AUDIT_WAIT_S)
        except TimeoutError:
            raise AuditUnavailable(f"not written within {AUDIT_WAIT_S:.0f} s") from None
        except Exception as e:
            raise AuditUnavailable(f"{type(e).__name__}: {str(e)[:200]}") from None

    def unjudgeable(self, case: Case, reason: str, rid: str, suffix: str) -> Verdict:
        """A block verdict for output that cannot be judged (e.g. tool arguments that are not JSON)."""
        v = failed_verdict(self.gate, case, reason, decision="block")
        return v.model_copy(update={"trace_id": f"{rid}:{suffix}"})

    def outcome(self, v: Verdict, *, revisable: bool = True) -> Outcome:
        """Apply the escalation policy; a revise without a usable revision is treated as escalate."""
        d: Decision = v.decision
        if d == "revise" and (v.revised is None or not revisable):
            d = "escalate"
        if d == "block":
            return Outcome(v, stop=True)
        if d == "escalate":
            # ``escalate_hold: false`` lets through what a judge looked at and was unsure of, flagged;
            # never what no judge could look at (a judge failed or ran out of time): that is held
            hold = self.hold or bool(v.errors)
            return Outcome(v, stop=hold, held=hold, flagged=not hold)
        return Outcome(v, stop=False)

    # ------------------------------------------------------------------ cases
    def case(self, context: list[Message], action: str | ToolCall, meta: dict[str, Any], actor: str | None,
             community: str | None) -> Case:
        return Case(context=context, action=action, actor=actor, community=community, meta=meta)

    def input_cases(self, messages: list[dict[str, Any]], meta: dict[str, Any], actor: str | None,
                    community: str | None) -> list[Pending]:
        """The request's cases for the input gate: the messages :func:`new_input` names (system and
        developer messages anywhere, the current turn, assistant prefill included) and every tool
        call an assistant message in the request carries (its arguments are text the model reads)."""
        n = self.config.context_messages
        out = [Pending(self.case(context_of(messages[:i], n), message_text(messages[i].get("content")),
                                 {**meta, "stage": "input", "message": i}, actor, community), "input", f"in:{i}", {"message": i})
               for i in new_input(messages)]
        for i, m in enumerate(messages):
            if m.get("role") != "assistant":
                continue
            calls = [tc.get("function") for tc in m.get("tool_calls") or [] if isinstance(tc, dict)]
            if isinstance(m.get("function_call"), dict):
                calls.append(m["function_call"])
            for j, fn in enumerate(calls):
                if not isinstance(fn, dict):
                    continue
                name = str(fn.get("name") or "?")
                args = fn.get("arguments")
                args = args if isinstance(args, str) else json.dumps(args)
                parsed = parse_tool_call(name, args)
                action: str | ToolCall = parsed if isinstance(parsed, ToolCall) else f"call tool {name} with {args}"
                out.append(Pending(self.case(context_of(messages[:i], n), action,
                                             {**meta, "stage": "input", "message": i, "tool": j}, actor, community),
                                   "input", f"in:{i}:tool:{j}", {"message": i, "tool": j}))
        return out


def refusal_text(v: Verdict, *, stage: str, held: bool) -> str:
    """What the client reads in place of withheld output (no quote of the withheld text)."""
    principles = ", ".join(v.explanation.decisive) or ", ".join(p.id for p in v.principles if p.violated)
    why = f" ({principles})" if principles else ""
    ref = v.trace_id
    if stage == "input":
        if held:
            return f"This request is being held for review by a person before it is answered. Reference: {ref}."
        return f"This request was not sent to the model: it conflicts with this service's values{why}. Reference: {ref}."
    if held:
        return f"This response is being held for review by a person. Reference: {ref}."
    return f"This response was withheld: it conflicts with this service's values{why}. Reference: {ref}."


def tag(v: Verdict, stage: str, *, held: bool = False, flagged: bool = False) -> dict[str, Any]:
    """The ``accord`` object of a choice: the decision, and the verdict when it is not allow."""
    t: dict[str, Any] = {"decision": v.decision, "trace_id": v.trace_id, "held": held, "flagged": flagged, "stage": stage}
    t["verdict"] = client_view(v) if v.decision != "allow" else None
    return t


def completion_id(rid: str) -> str:
    return f"chatcmpl-accord-{rid[:24]}"


def refusal_completion(rid: str, model: str, v: Verdict, *, held: bool) -> dict[str, Any]:
    """A whole completion that says the request was refused or held (nothing went upstream)."""
    text = refusal_text(v, stage="input", held=held)
    return {
        "id": completion_id(rid),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": text},
                     "finish_reason": "content_filter", "logprobs": None,
                     "accord": tag(v, "input", held=held)}],
        "usage": None,
        "accord": {"decision": v.decision, "trace_id": rid, "held": held, "flagged": False, "stage": "input", "verdict": None},
    }


def new_trace_id() -> str:
    return uuid.uuid4().hex
