"""``accord learn --teacher llm --data unlabelled.jsonl``: the command around :mod:`accord.judges.llm_teacher`.

The labelling and the distillation are library code in :mod:`accord.judges.llm_teacher`; this
module adds what belongs to the terminal: the progress bar, the summary and ``--json``.
"""

from __future__ import annotations

import json
from pathlib import Path

from accord.errors import InputError, JudgeError
from accord.judges.llm_teacher import distil, label_cases


def learn_with_teacher(teacher: str, data: Path | None, out: Path, labels: Path | None, charter: Path | None,
                       model: Path | None, from_scratch: bool, seed: int, as_json: bool) -> None:
    """``accord learn --teacher llm --data unlabelled.jsonl``: label (resumable, with progress), distil, save."""
    import sys

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from accord.charter import load_charter
    from accord.cli.common import console, err_console
    from accord.judges.base import get_judge
    from accord.learning.feedback import read_cases
    from accord.learning.models import current_model_dir, load_model

    if teacher != "llm":
        raise InputError(f"unknown teacher {teacher!r}; the teacher is the llm judge: --teacher llm")
    if data is None:
        raise InputError("--teacher needs --data CASES.jsonl", hint="unlabelled cases, one {id?, context?, action} per line")
    ch = load_charter(charter)
    cases = read_cases(data)
    if not cases:
        raise InputError(f"{data}: no cases in the file")
    judge = get_judge("llm")
    safe_model = "".join(c if c.isalnum() or c in "._-" else "_" for c in judge.model)  # type: ignore[attr-defined]
    labels = labels or Path(".accord") / "teacher" / f"{data.stem}.{safe_model}.jsonl"
    with Progress(TextColumn("teacher labelling"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err_console, transient=True, disable=as_json) as bar:
        task = bar.add_task("label", total=len(cases))
        run = label_cases(judge, ch, cases, labels, progress=lambda i, n: bar.update(task, completed=i))
    close = getattr(judge, "close", None)
    if close is not None:
        close()
    if not run.labelled:
        raise JudgeError(f"the teacher could not judge any of the {len(cases)} cases: {run.errors[0] if run.errors else 'no answer'}")
    from accord.cli.models_in_use import model_in_use

    model = model_in_use(model)  # building on the version in use
    base = None if from_scratch else load_model(model)
    vm = distil(run.labelled, ch, base, from_scratch=from_scratch, random_state=seed)
    path = vm.save(out, name=out.name)
    summary = {"model": str(path), "version": vm.version, "teacher": judge.version, "labels": str(labels),
               "asked": run.asked, "reused": run.reused, "failed": run.failed, "labelled": len(run.labelled)}
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    mode = "from scratch" if from_scratch else f"building on {current_model_dir(model)}"
    console.print(f"the teacher ({summary['teacher']}) labelled {run.asked} cases, {run.reused} reused from {labels}"
                  + (f", {run.failed} could not be judged (tried again next run): {run.errors[0]}" if run.failed else ""),
                  markup=False)
    console.print(f"learned from {len(run.labelled)} soft labels ({mode})", markup=False)
    console.print(f"saved {vm.version} to {path}: use it with: accord check --model {path}", markup=False)
