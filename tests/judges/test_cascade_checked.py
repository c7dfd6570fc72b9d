"""The cascade's check of a judge's answer: the batch-wide fast test accepts exactly what the
score-by-score check accepts, so a bad score anywhere in a batch still fails the stage (fail closed)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from accord.charter.loader import load_charter
from accord.errors import JudgeError
from accord.judges.cascade import _all_valid, _checked
from accord.types import DECISION_ORDER, Case, Score


class _Sub(Score):
    pass


class _ListSub(list):
    pass


def _reference_ok(out, known) -> bool:
    """The rules _checked states, score by score."""
    for scores in out:
        if not isinstance(scores, list):
            return False
        for s in scores:
            if not isinstance(s, Score):
                return False
            x = s.score
            if not isinstance(x, (int, float)) or isinstance(x, bool) or not (0.0 <= x <= 1.0):
                return False
            try:
                if s.principle not in known or (s.decision is not None and s.decision not in DECISION_ORDER):
                    return False
            except TypeError:
                return False
    return True


class _Fixed:
    name = "fixed"
    version = "fixed-1"

    def __init__(self, out):
        self.out = out

    def judge(self, cases, charter):
        return self.out


@pytest.fixture(scope="module")
def charter():
    return load_charter(None)


def _good(pid: str, rng: random.Random) -> Score:
    return Score.model_construct(principle=pid, score=rng.choice([0.0, 1.0, 0.5, 1, 0, rng.random()]), source="t",
                                 evidence=[], rule=None, decision=rng.choice([None, None, "allow", "block", "revise", "escalate"]),
                                 revised=None, settled=False)


BAD = [
    lambda pid: Score.model_construct(principle=pid, score=float("nan"), source="t", decision=None),
    lambda pid: Score.model_construct(principle=pid, score=math.inf, source="t", decision=None),
    lambda pid: Score.model_construct(principle=pid, score=-1e-9, source="t", decision=None),
    lambda pid: Score.model_construct(principle=pid, score=1.0000001, source="t", decision=None),
    lambda pid: Score.model_construct(principle=pid, score=True, source="t", decision=None),
    lambda pid: Score.model_construct(principle=pid, score="0.5", source="t", decision=None),
    lambda pid: Score.model_construct(principle=pid, score=None, source="t", decision=None),
    lambda pid: Score.model_construct(principle="not-a-principle", score=0.5, source="t", decision=None),
    lambda pid: Score.model_construct(principle=[pid], score=0.5, source="t", decision=None),
    lambda pid: Score.model_construct(principle=pid, score=0.5, source="t", decision="maybe"),
    lambda pid: Score.model_construct(principle=pid, score=0.5, source="t", decision=["block"]),
    lambda pid: {"principle": pid, "score": 0.5},
    lambda pid: "harm",
]
ODD_BUT_FINE = [  # not the fast path's plain shape, but accepted score by score
    lambda pid: Score.model_construct(principle=pid, score=np.float64(0.25), source="t", decision=None),
    lambda pid: _Sub.model_construct(principle=pid, score=0.25, source="t", decision=None),
]


def test_fast_check_accepts_exactly_what_the_score_by_score_check_accepts(charter):
    rng = random.Random(0)
    pids = charter.principle_ids
    known = charter._by_id
    seen = {True: 0, False: 0}
    for _trial in range(3000):
        out = [[_good(rng.choice(pids), rng) for _ in range(rng.randint(0, 4))] for _ in range(rng.randint(1, 6))]
        kind = rng.random()
        if kind < 0.5 and any(out):  # one bad or odd score somewhere in the batch
            i = rng.choice([k for k, a in enumerate(out) if a])
            out[i][rng.randrange(len(out[i]))] = rng.choice(BAD + ODD_BUT_FINE)(rng.choice(pids))
        elif kind < 0.6:
            out[rng.randrange(len(out))] = rng.choice([_ListSub(out[0]), tuple(out[0]), None])
        ref = _reference_ok(out, known)
        fast = _all_valid(out, known)
        assert not fast or ref, f"fast check accepted what the reference rejects: {out!r}"
        cases = [Case(action="x")] * len(out)
        if ref:
            assert _checked(_Fixed(out), cases, charter) is out
        else:
            with pytest.raises((JudgeError, TypeError)):  # the cascade fails the stage on either (an unhashable principle)
                _checked(_Fixed(out), cases, charter)
        seen[ref] += 1
    assert seen[True] > 500 and seen[False] > 500
