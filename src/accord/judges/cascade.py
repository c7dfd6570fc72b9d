"""Cheap judges first, stronger ones only where the cheap ones are unsure.

A case leaves the cascade as soon as a stage is *sure* about it: a hard rule that blocks, or
learned scores that all lie outside the uncertainty band ``(low, high)``. Later stages' learned
scores replace earlier ones for the same principle; rule scores are kept. Each stage runs under a
time budget; a stage that raises or runs out of time marks its pending cases as failed, which the
gate turns into escalate or block (never allow).
"""

from __future__ import annotations

import concurrent.futures as cf
import time
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


def run_with_timeout(judge: Judge, cases: Sequence[Case], charter: Charter, timeout_s: float) -> list[list[Score]]:
    """Run one judge on a batch; raises JudgeTimeout past ``timeout_s`` and JudgeError on a bad answer."""
    fut = _POOL.submit(judge.judge, cases, charter)
    try:
        out = fut.result(timeout=timeout_s)
    except cf.TimeoutError:
        fut.cancel()
        raise JudgeTimeout(f"judge {judge.name!r} exceeded {timeout_s * 1000:.0f} ms") from None
    if not isinstance(out, list) or len(out) != len(cases):
        raise JudgeError(f"judge {judge.name!r} returned {type(out).__name__} for {len(cases)} cases")
    return out


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
        if any(s.decision in ("block", "allow") for s in scores):
            return True
        learned = [s.score for s in scores if s.decision is None]
        if not learned_seen:
            return False
        lo, hi = self.band
        return all(x <= lo or x >= hi for x in learned)

    def run(self, cases: Sequence[Case], charter: Charter, timeout_s: float) -> list[CaseResult]:
        results = [CaseResult() for _ in cases]
        pending = list(range(len(cases)))
        learned_seen = [False] * len(cases)
        deadline = time.perf_counter() + timeout_s
        for stage in self.stages:
            if not pending:
                break
            left = deadline - time.perf_counter()
            try:
                if left <= 0:
                    raise JudgeTimeout(f"time budget of {timeout_s * 1000:.0f} ms spent before judge {stage.name!r}")
                out = run_with_timeout(stage, [cases[i] for i in pending], charter, left)
            except JudgeTimeout as e:
                for i in pending:
                    results[i].timed_out = True
                    results[i].errors.append(str(e))
                break
            except Exception as e:  # fail closed on anything a judge does
                for i in pending:
                    results[i].errors.append(f"judge {stage.name!r} failed: {type(e).__name__}: {e}")
                break
            still = []
            for i, scores in zip(pending, out, strict=True):
                r = results[i]
                r.stages.append(stage.name)
                new_learned = {s.principle for s in scores if s.decision is None}
                if new_learned:
                    learned_seen[i] = True
                    r.scores = [s for s in r.scores if s.decision is not None or s.principle not in new_learned]
                r.scores.extend(scores)
                if not self._sure(r.scores, learned_seen[i]):
                    still.append(i)
            pending = still
        return results

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
