"""Streaming: forward a completion while judging the growing text at sentence boundaries.

The invariant: **no text reaches the client before a verdict has covered it.** The upstream's
text is held; at every ``window``-th sentence boundary the gate judges the *whole* text so far,
and only then is the text up to that boundary released. Because each judgment sees everything
before the boundary, where the boundary falls only changes latency, never safety. At the end the
rest is judged with the whole response, then tool calls (held until complete) are judged, and only
then sent, each in one piece. A block stops the choice with ``finish_reason: "content_filter"``
and an ``accord`` object; text already released stays released (it was judged acceptable).

Latency trade-off: a client sees text one window later than the upstream produced it, plus one
judgment (a rules-only gate: well under a millisecond; the value model: a few milliseconds). A
window of 1 sentence gives the earliest text and the most judgments (each over a longer prefix);
a larger window gives fewer judgments and coarser chunks; 0 holds the whole response.

Upstream faults mid-stream (a broken connection, silence past the read time-out, a chunk that is
not JSON) end the stream with an OpenAI error event; text still held is dropped, never released.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import httpx

from accord.server.proxy.guard import (
    Guard,
    Outcome,
    Pending,
    refusal_text,
    safe_field,
    safe_finish_reason,
    safe_usage,
    strictest,
    tag,
)
from accord.server.proxy.judging import parse_tool_call, revised_tool_arguments
from accord.server.proxy.upstream import UpstreamError, malformed, sse_events
from accord.types import DECISION_ORDER, Message, Verdict

# a sentence ends at . ! ? … (and CJK stops), optionally followed by closing quotes/brackets, then
# whitespace; or at a line break
_BOUNDARY = re.compile(r"(?:[.!?…。！？][\"'”’)\]]*\s+|\n+)")


def sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode("utf-8", "replace") + b"\n\n"


DONE = b"data: [DONE]\n\n"


@dataclass
class ChoiceState:
    index: int
    text: str = ""  # everything the upstream sent
    judged: int = 0  # text[:judged] has a verdict
    scanned: int = 0  # boundaries before this offset are counted
    sentences: int = 0  # boundaries seen since the last judgment
    out: str = ""  # what the client has received (after revisions)
    refusal: str = ""
    tools: dict[int, dict[str, Any]] = field(default_factory=dict)
    legacy_fn: dict[str, Any] | None = None
    finish: str | None = None
    role_sent: bool = False
    done: bool = False
    cut: bool = False  # stopped by the gate (the rest of the upstream's answer is not needed)
    last: Verdict | None = None  # verdict of text[:judged]
    worst: Verdict | None = None  # strictest verdict seen for the text (what is audited)
    flagged: bool = False


class StreamGuard:
    """Turns the upstream's SSE stream into the judged stream the client receives."""

    def __init__(self, guard: Guard, resp: httpx.Response, *, rid: str, context: list[Message], meta: dict[str, Any],
                 actor: str | None, community: str | None, n: int, input_flag: Verdict | None) -> None:
        self.g = guard
        self.resp = resp
        self.rid = rid
        self.context = context
        self.meta = meta
        self.actor = actor
        self.community = community
        self.n = max(1, n)
        self.window = guard.config.stream_window
        self.max_chars = guard.config.stream_max_chars
        self.states: dict[int, ChoiceState] = {}
        self._audit: list[Future[None]] = []  # the stream's audit records, awaited before it completes
        self.head: dict[str, Any] = {"id": f"chatcmpl-accord-{rid[:24]}", "object": "chat.completion.chunk",
                                     "created": int(time.time()), "model": str(meta.get("model", ""))}
        self.input_flag = input_flag

    # ------------------------------------------------------------------ output
    def chunk(self, idx: int, delta: dict[str, Any], finish: str | None = None, accord: dict[str, Any] | None = None) -> bytes:
        c: dict[str, Any] = {"index": idx, "delta": delta, "logprobs": None, "finish_reason": finish}
        if accord is not None:
            c["accord"] = accord
        return sse({**self.head, "choices": [c]})

    def _case(self, action: Any, extra: dict[str, Any]) -> Any:
        return self.g.case(self.context, action, {**self.meta, **extra}, self.actor, self.community)

    # ------------------------------------------------------------------ the stream
    async def run(self) -> AsyncIterator[bytes]:
        """The client's stream. What one upstream event produces goes out in one write."""
        usage: dict[str, Any] | None = None
        out: list[bytes] = []
        try:
            async for obj in sse_events(self.resp, self.g.config.base):
                if obj is None:
                    break
                for k in ("id", "created", "model", "system_fingerprint"):
                    if k in obj and safe_field(k, obj[k]) is not None:  # identifiers and counts only, never text
                        self.head[k] = obj[k]
                choices = obj.get("choices")
                if not isinstance(choices, list):
                    raise malformed(self.g.config.base, "a stream chunk without a 'choices' list")
                if isinstance(obj.get("usage"), dict):
                    usage = safe_usage(obj["usage"])
                for pos, ch in enumerate(choices):
                    if not isinstance(ch, dict):
                        raise malformed(self.g.config.base, "a stream choice that is not an object")
                    idx = ch.get("index", pos)
                    if not isinstance(idx, int) or isinstance(idx, bool):
                        raise malformed(self.g.config.base, "a stream choice with a non-integer index")
                    st = self.states.get(idx)
                    if st is None:
                        st = self.states[idx] = ChoiceState(idx)
                    if st.done:
                        continue
                    if not st.role_sent:
                        st.role_sent = True
                        out.append(self.chunk(idx, {"role": "assistant", "content": ""}))
                    self._absorb(st, ch)
                    async for b in self._advance(st):
                        out.append(b)
                    if st.finish is not None:
                        async for b in self._finish(st):
                            out.append(b)
                if out:
                    yield b"".join(out)
                    out = []
                if len(self.states) >= self.n and all(s.cut for s in self.states.values()):
                    break  # every choice was stopped: stop reading the upstream
            for st in list(self.states.values()):
                if not st.done:
                    async for b in self._finish(st):
                        out.append(b)
            if usage is not None:
                out.append(sse({**self.head, "choices": [], "usage": usage}))
            await self.g.audited(self._audit)  # the stream completes only once its decisions are recorded
            out.append(DONE)
            yield b"".join(out)
        except UpstreamError as e:
            self.g.metrics.upstream_errors.labels(e.kind).inc()
            yield sse(e.body())  # text still held (in ``out`` or not yet judged) is dropped
        finally:
            await self.resp.aclose()

    def _absorb(self, st: ChoiceState, ch: dict[str, Any]) -> None:
        base = self.g.config.base
        delta = ch.get("delta") or {}
        if not isinstance(delta, dict):
            raise malformed(base, "a stream delta that is not an object")
        content = delta.get("content")
        if isinstance(content, str):
            st.text += content
        elif content is not None:
            raise malformed(base, "a stream delta whose content is not text")
        if isinstance(delta.get("refusal"), str):
            st.refusal += delta["refusal"]
        for tc in delta.get("tool_calls") or []:
            if not isinstance(tc, dict):
                raise malformed(base, "a tool-call delta that is not an object")
            j = tc.get("index", 0)
            if not isinstance(j, int):
                raise malformed(base, "a tool-call delta with a non-integer index")
            acc = st.tools.setdefault(j, {"id": None, "name": "", "arguments": ""})
            if safe_field("id", tc.get("id")) is not None:
                acc["id"] = tc["id"]
            fn = tc.get("function") or {}
            if isinstance(fn.get("name"), str):
                acc["name"] += fn["name"]
            if isinstance(fn.get("arguments"), str):
                acc["arguments"] += fn["arguments"]
        fc = delta.get("function_call")
        if isinstance(fc, dict):
            acc = st.legacy_fn = st.legacy_fn or {"name": "", "arguments": ""}
            acc["name"] += fc.get("name") or ""
            acc["arguments"] += fc.get("arguments") or ""
        fr = safe_finish_reason(ch.get("finish_reason"))
        if fr:
            st.finish = fr

    # ------------------------------------------------------------------ judging the text
    def _next_cut(self, st: ChoiceState) -> int | None:
        """Where to judge next: after ``window`` sentences, or a long run without a boundary."""
        if self.window == 0:
            return None
        for m in _BOUNDARY.finditer(st.text, st.scanned):
            st.scanned = m.end()
            st.sentences += 1
            if st.sentences >= self.window:
                return m.end()
        if len(st.text) - st.judged > self.max_chars:
            sp = st.text.rfind(" ", st.judged + 1)
            return sp if sp > st.judged else len(st.text)
        return None

    async def _advance(self, st: ChoiceState) -> AsyncIterator[bytes]:
        while not st.done:
            cut = self._next_cut(st)
            if cut is None or cut <= st.judged:
                return
            st.sentences = 0
            v = (await self.g.judge([Pending(self._case(st.text[:cut], {"stage": "output", "choice": st.index,
                                                                              "partial": True}), "output", f"out:{st.index}")],
                                    self.rid, commit=False))[0]
            async for b in self._release(st, cut, v):
                yield b

    async def _release(self, st: ChoiceState, cut: int, v: Verdict) -> AsyncIterator[bytes]:
        """Apply a verdict on ``text[:cut]``: release the new part, or stop the choice."""
        st.judged, st.last = cut, v
        if st.worst is None or DECISION_ORDER[v.decision] > DECISION_ORDER[st.worst.decision]:
            st.worst = v
        o = self.g.outcome(v)
        if not o.stop:
            target = v.revised if v.decision == "revise" and v.revised is not None else st.text[:cut]
            if not target.startswith(st.out):
                # a revision reaches into text the client already has: it cannot be applied
                o = Outcome(v, stop=True)
            else:
                st.flagged = st.flagged or o.flagged
                new = target[len(st.out):]
                st.out = target
                if new:
                    yield self.chunk(st.index, {"content": new})
                return
        async for b in self._stop(st, o, "output"):
            yield b

    async def _stop(self, st: ChoiceState, o: Outcome, stage: str) -> AsyncIterator[bytes]:
        st.done = st.cut = True
        self._audit.append(self.g.commit(self._case(st.text[:st.judged] if stage == "output" else st.text,
                                 {"stage": stage, "choice": st.index}), o.verdict, stage))
        text = refusal_text(o.verdict, stage=stage, held=o.held)
        yield self.chunk(st.index, {"content": ("\n\n" if st.out else "") + text, "refusal": text}, "content_filter",
                         tag(o.verdict, stage, held=o.held))

    # ------------------------------------------------------------------ the end of a choice
    async def _finish(self, st: ChoiceState) -> AsyncIterator[bytes]:
        items: list[Pending] = []
        if st.text and (st.judged < len(st.text) or st.last is None):
            items.append(Pending(self._case(st.text, {"stage": "output", "choice": st.index}), "output",
                                 f"out:{st.index}", {"what": "content"}))
        if st.refusal:
            items.append(Pending(self._case(st.refusal, {"stage": "output", "choice": st.index, "field": "refusal"}),
                                 "output", f"out:{st.index}:refusal", {"what": "refusal"}))
        calls: list[tuple[int, dict[str, Any]]] = sorted(st.tools.items())
        if st.legacy_fn is not None:
            calls.append((-1, {"id": None, **st.legacy_fn}))
        unjudgeable: list[tuple[int, Verdict, Any]] = []
        for j, acc in calls:
            parsed = parse_tool_call(acc["name"], acc["arguments"])
            suffix = f"tool:{st.index}:{j if j >= 0 else 'fn'}"
            if isinstance(parsed, str):
                case = self._case(f"call tool {acc['name']}", {"stage": "tool", "choice": st.index, "tool": j})
                unjudgeable.append((j, self.g.unjudgeable(case, parsed, self.rid, suffix), case))
            else:
                items.append(Pending(self._case(parsed, {"stage": "tool", "choice": st.index, "tool": j}), "tool",
                                     suffix, {"what": "tool", "j": j}))
        verdicts = await self.g.judge(items, self.rid, commit=False)

        # the text: release the rest (or stop), as at any boundary
        content_v = next((v for p, v in zip(items, verdicts, strict=True) if p.extra["what"] == "content"), None)
        if content_v is not None:
            async for b in self._release(st, len(st.text), content_v):
                yield b
            if st.done:
                return
        if st.text and st.worst is not None:
            self._audit.append(self.g.commit(self._case(st.text, {"stage": "output", "choice": st.index}), st.worst, "output"))

        others: list[tuple[str, int, Verdict, Any]] = [
            (p.extra["what"], p.extra.get("j", 0), v, p.case) for p, v in zip(items, verdicts, strict=True) if p.extra["what"] != "content"]
        others += [("tool", j, v, case) for j, v, case in unjudgeable]
        outcomes = []
        for what, j, v, case in others:
            revisable = True
            if what == "tool" and v.decision == "revise":
                name = st.legacy_fn["name"] if j == -1 and st.legacy_fn else st.tools[j]["name"]
                revisable = revised_tool_arguments(v, name) is not None
            outcomes.append((what, j, self.g.outcome(v, revisable=revisable), case))
        stops = [(w, o) for w, _, o, _ in outcomes if o.stop]
        if stops:
            w, o = max(stops, key=lambda x: DECISION_ORDER[x[1].verdict.decision])
            for what, _, oo, case in outcomes:
                if oo is not o:
                    self._audit.append(self.g.commit(case, oo.verdict, "tool" if what == "tool" else "output"))
            st.done = st.cut = True
            stage = "tool" if w == "tool" else "output"
            case = next(c for _, _, oo, c in outcomes if oo is o)
            self._audit.append(self.g.commit(case, o.verdict, stage))
            text = refusal_text(o.verdict, stage=stage, held=o.held)
            yield self.chunk(st.index, {"content": ("\n\n" if st.out else "") + text, "refusal": text}, "content_filter",
                             tag(o.verdict, stage, held=o.held))
            return
        for what, _, o, case in outcomes:
            self._audit.append(self.g.commit(case, o.verdict, "tool" if what == "tool" else "output"))

        # everything passed: send the refusal text and the tool calls whole, then the finish
        for what, _, o, _ in outcomes:
            if what == "refusal":
                v = o.verdict
                yield self.chunk(st.index, {"refusal": v.revised if v.decision == "revise" and v.revised else st.refusal})
        deltas = []
        for what, j, o, _ in outcomes:
            if what != "tool":
                continue
            call = st.legacy_fn if j == -1 else st.tools[j]
            assert call is not None
            args = call["arguments"]
            if o.verdict.decision == "revise":
                args = revised_tool_arguments(o.verdict, call["name"]) or args
            if j == -1:
                yield self.chunk(st.index, {"function_call": {"name": call["name"], "arguments": args}})
            else:
                deltas.append({"index": j, "id": call["id"] or f"call_{self.rid[:8]}_{j}", "type": "function",
                               "function": {"name": call["name"], "arguments": args}})
        if deltas:
            yield self.chunk(st.index, {"tool_calls": deltas})
        st.flagged = st.flagged or any(o.flagged for _, _, o, _ in outcomes)
        st.done = True
        worst = strictest([v for v in [st.worst, *(o.verdict for _, _, o, _ in outcomes)] if v is not None])
        accord = None
        if worst is not None:
            stage = "tool" if any(o.verdict is worst for w, _, o, _ in outcomes if w == "tool") else "output"
            accord = tag(worst, stage, flagged=st.flagged)
        yield self.chunk(st.index, {}, st.finish or "stop", accord)
