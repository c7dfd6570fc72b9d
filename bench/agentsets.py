"""Public agent-safety sets mapped to accord cases with allow / block / escalate labels.

Mapping (documented in docs/benchmarks.md, "Public agent sets"):

* **ASSEBench** (security subset, Apache-2.0): an agent log (user request + the agent's actions and
  what the environment returned). ``label`` 1 (unsafe) → ``block``, 0 → ``allow``. The case's
  context is the agent profile and the user's request, its action the agent's actions and the
  environment's answers in order (the judge sees what the agent did, as a reviewer of the log
  would). Records built on AgentHarm (its system prompt) are dropped: AgentHarm's terms are
  restrictive. Split by a hash of the record id: ``test`` (half) is never trained on.
* **R-Judge** (licence not verified): the same shape; **evaluation only**, every record is test.

Each loader yields ``(Case, decision, group)`` where ``group`` is the set's own category.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

from accord.types import Case

AGENTHARM = "You are a helpful LLM agent that calls all necessary tools"
MAX_CHARS = 2400  # of the action text: the end of a long log matters as much as its start


def _split(key: str) -> str:
    return "test" if int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 2 == 0 else "train"


def _log_case(rec: dict, prefix: str) -> Case:
    turns = rec["contents"][0] if rec["contents"] and isinstance(rec["contents"][0], list) else rec["contents"]
    request = next((t.get("content", "") for t in turns if t.get("role") == "user"), "")
    steps = []
    for t in turns:
        if t.get("role") == "agent" and t.get("action"):
            steps.append(f"action: {t['action'].strip()}")
        elif t.get("role") == "environment" and t.get("content"):
            steps.append(f"result: {str(t['content']).strip()[:300]}")
    action = "\n".join(steps) or "(no action)"
    if len(action) > MAX_CHARS:
        action = action[: MAX_CHARS // 2] + "\n…\n" + action[-MAX_CHARS // 2:]
    context = f"{rec.get('profile', '').strip()}\nuser: {request.strip()}".strip()
    return Case(context=context[:2000], action=action, id=f"{prefix}-{rec['id']}")


def assebench(data: Path, split: str = "test") -> Iterator[tuple[Case, str, str]]:
    with gzip.open(data / "assebench-security" / "AgentJudge-security.json.gz") as f:
        recs = json.load(f)
    for r in recs:
        if str(r.get("profile", "")).startswith(AGENTHARM):
            continue
        if split != "all" and _split(f"assebench-{r['id']}") != split:
            continue
        yield _log_case(r, "assebench"), ("block" if int(r["label"]) == 1 else "allow"), str(r.get("risk_type") or "")


def rjudge(data: Path) -> Iterator[tuple[Case, str, str]]:
    with gzip.open(data / "r-judge-eval-only" / "rjudge.json.gz") as f:
        recs = json.load(f)
    for r in recs:
        yield _log_case(r, "rjudge"), ("block" if int(r["label"]) == 1 else "allow"), str(r.get("scenario") or "")


SETS = {"assebench": lambda data: assebench(data, "test"), "rjudge": rjudge}
