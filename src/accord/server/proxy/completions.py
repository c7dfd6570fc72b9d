"""Judging a whole (non-streamed) completion: every choice's text, refusal and tool calls."""

from __future__ import annotations

import time
from concurrent.futures import Future
from typing import Any

from accord.server.proxy.guard import (
    TOP_FIELDS,
    Guard,
    Outcome,
    Pending,
    refusal_text,
    safe_field,
    safe_finish_reason,
    strictest,
    tag,
)
from accord.server.proxy.judging import message_text, parse_tool_call, revised_tool_arguments
from accord.server.proxy.upstream import malformed
from accord.types import DECISION_ORDER, Message, Verdict


def _choices(data: dict[str, Any], base: str) -> list[dict[str, Any]]:
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise malformed(base, "no 'choices' list in the completion")
    for c in choices:
        if not isinstance(c, dict) or not isinstance(c.get("message"), dict):
            raise malformed(base, "a choice without a 'message' object")
        msg = c["message"]
        if msg.get("content") is not None and not isinstance(msg["content"], str | list):
            raise malformed(base, "a message whose 'content' is neither text nor parts")
        tcs = msg.get("tool_calls")
        if tcs is not None and (not isinstance(tcs, list) or not all(
                isinstance(t, dict) and isinstance(t.get("function"), dict) and isinstance(t["function"].get("name"), str)
                and isinstance(t["function"].get("arguments", ""), str) for t in tcs)):
            raise malformed(base, "a tool call without a function name and string arguments")
    return choices


def _tool_calls(msg: dict[str, Any]) -> list[dict[str, Any]]:
    """The message's tool calls, with a legacy ``function_call`` as one more."""
    calls = list(msg.get("tool_calls") or [])
    fc = msg.get("function_call")
    if isinstance(fc, dict) and isinstance(fc.get("name"), str):
        calls.append({"id": "function_call", "type": "function", "function": fc, "_legacy": True})
    return calls


async def judge_completion(guard: Guard, data: dict[str, Any], *, rid: str, context: list[Message], meta: dict[str, Any],
                           actor: str | None, community: str | None, input_flag: Verdict | None) -> dict[str, Any]:
    """The client's completion: judged choices only, whitelisted fields, an ``accord`` tag on each."""
    choices = _choices(data, guard.config.base)
    items: list[Pending] = []
    fixed: list[tuple[int, str, int, Verdict]] = []  # verdicts made without the judge (unjudgeable output)
    audit: list[Future[None]] = []  # their audit records
    cap = guard.config.max_output_chars
    for pos, ch in enumerate(choices):
        idx = ch.get("index", pos) if isinstance(ch.get("index", pos), int) else pos
        msg = ch["message"]
        m = {**meta, "choice": idx}
        text = message_text(msg.get("content"))
        size = len(text) + len(str(msg.get("refusal") or "")) + sum(
            len(tc["function"].get("name") or "") + len(tc["function"].get("arguments") or "") for tc in _tool_calls(msg))
        if size > cap:  # not judged at all: blocked, and the reason says why
            case = guard.case(context, text[:2000], {**m, "stage": "output"}, actor, community)
            v = guard.unjudgeable(case, f"the answer is over {cap:,} characters, the most this proxy judges "
                                        "(max_output_chars)", rid, f"out:{idx}")
            audit.append(guard.commit(case, v, "output"))
            fixed.append((pos, "content", -1, v))
            continue
        if text:
            items.append(Pending(guard.case(context, text, {**m, "stage": "output"}, actor, community), "output",
                                 f"out:{idx}", {"pos": pos, "what": "content"}))
        refusal = msg.get("refusal")
        if isinstance(refusal, str) and refusal:
            items.append(Pending(guard.case(context, refusal, {**m, "stage": "output", "field": "refusal"}, actor, community),
                                 "output", f"out:{idx}:refusal", {"pos": pos, "what": "refusal"}))
        for j, tc in enumerate(_tool_calls(msg)):
            fn = tc["function"]
            parsed = parse_tool_call(fn["name"], fn.get("arguments") or "")
            case = guard.case(context, parsed if not isinstance(parsed, str) else f"call tool {fn['name']}",
                              {**m, "stage": "tool", "tool": j}, actor, community)
            if isinstance(parsed, str):
                v = guard.unjudgeable(case, parsed, rid, f"tool:{idx}:{j}")
                audit.append(guard.commit(case, v, "tool"))
                fixed.append((pos, "tool", j, v))
            else:
                items.append(Pending(case, "tool", f"tool:{idx}:{j}", {"pos": pos, "what": "tool", "j": j}))
    verdicts = await guard.judge(items, rid)  # returns once their audit records are written
    await guard.audited(audit)

    per: dict[int, list[tuple[str, int, Verdict]]] = {pos: [] for pos in range(len(choices))}
    for p, v in zip(items, verdicts, strict=True):
        per[p.extra["pos"]].append((p.extra["what"], p.extra.get("j", -1), v))
    for pos, what, j, v in fixed:
        per[pos].append((what, j, v))

    out_choices = []
    overall: list[Verdict] = [input_flag] if input_flag is not None else []
    any_flag = input_flag is not None and input_flag.decision == "escalate"
    any_held = False
    for pos, ch in enumerate(choices):
        idx = ch.get("index", pos) if isinstance(ch.get("index", pos), int) else pos
        msg = ch["message"]
        calls = _tool_calls(msg)
        outcomes: list[tuple[str, int, Outcome]] = []
        for what, j, v in per[pos]:
            revisable = True
            if what == "tool" and v.decision == "revise":
                fn = calls[j]["function"]
                revisable = revised_tool_arguments(v, fn["name"]) is not None
            outcomes.append((what, j, guard.outcome(v, revisable=revisable)))
        stop = [o for _, _, o in outcomes if o.stop]
        worst = strictest([o.verdict for _, _, o in outcomes])
        if worst is not None:
            overall.append(worst)
        if stop:
            decisive = max(stop, key=lambda o: DECISION_ORDER[o.verdict.decision])
            stage = next(w for w, _, o in outcomes if o is decisive)
            stage = "tool" if stage == "tool" else "output"
            held = decisive.held
            any_held = any_held or held
            text = refusal_text(decisive.verdict, stage=stage, held=held)
            out_choices.append({"index": idx, "message": {"role": "assistant", "content": text, "refusal": text},
                                "finish_reason": "content_filter", "logprobs": None,
                                "accord": tag(decisive.verdict, stage, held=held)})
            continue
        new_msg: dict[str, Any] = {"role": "assistant", "content": msg.get("content") if isinstance(msg.get("content"), str) else (message_text(msg.get("content")) or None)}
        if isinstance(msg.get("refusal"), str):
            new_msg["refusal"] = msg["refusal"]
        new_calls = []
        for what, _j, o in outcomes:
            v = o.verdict
            if what == "content" and v.decision == "revise":
                new_msg["content"] = v.revised
            elif what == "refusal" and v.decision == "revise":
                new_msg["refusal"] = v.revised
        for j, tc in enumerate(calls):
            fn = tc["function"]
            args = fn.get("arguments") or ""
            for what, jj, o in outcomes:
                if what == "tool" and jj == j and o.verdict.decision == "revise":
                    args = revised_tool_arguments(o.verdict, fn["name"]) or args
            if tc.get("_legacy"):
                new_msg["function_call"] = {"name": fn["name"], "arguments": args}
            else:
                new_calls.append({"id": safe_field("id", tc.get("id")) or f"call_{rid[:8]}_{j}", "type": "function",
                                  "function": {"name": fn["name"], "arguments": args}})
        if new_calls:
            new_msg["tool_calls"] = new_calls
        flagged = any(o.flagged for _, _, o in outcomes)
        any_flag = any_flag or flagged
        decisive_v = worst if worst is not None else None
        choice_tag = (tag(decisive_v, "tool" if any(w == "tool" and o.verdict is decisive_v for w, _, o in outcomes) else "output",
                          flagged=flagged) if decisive_v is not None else None)
        out_choices.append({"index": idx, "message": new_msg, "finish_reason": safe_finish_reason(ch.get("finish_reason")),
                            "logprobs": None, "accord": choice_tag})

    # metadata only as the kind of value it is (an identifier, a count): never a sentence nobody judged
    out: dict[str, Any] = {k: safe_field(k, data[k]) for k in TOP_FIELDS if k in data}
    if out.get("id") is None:
        out["id"] = f"chatcmpl-accord-{rid[:24]}"
    if out.get("created") is None:
        out["created"] = int(time.time())
    if out.get("model") is None:
        out["model"] = safe_field("model", meta.get("model")) or "unknown"
    for k in ("system_fingerprint", "service_tier"):
        if k in out and out[k] is None:
            del out[k]
    out["object"] = "chat.completion"
    out["choices"] = out_choices
    top = strictest(overall)
    out["accord"] = {"decision": top.decision if top else "allow", "trace_id": rid, "held": any_held,
                     "flagged": any_flag, "stage": None, "verdict": None}
    return out
