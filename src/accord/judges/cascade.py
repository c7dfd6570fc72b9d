"""Cheap judges first, stronger ones only where the cheap ones are unsure.

A case leaves the cascade as soon as a stage is *sure* about it: a hard rule that blocks or
allows, learned scores that all lie outside the uncertainty band ``(low, high)``, or a score
``settled`` by a person's verdict on a near-identical case (a later stage, perhaps never taught
that verdict, must not overrule it). Later stages' learned scores replace earlier ones for the
same principle; rule scores are kept. The stages share one time budget; a stage that raises or
runs out of time marks its pending cases as failed, which the gate turns into escalate or block
(never allow).
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from accord.charter.model import Charter
from accord.errors import JudgeError, JudgeTimeout
from accord.judges.base import Judge, register_judge
from accord.types import Case, Score

_POOL = cf.ThreadPoolExecutor(max_workers=8, thread_name_prefix="accord-judge")


@dataclass
class CaseResult:
    """What the cascade learned about one case."""

    scores: list[Score] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    timed_out: bool = False
    stages: list[str] = field(default_factory=list)


def _checked(judge: Judge, cases: Sequence[Case], charter: Charter) -> list[list[Score]]:
    """A judge's answer, or JudgeError when it is not one list of scores per case."""
    out = judge.judge(cases, charter)
    if not isinstance(out, list) or len(out) != len(cases):
        raise JudgeError(f"judge {judge.name!r} returned {type(out).__name__} for {len(cases)} cases")
    return out


class _Run:
    """One cascade run's state, shared by the worker that runs the stages and the caller that
    waits for it; the lock makes each stage's results land whole, or not at all once the caller
    has given up on the worker."""

    def __init__(self, n: int) -> None:
        self.results = [CaseResult() for _ in range(n)]
        self.pending = list(range(n))
        self.learned_seen = [False] * n
        self.current = ""
        self.lock = threading.Lock()
        self.abandoned = False


class Cascade:
    """Runs ``stages`` in order on the cases still uncertain after the previous stage."""

    name = "cascade"

    def __init__(self, stages: Sequence[Judge], *, band: tuple[float, float] = (0.2, 0.8)) -> None:
        if not stages:
            raise ValueError("a cascade needs at least one stage")
        self.stages = list(stages)
        self.band = band

    @property
    def version(self) -> str:
        return "+".join(s.version for s in self.stages)

    def _sure(self, scores: list[Score], learned_seen: bool) -> bool:
        if any(s.decision in ("block", "allow") or s.settled for s in scores):
            return True
        learned = [s.score for s in scores if s.decision is None]
        if not learned_seen:
            return False
        lo, hi = self.band
        return all(x <= lo or x >= hi for x in learned)

    def run(self, cases: Sequence[Case], charter: Charter, timeout_s: float) -> list[CaseResult]:
        """Run the stages on ``cases`` within ``timeout_s`` in all.

        All stages run in one worker thread, one after another, while the caller waits once for
        the whole budget (a hand-off per stage cost a single check about a tenth of its time). When
        the budget runs out, the stages that finished keep their scores and the cases still
        pending are marked timed out, naming the stage they were waiting on.
        """
        run = _Run(len(cases))
        if not cases:
            return run.results
        run.current = self.stages[0].name  # named even if the worker never gets a thread in time
        fut = _POOL.submit(self._stages, run, cases, charter)
        try:
            fut.result(timeout=timeout_s)
        except cf.TimeoutError:
            with run.lock:
                run.abandoned = True
                for i in run.pending:
                    run.results[i].timed_out = True
                    run.results[i].errors.append(f"judge {run.current!r} exceeded the time budget of {timeout_s * 1000:.0f} ms")
        return run.results

    def _stages(self, run: _Run, cases: Sequence[Case], charter: Charter) -> None:
        last = self.stages[-1]
        for stage in self.stages:
            with run.lock:
                if run.abandoned or not run.pending:
                    return
                run.current = stage.name
                pending = list(run.pending)
            try:
                out = _checked(stage, [cases[i] for i in pending], charter)
            except Exception as e:  # fail closed on anything a judge does
                with run.lock:
                    if not run.abandoned:
                        timeout = isinstance(e, JudgeTimeout)
                        for i in pending:
                            run.results[i].timed_out |= timeout
                            run.results[i].errors.append(str(e) if timeout else f"judge {stage.name!r} failed: {type(e).__name__}: {e}")
                        run.pending = []
                return
            with run.lock:
                if run.abandoned:
                    return
                still = []
                for i, scores in zip(pending, out, strict=True):
                    r = run.results[i]
                    r.stages.append(stage.name)
                    new_learned = {s.principle for s in scores if s.decision is None}
                    if new_learned:
                        run.learned_seen[i] = True
                        r.scores = [s for s in r.scores if s.decision is not None or s.principle not in new_learned]
                    r.scores.extend(scores)
                    if stage is not last and not self._sure(r.scores, run.learned_seen[i]):  # no stage left to ask
                        still.append(i)
                run.pending = still

    def judge(self, cases: Sequence[Case], charter: Charter) -> list[list[Score]]:
        """Judge protocol: the merged scores; any stage failure raises (the gate fails closed)."""
        res = self.run(cases, charter, timeout_s=charter.policy.judge_timeout_ms / 1000)
        for r in res:
            if r.errors:
                raise (JudgeTimeout if r.timed_out else JudgeError)(r.errors[0])
        return [r.scores for r in res]


def _cascade_factory(stages: Sequence[str] = ("rules", "model"), **options: object) -> Cascade:
    from accord.judges.base import get_judge

    return Cascade([get_judge(s) for s in stages], **options)  # type: ignore[arg-type]


register_judge("cascade", _cascade_factory)
