"""Streaming: forward a completion while judging the growing text at sentence boundaries.

The invariant: **no text reaches the client before a verdict has covered it.** The upstream's
text is held; at every ``window``-th sentence boundary the gate judges the new text together with
the text just before it (up to ``stream_overlap_chars``, so a phrase across the boundary is seen
whole), and only then is the text up to that boundary released. At the end the rest is judged the
same way *and the whole response once* (what only the whole shows stops the rest, and is what the
audit record carries), then tool calls (held until complete) are judged, and only then sent, each
in one piece. A block stops the choice with ``finish_reason: "content_filter"`` and an ``accord``
object; text already released stays released (it was judged acceptable).

Cost: each judgment reads a bounded window, and the text is kept as a list of pieces (never
copied whole per chunk), so judging a streamed answer is linear in its length (judging the whole
text so far at every boundary, as before, was quadratic: 96 KB took a minute). An answer longer
than ``max_output_chars`` is not judged at all: the choice stops with a block that says so.

Latency trade-off: a client sees text one window later than the upstream produced it, plus one
judgment (a rules-only gate: well under a millisecond; the value model: a few milliseconds). A
window of 1 sentence gives the earliest text and the most judgments; a larger window gives fewer
judgments and coarser chunks; 0 holds the whole response.

Upstream faults mid-stream (a broken connection, silence past the read time-out, a chunk that is
not JSON) end the stream with an OpenAI error event; text still held is dropped, never released.
What was released is recorded, and held in the durable spool (:mod:`accord.server.proxy.spool`)
until the store has it.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import httpx

from accord.review.audit import escalation_priority
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
from accord.server.proxy.judging import failed_verdict, parse_tool_call, revised_tool_arguments
from accord.server.proxy.upstream import UpstreamError, malformed, sse_events
from accord.types import DECISION_ORDER, Case, Message, Verdict

# a sentence ends at . ! ? … (and CJK stops), optionally followed by closing quotes/brackets, then
# whitespace; or at a line break
_BOUNDARY = re.compile(r"(?:[.!?…。！？][\"'”’)\]]*\s+|\n+)")
_BOUNDARY_SPAN = 16  # a boundary not yet complete starts at most this far before the end


def sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode("utf-8", "replace") + b"\n\n"


DONE = b"data: [DONE]\n\n"


class TextBuffer:
    """A growing text kept as pieces: appending and reading a slice cost the pieces touched, never
    a copy of everything so far (``text += piece`` on an attribute copies it all every time)."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._starts: list[int] = []
        self._n = 0

    def add(self, piece: str) -> None:
        if piece:
            self._parts.append(piece)
            self._starts.append(self._n)
            self._n += len(piece)

    def __len__(self) -> int:
        return self._n

    def slice(self, a: int, b: int | None = None) -> str:
        b = self._n if b is None else min(b, self._n)
        a = max(0, a)
        if a >= b:
            return ""
        i = bisect.bisect_right(self._starts, a) - 1
        out = []
        while i < len(self._parts) and self._starts[i] < b:
            s0 = self._starts[i]
            out.append(self._parts[i][max(0, a - s0):b - s0])
            i += 1
        return "".join(out)

    def whole(self) -> str:
        if len(self._parts) > 1:
            self._parts, self._starts = ["".join(self._parts)], [0]
        return self._parts[0] if self._parts else ""


@dataclass
class ChoiceState:
    index: int
    buf: TextBuffer = field(default_factory=TextBuffer)  # everything the upstream sent
    judged: int = 0  # text[:judged] has a verdict (and is released, unless the choice stopped)
    scanned: int = 0  # boundaries before this offset are counted
    sentences: int = 0  # boundaries seen since the last judgment
    released: int = 0  # characters of content the client has received
    refusal: list[str] = field(default_factory=list)
    tools: dict[int, dict[str, Any]] = field(default_factory=dict)  # name and arguments as lists of pieces
    legacy_fn: dict[str, Any] | None = None
    size: int = 0  # characters received for this choice (content, refusal, tool calls)
    finish: str | None = None
    role_sent: bool = False
    done: bool = False
    cut: bool = False  # stopped by the gate (the rest of the upstream's answer is not needed)
    last: Verdict | None = None  # verdict of the last window
    last_case: Case | None = None  # the case it was given
    worst: Verdict | None = None  # strictest verdict seen for the text (what is audited)
    flagged: bool = False
    committed: bool = False  # the text's record is queued for the store (and held in the spool)
    spooled: int = 0  # text[:spooled] is in the spool (released, its record not yet in the store)
    spool_v: Verdict | None = None  # the verdict the spool holds for it

    @property
    def text(self) -> str:
        return self.buf.whole()


def _shift(v: Verdict, base: int) -> Verdict:
    """A window's verdict with its action evidence placed in the whole text (``base``: the window's start)."""
    if base == 0 or not any(e.field == "action" and e.start is not None for p in v.principles for e in p.evidence):
        return v
    principles = []
    for p in v.principles:
        ev = [e.model_copy(update={"start": e.start + base, "end": None if e.end is None else e.end + base})
              if e.field == "action" and e.start is not None else e for e in p.evidence]
        principles.append(p.model_copy(update={"evidence": ev}))
    return v.model_copy(update={"principles": principles})


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
        self.overlap = guard.config.stream_overlap_chars
        self.max_output = guard.config.max_output_chars
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
    async def _read(self, q: asyncio.Queue[Any]) -> None:
        """Read the upstream's events into ``q``; ``None`` ends it ([DONE] or the end of the
        connection), an :class:`UpstreamError` is a fault."""
        try:
            async for obj in sse_events(self.resp, self.g.config.base):
                await q.put(obj)
                if obj is None:
                    return
            await q.put(None)  # cut without [DONE]: the rest is judged like any end
        except UpstreamError as e:
            await q.put(e)
        except Exception as e:  # never leave the stream waiting
            await q.put(malformed(self.g.config.base, f"reading the stream failed ({type(e).__name__})"))

    def _take(self, obj: dict[str, Any], out: list[bytes], touched: dict[int, ChoiceState]) -> dict[str, Any] | None:
        """Absorb one upstream event; returns its usage, if it carries one."""
        for k in ("id", "created", "model", "system_fingerprint"):
            if k in obj and safe_field(k, obj[k]) is not None:  # identifiers and counts only, never text
                self.head[k] = obj[k]
        choices = obj.get("choices")
        if not isinstance(choices, list):
            raise malformed(self.g.config.base, "a stream chunk without a 'choices' list")
        for pos, ch in enumerate(choices):
            if not isinstance(ch, dict):
                raise malformed(self.g.config.base, "a stream choice that is not an object")
            idx = ch.get("index", pos)
            if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < self.n:
                raise malformed(self.g.config.base, f"a stream choice whose index is not an integer from 0 "
                                                    f"to {self.n - 1} (the request's n)")
            st = self.states.get(idx)
            if st is None:
                st = self.states[idx] = ChoiceState(idx)
            if st.done:
                continue
            if not st.role_sent:
                st.role_sent = True
                out.append(self.chunk(idx, {"role": "assistant", "content": ""}))
            self._absorb(st, ch)
            touched[idx] = st
        return safe_usage(obj["usage"]) if isinstance(obj.get("usage"), dict) else None

    async def run(self) -> AsyncIterator[bytes]:
        """The client's stream.

        A reader task queues the upstream's events; each round takes every event waiting, then
        judges each choice once up to its last complete sentence. When the upstream is faster
        than the judge, text gathers into fewer, longer windows (the judge keeps up with any
        upstream, at the cost of coarser chunks); when it is slower, each sentence is judged
        and released as it comes.
        """
        usage: dict[str, Any] | None = None
        out: list[bytes] = []
        q: asyncio.Queue[Any] = asyncio.Queue(maxsize=1024)
        reader = asyncio.create_task(self._read(q))
        try:
            ended = False
            while not ended:
                batch = [await q.get()]
                while len(batch) < 1024:
                    try:
                        batch.append(q.get_nowait())
                    except asyncio.QueueEmpty:
                        break
                touched: dict[int, ChoiceState] = {}
                fault: UpstreamError | None = None
                for obj in batch:
                    if obj is None or isinstance(obj, UpstreamError):
                        ended, fault = True, obj
                        break
                    usage = self._take(obj, out, touched) or usage
                for st in touched.values():
                    if st.done:
                        continue
                    async for b in self._advance(st):
                        out.append(b)
                    if st.finish is not None and not st.done:
                        async for b in self._finish(st):
                            out.append(b)
                if out:
                    yield b"".join(out)
                    out = []
                if fault is not None:
                    raise fault
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
            # what was released before the fault is recorded (text still held is dropped, never sent)
            self._commit_released("the upstream failed mid-stream")
            with contextlib.suppress(UpstreamError):
                await self.g.audited(self._audit)  # a record that cannot be written stays in the spool
            yield sse(e.body())
        finally:
            # the client went away (or anything else ended the stream early): what it already has is recorded
            self._commit_released("the stream ended early")
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
            await self.resp.aclose()

    def _commit(self, st: ChoiceState | None, case: Any, v: Verdict, stage: str) -> None:
        """Queue one record of this stream (held in the spool until the store has it)."""
        if st is not None and stage == "output":
            st.committed = True
        self._audit.append(self.g.commit(case, v, stage, spool=True))

    def _commit_released(self, why: str) -> None:
        """Record every choice whose text was partly released but not yet recorded."""
        for st in self.states.values():
            if st.released and not st.committed and st.worst is not None:
                self._commit(st, self._case(st.buf.slice(0, st.judged), {"stage": "output", "choice": st.index,
                                                                         "interrupted": why}), st.worst, "output")

    def _spool_release(self, st: ChoiceState, cut: int) -> None:
        """Before ``text[:cut]`` is released: put it in the durable spool with its strictest verdict."""
        sp = self.g.spool
        if sp is None or st.worst is None or cut <= st.spooled:
            return
        key = f"{self.rid}:out:{st.index}"
        v = st.worst if st.worst.trace_id == key else st.worst.model_copy(update={"trace_id": key})
        if st.spooled == 0:
            sp.put(key, self._case(st.buf.slice(0, cut), {"stage": "output", "choice": st.index}), v, "proxy:output",
                   escalation_priority(v))
        else:
            changed = st.spool_v is not st.worst
            sp.extend(key, st.buf.slice(st.spooled, cut), v if changed else None,
                      escalation_priority(v) if changed else None)
        st.spooled, st.spool_v = cut, st.worst

    def _absorb(self, st: ChoiceState, ch: dict[str, Any]) -> None:
        base = self.g.config.base
        delta = ch.get("delta") or {}
        if not isinstance(delta, dict):
            raise malformed(base, "a stream delta that is not an object")
        content = delta.get("content")
        if isinstance(content, str):
            st.buf.add(content)
            st.size += len(content)
        elif content is not None:
            raise malformed(base, "a stream delta whose content is not text")
        if isinstance(delta.get("refusal"), str):
            st.refusal.append(delta["refusal"])
            st.size += len(delta["refusal"])
        for tc in delta.get("tool_calls") or []:
            if not isinstance(tc, dict):
                raise malformed(base, "a tool-call delta that is not an object")
            j = tc.get("index", 0)
            if not isinstance(j, int) or isinstance(j, bool) or not 0 <= j < 128:
                raise malformed(base, "a tool-call delta whose index is not an integer from 0 to 127")
            acc = st.tools.setdefault(j, {"id": None, "name": [], "arguments": []})
            if safe_field("id", tc.get("id")) is not None:
                acc["id"] = tc["id"]
            fn = tc.get("function") or {}
            if not isinstance(fn, dict):
                raise malformed(base, "a tool-call delta whose function is not an object")
            for k in ("name", "arguments"):
                if isinstance(fn.get(k), str):
                    acc[k].append(fn[k])
                    st.size += len(fn[k])
        fc = delta.get("function_call")
        if isinstance(fc, dict):
            acc = st.legacy_fn = st.legacy_fn or {"name": [], "arguments": []}
            for k in ("name", "arguments"):
                if isinstance(fc.get(k), str):
                    acc[k].append(fc[k])
                    st.size += len(fc[k])
        fr = safe_finish_reason(ch.get("finish_reason"))
        if fr:
            st.finish = fr

    # ------------------------------------------------------------------ judging the text
    def _next_cut(self, st: ChoiceState) -> int | None:
        """Where to judge next: after ``window`` sentences, or a long run without a boundary."""
        if self.window == 0:
            return None
        n = len(st.buf)
        start = st.scanned
        cut = None
        for m in _BOUNDARY.finditer(st.buf.slice(start, n)):
            st.scanned = start + m.end()
            st.sentences += 1
            if st.sentences >= self.window:
                cut = st.scanned  # the last complete sentence held: one judgment for all that waits
        st.scanned = max(st.scanned, n - _BOUNDARY_SPAN)  # never scan the same text twice
        if cut is not None:
            return cut
        if n - st.judged > self.max_chars:
            sp = st.buf.slice(st.judged + 1, n).rfind(" ")
            return st.judged + 1 + sp if sp >= 0 else n
        return None

    def _window(self, st: ChoiceState, cut: int) -> tuple[int, str]:
        """The text a judgment of ``text[judged:cut]`` reads: it, and up to ``overlap`` characters
        before it (from a word start)."""
        start = max(0, st.judged - self.overlap)
        if start > 0:
            before = st.buf.slice(start, st.judged)
            sp = before.find(" ")
            start = start + sp + 1 if 0 <= sp < len(before) - 1 else st.judged
        return start, st.buf.slice(start, cut)

    async def _judge_window(self, st: ChoiceState, cut: int, *, partial: bool) -> tuple[Verdict, Case, str | None]:
        """The verdict on ``text[judged:cut]`` (read with the text just before it), its case, and the
        text to release for it (``None``: a revision that cannot be applied to what was released)."""
        start, window = self._window(st, cut)
        extra = {"stage": "output", "choice": st.index, **({"partial": True} if partial else {})}
        case = self._case(window, extra)
        v = (await self.g.judge([Pending(case, "output", f"out:{st.index}")], self.rid, commit=False))[0]
        new: str | None = st.buf.slice(st.judged, cut)
        if v.decision == "revise" and v.revised is not None:
            overlap = window[:st.judged - start]
            if v.revised.startswith(overlap):
                new = v.revised[len(overlap):]
            else:  # the revision reaches into released text: judge the new text alone
                alone = self._case(new, extra)
                v2 = (await self.g.judge([Pending(alone, "output", f"out:{st.index}")], self.rid, commit=False))[0]
                if v2.decision == "revise" and v2.revised is not None:
                    new = v2.revised
                elif v2.decision != "allow":
                    return v2, alone, None
                return (v2 if v2.decision == "revise" else v), alone, new
            return _shift(v, start), case, new
        return _shift(v, start), case, new

    def _too_long(self, st: ChoiceState) -> Verdict | None:
        if st.size <= self.max_output:
            return None
        case = self._case(st.buf.slice(st.judged, st.judged + 2000), {"stage": "output", "choice": st.index})
        v = failed_verdict(self.g.gate, case, f"the answer is over {self.max_output:,} characters, the most this "
                           "proxy judges (max_output_chars)", decision="block")
        st.last_case = case
        return v.model_copy(update={"trace_id": f"{self.rid}:out:{st.index}"})

    async def _advance(self, st: ChoiceState) -> AsyncIterator[bytes]:
        while not st.done:
            big = self._too_long(st)
            if big is not None:
                async for b in self._stop(st, Outcome(big, stop=True), "output"):
                    yield b
                return
            cut = self._next_cut(st)
            if cut is None or cut <= st.judged:
                return
            st.sentences = 0
            v, case, new = await self._judge_window(st, cut, partial=True)
            async for b in self._release(st, cut, v, case, new):
                yield b

    async def _release(self, st: ChoiceState, cut: int, v: Verdict, case: Case, new: str | None) -> AsyncIterator[bytes]:
        """Apply a verdict on ``text[judged:cut]``: release ``new`` (its text, or its revision), or stop."""
        st.last, st.last_case = v, case
        if st.worst is None or DECISION_ORDER[v.decision] > DECISION_ORDER[st.worst.decision]:
            st.worst = v
        o = self.g.outcome(v)
        if not o.stop and new is None:
            o = Outcome(v, stop=True)  # a revision that cannot be applied
        if o.stop:
            async for b in self._stop(st, o, "output"):
                yield b
            return
        st.judged = cut
        st.flagged = st.flagged or o.flagged
        if new:
            self._spool_release(st, cut)
            st.released += len(new)
            yield self.chunk(st.index, {"content": new})

    async def _stop(self, st: ChoiceState, o: Outcome, stage: str) -> AsyncIterator[bytes]:
        st.done = st.cut = True
        case = st.last_case if stage == "output" and st.last_case is not None else \
            self._case(st.buf.slice(0, st.judged), {"stage": stage, "choice": st.index})
        self._commit(st, case, o.verdict, stage)
        text = refusal_text(o.verdict, stage=stage, held=o.held)
        yield self.chunk(st.index, {"content": ("\n\n" if st.released else "") + text, "refusal": text}, "content_filter",
                         tag(o.verdict, stage, held=o.held))

    # ------------------------------------------------------------------ the end of a choice
    async def _finish(self, st: ChoiceState) -> AsyncIterator[bytes]:
        big = self._too_long(st)
        if big is not None:
            async for b in self._stop(st, Outcome(big, stop=True), "output"):
                yield b
            return
        n = len(st.buf)
        # the rest of the text, judged as any window, and released; then the whole text once
        if n and (st.judged < n or st.last is None):
            v, case, new = await self._judge_window(st, n, partial=False)
            async for b in self._release(st, n, v, case, new):
                yield b
            if st.done:
                return
        items: list[Pending] = []
        if n and st.last_case is not None and st.last_case.action != st.text:
            items.append(Pending(self._case(st.text, {"stage": "output", "choice": st.index}), "output",
                                 f"out:{st.index}", {"what": "whole"}))
        refusal = "".join(st.refusal)
        if refusal:
            items.append(Pending(self._case(refusal, {"stage": "output", "choice": st.index, "field": "refusal"}),
                                 "output", f"out:{st.index}:refusal", {"what": "refusal"}))
        calls: list[tuple[int, dict[str, Any]]] = [
            (j, {"id": acc["id"], "name": "".join(acc["name"]), "arguments": "".join(acc["arguments"])})
            for j, acc in sorted(st.tools.items())]
        if st.legacy_fn is not None:
            calls.append((-1, {"id": None, "name": "".join(st.legacy_fn["name"]),
                               "arguments": "".join(st.legacy_fn["arguments"])}))
        call_of = dict(calls)
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

        # the whole text: what only the whole shows stops the choice here (nothing more is released)
        whole_v = next((v for p, v in zip(items, verdicts, strict=True) if p.extra["what"] == "whole"), None)
        if whole_v is not None:
            wo = self.g.outcome(whole_v)
            if DECISION_ORDER[whole_v.decision] > DECISION_ORDER[st.worst.decision if st.worst else "allow"]:
                st.worst = whole_v
                st.last_case = self._case(st.text, {"stage": "output", "choice": st.index})
            if wo.stop and whole_v.decision != "revise":
                async for b in self._stop(st, wo, "output"):
                    yield b
                return
            st.flagged = st.flagged or wo.flagged
        if n and st.worst is not None:
            self._commit(st, self._case(st.text, {"stage": "output", "choice": st.index}), st.worst, "output")

        others: list[tuple[str, int, Verdict, Any]] = [
            (p.extra["what"], p.extra.get("j", 0), v, p.case) for p, v in zip(items, verdicts, strict=True)
            if p.extra["what"] not in ("content", "whole")]
        others += [("tool", j, v, case) for j, v, case in unjudgeable]
        outcomes = []
        for what, j, v, case in others:
            revisable = True
            if what == "tool" and v.decision == "revise":
                revisable = revised_tool_arguments(v, call_of[j]["name"]) is not None
            outcomes.append((what, j, self.g.outcome(v, revisable=revisable), case))
        stops = [(w, o) for w, _, o, _ in outcomes if o.stop]
        if stops:
            w, o = max(stops, key=lambda x: DECISION_ORDER[x[1].verdict.decision])
            for what, _, oo, case in outcomes:
                if oo is not o:
                    self._commit(None, case, oo.verdict, "tool" if what == "tool" else "output")
            st.done = st.cut = True
            stage = "tool" if w == "tool" else "output"
            case = next(c for _, _, oo, c in outcomes if oo is o)
            self._commit(None, case, o.verdict, stage)
            text = refusal_text(o.verdict, stage=stage, held=o.held)
            yield self.chunk(st.index, {"content": ("\n\n" if st.released else "") + text, "refusal": text},
                             "content_filter", tag(o.verdict, stage, held=o.held))
            return
        for what, _, o, case in outcomes:
            self._commit(None, case, o.verdict, "tool" if what == "tool" else "output")

        # everything passed: send the refusal text and the tool calls whole, then the finish
        for what, _, o, _ in outcomes:
            if what == "refusal":
                v = o.verdict
                yield self.chunk(st.index, {"refusal": v.revised if v.decision == "revise" and v.revised else refusal})
        deltas = []
        for what, j, o, _ in outcomes:
            if what != "tool":
                continue
            call = call_of[j]
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
