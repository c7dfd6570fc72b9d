"""The proxy's judging logic: cases from chat requests and completions, verdicts applied to them.

Everything the upstream says passes through a whitelist before it can reach the client: the
message's ``role``, ``content``, ``refusal`` and ``tool_calls`` (each judged), and the response's
``id``, ``created``, ``model``, ``system_fingerprint``, ``service_tier`` and ``usage``. Other fields
(``logprobs``, ``reasoning_content``, vendor extras) are dropped, because they carry text that
nobody judged.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from accord.gate.gate import Gate
from accord.server.proxy.config import ProxyConfig
from accord.server.proxy.judging import (
    JudgeWorker,
    context_of,
    failed_verdict,
    message_text,
    new_input,
)
from accord.server.proxy.metrics import Metrics
from accord.server.proxy.sinks import AuditWriter
from accord.types import DECISION_ORDER, Case, Decision, Message, ToolCall, Verdict

TOP_FIELDS = ("id", "created", "model", "system_fingerprint", "service_tier", "usage")


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

    def __init__(self, gate: Gate, config: ProxyConfig, writer: AuditWriter, metrics: Metrics) -> None:
        self.gate = gate
        self.config = config
        self.writer = writer
        self.metrics = metrics
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
            for p, v in zip(items, out, strict=True):
                self.commit(p.case, v, p.stage)
        return out

    def commit(self, case: Case, v: Verdict, stage: str) -> None:
        """Count, audit and (when escalated) queue one final verdict."""
        self.metrics.decision(v, stage)
        self.writer.record(case, v, f"proxy:{stage}")
        if v.decision == "escalate":
            self.writer.enqueue_review(case, v, v.risk)

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
            return Outcome(v, stop=self.hold, held=self.hold, flagged=not self.hold)
        return Outcome(v, stop=False)

    # ------------------------------------------------------------------ cases
    def case(self, context: list[Message], action: str | ToolCall, meta: dict[str, Any], actor: str | None,
             community: str | None) -> Case:
        return Case(context=context, action=action, actor=actor, community=community, meta=meta)

    def input_cases(self, messages: list[dict[str, Any]], meta: dict[str, Any], actor: str | None,
                    community: str | None) -> list[Pending]:
        n = self.config.context_messages
        return [Pending(self.case(context_of(messages[:i], n), message_text(messages[i].get("content")),
                                  {**meta, "stage": "input", "message": i}, actor, community), "input", f"in:{i}", {"message": i})
                for i in new_input(messages)]


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
