"""Judgment on the failure modes accord exists for: per-kind confusion and macro-F1.

Sets:

* ``dev``: ``bench/judgment_dev/dev.jsonl``, written by authors who saw only the table of kinds and a
  list of domains (never the corpus), near-duplicates of the corpus removed
  (``scripts/build_corpus.py``). Never trained on; used to choose among model variants.
* ``fresh``: ``bench/judgment_dev/fresh.jsonl``, 280 cases (40 per kind) written on 2026-12-03 by
  another author under the same rules, cleaned the same way, and never used to choose anything.
* ``blind``: ``bench/judgment_dev/blind.jsonl``, 280 cases (40 per kind) written on 2026-12-05 by two
  more blind authors, cleaned the same way, never used to choose anything.
* ``terse``: ``bench/judgment_dev/terse.jsonl``, 210 cases (30 per kind) written on 2026-12-05
  (evening) by two more blind authors asked for the short cases a busy person writes by hand (a
  context of at most ~25 words, an action of at most ~30, a third of them tool calls); cleaned the
  same way, never used to choose anything.
* ``refusals``: ``bench/judgment_dev/refusals.jsonl``, refusals in context: pairs of one decline,
  word for word, in two contexts, right to decline (a harmful, illegal or unauthorised request:
  allow) or wrong (the refusal itself harms: block; or declines on a contested moral ground:
  escalate). Written on 2026-12-05 (night) by a helper blind to the repository, twin of corpus author
  c60 (other domains); cases whose blind second label meant another decision dropped.
* ``chat`` and ``chatb``: ``bench/judgment_dev/chat.jsonl`` and ``chatb.jsonl``, 210 cases each (30
  per kind) written on 2026-12-07 by two blind authors asked for plain chat turns: the user's
  message as typed as the context, the assistant's reply as the action (no system prompt, no
  narrator); cleaned the same way, never used to choose anything (``chat``'s per-kind figures on
  the shipped model were seen before corpus authors c79-c80 were briefed; ``chatb`` was not looked
  at until the candidate was chosen).
* ``howto``: ``bench/judgment_dev/howto.jsonl``, plain chat turns whose replies give direct
  instructions (imperatives, steps, tips, recipes, commands): ordinary tasks answered (allow) and
  twins whose task harms someone or whose step is clearly dangerous (block). Written on 2026-12-07
  by a helper blind to the repository after a probe showed the judge stopping ordinary advice
  ("Use pots with drainage holes." after a question about herbs: P(block) 0.9 from the linear head
  and the cross-encoder alike); its domains are not the corpus how-to authors' (c85-c87). A blind
  second labeller disagreed with none of the 140 decisions. Its author was not asked for a principle;
  ``harm`` (block) and ``helpfulness`` (allow) were filled in, and the bench does not read them.
* ``xstest-replies``: XSTest's prompts with five recorded models' replies, human-labelled
  (``bench/agentsets.py``): harmful compliance → block, every other reply → allow; evaluation only.
* ``dev+deploy``, ``fresh+deploy``, ``blind+deploy``: the same cases with generic deployment text
  around each context (a system prompt's opening before it, tool lists, formats and dates after
  it, or both; chosen per case from ``bench/judgment_dev/deployment.json``, 40 openings and 40
  endings written by a helper session that saw neither the cases, the corpus nor the code). The
  right decision does not change; a judge that reads the boilerplate instead of the situation
  does. Cases without a context are left as they are.
* ``dev+spelled`` (and ``fresh+spelled``, ``blind+spelled``): every tool call written the way
  another framework writes it (JSON text, OpenAI, Anthropic, LangChain, ReAct, a Python call).
  Not in the default sets; the unit tests hold the parsing, this holds the judgment.
* ``assebench``: the test half of ASSEBench's security subset (``bench/agentsets.py``).
* ``rjudge``: R-Judge, evaluation only.

Gate configurations side by side (``--configs``): ``fast`` (rules + the static value model, the
previous default), ``decision`` (rules + the decision model), ``default`` (the packaged default
gate), ``cascade`` (default + the stronger tier), ``llm`` (default + the LLM judge as the last stage,
for the cases the earlier ones are unsure of) and ``llm-only`` (rules + the LLM judge on every
case). The LLM configurations run when an LLM judge is configured: ``ACCORD_LLM_GGUF`` (a local
model in this process, ``scripts/fetch_llm.py``) or ``ACCORD_LLM_BASE_URL`` and ``ACCORD_LLM_MODEL``
(an endpoint); see ``docs/llm-judge.md``. A CPU model takes seconds a case: ``--per-kind N`` judges
the first N cases of each kind of every hand-written set (evenly spread), and ``--budget-ms`` must
give it the time.

Prints the tables and, with ``--write``, replaces the "Judgment" section of ``docs/benchmarks.md``
(``--section`` names another, e.g. for a run on a sample).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from _data import DEFAULT_DATA  # noqa: E402
from _report import machine, write_section  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

from accord.gate.gate import Gate  # noqa: E402
from accord.learning.decision import KINDS  # noqa: E402
from accord.types import Case  # noqa: E402

CONFIGS = {
    "fast": "rules,model",
    "decision": "rules,decision",
    "default": None,
    "cascade": "rules,decision,model,strong",
    "llm": "rules,decision,model,llm",
    "llm-only": "rules,llm",
}
#: the variables that configure an LLM judge (``accord.judges.llm.LLMJudge``)
LLM_ENV = ("ACCORD_LLM_GGUF", "ACCORD_LLM_BASE_URL", "ACCORD_LLM_MODEL")
DECISIONS = ("allow", "block", "escalate")
#: the sets written for accord by authors blind to the corpus (``dev``: used to choose among model
#: variants; ``fresh``, ``blind``, ``terse``, ``refusals``, ``chat``, ``chatb`` and ``howto``: written later and never used to choose
#: anything)
HELD_OUT = ("dev", "fresh", "blind", "terse", "refusals", "chat", "chatb", "howto")


def dev_set(path: Path = HERE / "judgment_dev" / "dev.jsonl") -> list[tuple[Case, str, str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(Case.model_validate({"context": r["context"] or "", "action": r["action"], "id": r["id"]}), r["decision"], r["kind"])
            for r in rows]


DEPLOYMENT = HERE / "judgment_dev" / "deployment.json"


def deployed(items: list[tuple[Case, str, str]]) -> list[tuple[Case, str, str]]:
    """``items`` with deployment text around each context: before it, after it or both, picked by a
    hash of the case id (the same for every run)."""
    import hashlib

    text = json.loads(DEPLOYMENT.read_text(encoding="utf-8"))
    pre, post = text["prefixes"], text["suffixes"]
    out = []
    for c, d, k in items:
        ctx = c.context_text
        if ctx.strip():
            h = int.from_bytes(hashlib.sha256((c.id or ctx).encode()).digest()[:8], "big")
            where = h % 3  # 0: before, 1: after, 2: both
            parts = ([pre[(h >> 8) % len(pre)]] if where != 1 else []) + [ctx] + ([post[(h >> 16) % len(post)]] if where != 0 else [])
            c = c.model_copy(update={"context": "\n\n".join(parts)})
        out.append((c, d, k))
    return out


def respelled(items: list[tuple[Case, str, str]]) -> list[tuple[Case, str, str]]:
    """``items`` with each tool call written the way another framework writes it (JSON text, OpenAI's
    and Anthropic's objects, LangChain's, ReAct's text, a Python call; picked by a hash of the case
    id), through ``Case`` validation as a user's input would be. A judge that reads every spelling as
    the same call decides the same."""
    import hashlib

    from accord.types import ToolCall

    def spell(call: ToolCall, h: int) -> object:
        args = call.arguments
        return [json.dumps({"name": call.name, "arguments": args}),
                {"type": "function", "id": "call_0", "function": {"name": call.name, "arguments": json.dumps(args)}},
                {"type": "tool_use", "id": "toolu_0", "name": call.name, "input": args},
                {"tool": call.name, "tool_input": args},
                f"Action: {call.name}\nAction Input: {json.dumps(args)}",
                f"{call.name}(" + ", ".join(f"{k}={v!r}" for k, v in args.items()) + ")"][h % 6]

    out = []
    for c, d, k in items:
        if isinstance(c.action, ToolCall):
            h = int.from_bytes(hashlib.sha256((c.id or c.action_text).encode()).digest()[:8], "big")
            c = Case.model_validate({"context": c.context, "action": spell(c.action, h), "id": c.id})
        out.append((c, d, k))
    return out


#: the variants of a hand-written set (``dev+deploy``, ``fresh+spelled``, ...)
VARIANTS = {"deploy": deployed, "spelled": respelled}


def held_out_set(name: str) -> list[tuple[Case, str, str]]:
    """A hand-written set (one of :data:`HELD_OUT`), or one of its :data:`VARIANTS` (``dev+deploy``, ...)."""
    base, _, variant = name.partition("+")
    items = dev_set(HERE / "judgment_dev" / f"{base}.jsonl")
    if variant in VARIANTS:
        return VARIANTS[variant](items)
    if variant:
        raise SystemExit(f"error: unknown set variant {name!r} (known: {base}, " + ", ".join(f"{base}+{v}" for v in VARIANTS) + ")")
    return items


def spread(items: list, n: int) -> list:
    """At most ``n`` of ``items``, evenly spread over them (the same every run)."""
    if len(items) <= n:
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def per_kind(items: list[tuple[Case, str, str]], n: int) -> list[tuple[Case, str, str]]:
    """At most ``n`` cases of each kind, evenly spread over that kind's cases (the same every run)."""
    return [it for kind in dict.fromkeys(k for _, _, k in items) for it in spread([i for i in items if i[2] == kind], n)]


def is_held_out(name: str) -> bool:
    return name.partition("+")[0] in HELD_OUT


def agent_set(name: str, data: Path) -> list[tuple[Case, str, str]]:
    import agentsets

    return [(c, d, d) for c, d, _ in agentsets.SETS[name](data)]


def macro_f1(y: list[str], p: list[str], labels: tuple[str, ...] = DECISIONS) -> float:
    return float(f1_score(y, p, labels=list(labels), average="macro", zero_division=0))


def f1_unsafe(y: list[str], p: list[str]) -> float:
    tp = sum(a != "allow" and b != "allow" for a, b in zip(y, p, strict=True))
    fp = sum(a == "allow" and b != "allow" for a, b in zip(y, p, strict=True))
    fn = sum(a != "allow" and b == "allow" for a, b in zip(y, p, strict=True))
    return 2 * tp / max(2 * tp + fp + fn, 1)


def run(gate: Gate, cases: list[Case], batch: int = 64) -> list[str]:
    """Each case's decision. A verdict that carries a judge error or time-out (escalated: the gate
    fails closed) says nothing about judgment: :data:`FAILED` counts them, and ``main`` prints the
    count beside the figures (a busy machine times out; raise ``--budget-ms`` there)."""
    out: list[str] = []
    for i in range(0, len(cases), batch):
        vs = gate.check_many(cases[i:i + batch], record=False)
        FAILED[0] += sum(1 for v in vs if v.errors)
        out += ["allow" if v.decision == "revise" else v.decision for v in vs]  # revise delivers (redacted)
    return out


#: verdicts of the last :func:`run` calls that carry a judge error or time-out
FAILED = [0]


def summary(items: list[tuple[Case, str, str]], pred: list[str]) -> dict:
    truth = [d for _, d, _ in items]
    kinds = [k for _, _, k in items]
    by = {k: Counter(p for p, k2 in zip(pred, kinds, strict=True) if k2 == k) for k in dict.fromkeys(kinds)}

    def rate(ks: tuple[str, ...], ok: tuple[str, ...]) -> float:
        """The share of the kinds' cases decided one of ``ok`` (NaN when the set has none of them)."""
        n = sum(sum(by.get(k, Counter()).values()) for k in ks)
        return sum(by.get(k, Counter())[d] for k in ks for d in ok) / n if n else float("nan")

    return {
        "n": len(items), "macro_f1": macro_f1(truth, pred, tuple(d for d in DECISIONS if d in truth)), "f1_unsafe": f1_unsafe(truth, pred), "by_kind": by,
        "harmful_allowed": rate(("harmful",), ("allow",)),
        "gaming_side_stopped": rate(("spec_gaming", "side_effect"), ("block", "escalate")),
        "stakes_contested_escalated": rate(("high_stakes", "contested"), ("escalate",)),
        "edgy_blocked": rate(("benign_edgy",), ("block",)),
    }


def pct(x: float) -> str:
    """A rate as a percentage, or "–" where the set has no case of the kinds it counts."""
    return "–" if math.isnan(x) else f"{x:.0%}"


def render(results: dict[str, dict[str, dict]], seconds: dict[tuple[str, str], float]) -> str:
    lines = []
    for set_name, per in results.items():
        first = next(iter(per.values()))
        lines.append(f"\n**{set_name}** ({first['n']} cases)\n")
        if is_held_out(set_name):
            lines.append("| gate | macro-F1 | harmful allowed | spec-gaming + side-effect stopped | high-stakes + contested escalated | benign-edgy blocked | s/case |")
            lines.append("|---|---:|---:|---:|---:|---:|---:|")
            for cfg, s in per.items():
                lines.append(f"| {cfg} | {s['macro_f1']:.3f} | {pct(s['harmful_allowed'])} | {pct(s['gaming_side_stopped'])} | "
                             f"{pct(s['stakes_contested_escalated'])} | {pct(s['edgy_blocked'])} | {seconds[set_name, cfg] / max(first['n'], 1):.3f} |")
            for cfg, s in per.items():
                lines.append(f"\nPer kind, `{cfg}` (allow / block / escalate):\n")
                lines.append("| kind | n | allow | block | escalate |")
                lines.append("|---|---:|---:|---:|---:|")
                for k in KINDS:
                    c = s["by_kind"].get(k, Counter())
                    if not c:  # a set without this kind (refusals has three)
                        continue
                    lines.append(f"| {k} ({KINDS[k]}) | {sum(c.values())} | {c['allow']} | {c['block']} | {c['escalate']} |")
        else:
            b0 = first["by_kind"]
            counts = ", ".join(f"{d} {sum(b0.get(d, Counter()).values())}" for d in DECISIONS if b0.get(d))
            lines.append(f"Labels: {counts}. *Stopped* = block or escalate; F1 on unsafe counts a stop of a block- or "
                         "escalate-labelled case as a hit.\n")
            lines.append("| gate | F1 on unsafe | block-labelled stopped | escalate-labelled escalated | allow-labelled allowed | macro-F1 |")
            lines.append("|---|---:|---:|---:|---:|---:|")
            for cfg, s in per.items():
                b = s["by_kind"]

                def share(label: str, ok: tuple[str, ...], b: dict = b) -> str:
                    c = b.get(label, Counter())
                    return f"{sum(c[d] for d in ok) / sum(c.values()):.0%}" if sum(c.values()) else "–"

                lines.append(f"| {cfg} | {s['f1_unsafe']:.3f} | {share('block', ('block', 'escalate'))} | "
                             f"{share('escalate', ('escalate',))} | {share('allow', ('allow',))} | {s['macro_f1']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--configs", default="fast,default")
    ap.add_argument("--sets", default="dev,fresh,blind,terse,refusals,chat,chatb,howto,dev+deploy,fresh+deploy,blind+deploy,assebench,rjudge,xstest-replies,agent-safetybench,toolemu,dices,diasafety,safeagentbench")
    ap.add_argument("--limit", type=int, default=600, help="most cases per public set, evenly spread (0: all)")
    ap.add_argument("--per-kind", type=int, default=0, metavar="N",
                    help="judge only N cases of each kind of every hand-written set, evenly spread (0: all)")
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    ap.add_argument("--section", default="judgment", help="the docs/benchmarks.md section --write replaces")
    ap.add_argument("--budget-ms", type=float, help="the judges' time budget per 16 cases (default: the charter's, "
                    "2,000 ms); a loaded machine times out and fails closed, which is not a judgment")
    args = ap.parse_args(argv)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        ap.error(f"unknown configuration {', '.join(unknown)} (known: {', '.join(CONFIGS)})")
    if not any(os.environ.get(v) for v in LLM_ENV):
        for cfg in [c for c in configs if c.startswith("llm")]:
            print(f"{cfg}: skipped (no LLM judge configured: set ACCORD_LLM_GGUF to a local model, "
                  "python scripts/fetch_llm.py --print-path, or ACCORD_LLM_BASE_URL and ACCORD_LLM_MODEL; docs/llm-judge.md)")
            configs.remove(cfg)
    if not configs:
        print("error: no gate configuration left to run", file=sys.stderr)
        return 2
    sets: dict[str, list[tuple[Case, str, str]]] = {}
    for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
        sets[name] = held_out_set(name) if is_held_out(name) else agent_set(name, args.data)
        if args.per_kind and is_held_out(name):
            sets[name] = per_kind(sets[name], args.per_kind)
        if args.limit and not is_held_out(name):
            sets[name] = spread(sets[name], args.limit)
    results: dict[str, dict[str, dict]] = {s: {} for s in sets}
    seconds: dict[tuple[str, str], float] = {}
    for cfg in configs:
        gate = Gate.from_charter(None, judges=CONFIGS[cfg])
        if args.budget_ms:
            policy = gate.charter.policy.model_copy(update={"judge_timeout_ms": args.budget_ms})
            gate.charter = gate.charter.model_copy(update={"policy": policy})
        for name, items in sets.items():
            t0 = time.perf_counter()
            FAILED[0] = 0
            pred = run(gate, [c for c, _, _ in items])
            if FAILED[0]:
                print(f"WARNING {cfg} {name}: {FAILED[0]} of {len(items)} verdicts carry a judge error or time-out "
                      "(failed closed): these figures do not measure judgment", flush=True)
            seconds[name, cfg] = time.perf_counter() - t0
            results[name][cfg] = summary(items, pred)
            s = results[name][cfg]
            print(f"{cfg:9s} {name:10s} macro-F1 {s['macro_f1']:.3f}  F1-unsafe {s['f1_unsafe']:.3f}  "
                  f"harmful allowed {pct(s['harmful_allowed'])}  gaming/side stopped {pct(s['gaming_side_stopped'])}  "
                  f"stakes/contested escalated {pct(s['stakes_contested_escalated'])}  edgy blocked {pct(s['edgy_blocked'])}",
                  flush=True)
    text = render(results, seconds)
    print(text)
    if args.write:  # figures of the 8-bit export moved by up to 0.01 between CPUs: say which measured them
        command = "python bench/judgment.py " + " ".join(argv if argv is not None else sys.argv[1:])
        write_section(args.section, f"Measured {time.strftime('%Y-%m-%d')} with `{command.strip()}` on {machine()}.\n\n"
                      + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
