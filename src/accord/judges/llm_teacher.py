"""The LLM as a teacher: it labels unlabelled cases, the value model learns from its probabilities.

A CPU model judges a case in seconds; the value model in microseconds. Distillation moves some of
the LLM's judgement into the fast tier: ``accord learn --teacher llm --data unlabelled.jsonl``

1. asks the ``llm`` judge about every case of the file (``{id?, context?, action}`` per line, as
   for ``accord check --input``) and keeps its **probability** (the calibrated first-token score
   when a calibration is set) as a soft label, one JSON line per case in ``labels`` (default
   ``<out>/teacher-labels.jsonl``), written as it goes: an interrupted run resumes where it
   stopped, and a file made by another teacher (model, format, prompt) is refused;
2. trains the value model on the charter's examples and those soft labels: each case becomes an
   unacceptable example weighted ``p`` and an acceptable one weighted ``1 - p`` (the logistic
   loss against the soft target ``p``, exactly), never a *precedent*: an LLM's label is not a
   person's verdict, so it is not shown as one nor settles later cases.

A case the LLM cannot judge (a malformed answer, a time-out) gets no label and is counted; it is
tried again on the next run.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accord.charter.model import Charter
from accord.errors import InputError, JudgeError
from accord.types import Case

__all__ = ["TeacherRun", "distil", "label_cases"]


def _key(case: Case) -> str:
    return hashlib.sha256(f"{case.context_text}\x1f{case.action_text}".encode("utf-8", "surrogatepass")).hexdigest()[:24]


@dataclass
class TeacherRun:
    """What a labelling run did: rows in input order (None where the teacher failed), and counts."""

    rows: list[dict[str, Any] | None] = field(default_factory=list)
    asked: int = 0
    reused: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def labelled(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r is not None]


def label_cases(judge: Any, charter: Charter, cases: Sequence[Case], labels: str | Path, *,
                progress: Callable[[int, int], None] | None = None) -> TeacherRun:
    """Soft labels for ``cases`` from ``judge`` (an :class:`~accord.judges.llm.LLMJudge`), resumable.

    Rows already in ``labels`` for the same text and teacher are reused; new rows are appended
    (and flushed) one case at a time.
    """
    path = Path(labels)
    teacher = {"model": judge.model, "format": judge.format, "prompt": judge.prompt_id}
    have: dict[str, dict[str, Any]] = {}
    if path.exists():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                key, p = row["key"], float(row["p"])
                made_by = {k: row["teacher"][k] for k in teacher}
            except (ValueError, KeyError, TypeError):
                raise InputError(f"{path}:{n}: not a teacher label line",
                                 hint="pass another --labels file, or delete this one to start again") from None
            if made_by != teacher:
                raise InputError(f"{path} holds labels from another teacher ({made_by}; this one: {teacher})",
                                 hint="pass another --labels file for this teacher")
            if not 0.0 <= p <= 1.0:
                raise InputError(f"{path}:{n}: p {p} is not a probability")
            have[key] = row
    run = TeacherRun()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        for i, case in enumerate(cases):
            k = _key(case)
            if k in have:
                run.rows.append(have[k])
                run.reused += 1
            else:
                try:
                    ans = judge._answers([case], charter)[0]
                except JudgeError as e:
                    run.rows.append(None)
                    run.failed += 1
                    if len(run.errors) < 5:
                        run.errors.append(e.message)
                else:
                    raw = max((float(a["score"]) for a in ans), default=0.0)
                    cal = judge.calibration
                    verdict = ans[0].get("verdict") if ans else None
                    row = {"key": k, "context": case.context_text, "action": case.action_text,
                           "p": round(cal(raw) if cal is not None else raw, 6), "raw": round(raw, 6),
                           "verdict": verdict, "principle": ans[0]["principle"] if verdict not in (None, "allow") else None,
                           "teacher": teacher}
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                    out.flush()
                    have[k] = row
                    run.rows.append(row)
                    run.asked += 1
            if progress is not None:
                progress(i + 1, len(cases))
    return run


def distil(rows: Sequence[dict[str, Any]], charter: Charter, base: Any | None = None, *, from_scratch: bool = False,
           random_state: int = 0, weight: float | None = None, source: str | None = None) -> Any:
    """A value model trained on the charter's examples and the soft labels ``rows`` (see the module docstring).

    ``base`` (a fitted :class:`~accord.judges.value_model.ValueModel`) is built on unless
    ``from_scratch``; ``weight`` scales the soft labels (default: the weight feedback gets).
    """
    from accord.judges.value_model import ValueModel
    from accord.learning.feedback import FEEDBACK_WEIGHT, TrainingSet, charter_examples

    if not rows:
        raise InputError("the teacher labelled no cases: nothing to learn from")
    w = FEEDBACK_WEIGHT if weight is None else weight
    data = TrainingSet()
    data.extend(charter_examples(charter))
    n_charter = len(data)
    for r in rows:
        p = float(r["p"])
        src = source or f"teacher:{r['teacher']['model']}"
        principle = r.get("principle") if r.get("principle") in charter._by_id else None
        if p > 1e-3:
            data.add(r["context"], r["action"], True, principle=principle, weight=w * p, source=src, memory=False)
        if p < 1 - 1e-3:
            data.add(r["context"], r["action"], False, weight=w * (1 - p), source=src, memory=False)
    kwargs = data.fit_kwargs()
    # None: never cited as a precedent (the charter's examples stay what they are)
    kwargs["memory"] = [*data.memory[:n_charter], *([None] * (len(data) - n_charter))]
    if base is not None and not from_scratch:
        return copy.deepcopy(base).partial_fit(data.cases, data.y, **kwargs)
    return ValueModel(charter.principle_ids, random_state=random_state).fit(data.cases, data.y, **kwargs)
