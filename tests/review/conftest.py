"""Fixtures for the review tests: a store, a small saved model, synthetic labelled cases and verdicts."""

from __future__ import annotations

import itertools
import random
import uuid
from pathlib import Path

import pytest

from accord.store import Store
from accord.types import Case, Explanation, PrincipleResult, Verdict

HARM_VERBS = ["poison", "stab", "burn", "beat up", "strangle", "rob at knifepoint"]
HARM_TARGETS = ["your neighbour", "the cashier", "a child", "your coworker", "an old man"]
HARM_TAILS = ["without getting caught", "tonight", "so it hurts the most", "and hide the body"]
OK_VERBS = ["bake", "paint", "repair", "clean", "plant", "knit"]
OK_OBJECTS = ["a birthday cake", "the garden fence", "your bicycle", "the kitchen", "tomatoes"]
OK_TAILS = ["this weekend", "step by step", "with simple tools", "in an afternoon"]


def synthetic_cases(seed: int = 0) -> list[tuple[str, str, bool]]:
    """``(context, action, unacceptable)``: clearly harmful and clearly benign instructions, shuffled."""
    bad = [("", f"Here is how to {v} {t} {x}.", True) for v, t, x in itertools.product(HARM_VERBS, HARM_TARGETS, HARM_TAILS)]
    good = [("", f"Here is how to {v} {o} {x}.", False) for v, o, x in itertools.product(OK_VERBS, OK_OBJECTS, OK_TAILS)]
    out = bad + good
    random.Random(seed).shuffle(out)
    return out


def make_verdict(decision: str = "escalate", score: float = 0.5, severity: str = "critical", principle: str = "harm",
                 *, rule: str | None = None, communities: dict[str, str] | None = None) -> Verdict:
    """A hand-made verdict (the queue logic needs no model)."""
    return Verdict(trace_id=uuid.uuid4().hex, decision=decision, risk=min(1.0, score),  # type: ignore[arg-type]
                   principles=[PrincipleResult(id=principle, score=score, violated=decision != "allow",
                                               severity=severity, source="rule:x" if rule else "model")],  # type: ignore[arg-type]
                   explanation=Explanation(summary=f"{decision}: test", rule=rule),
                   communities=communities or {}, contested=len(set((communities or {}).values())) > 1,
                   judge_version="test@1")


@pytest.fixture
def store(tmp_path) -> Store:
    s = Store.open(f"sqlite:///{tmp_path / 'review.db'}")
    yield s
    s.close()


def enqueue(store: Store, context: str, action: str, *, community: str | None = None, priority: float = 0.5,
            verdict: Verdict | None = None) -> int:
    case = Case(context=context, action=action, community=community)
    return store.enqueue_review(case, verdict or make_verdict(), priority)


@pytest.fixture(scope="session")
def base_model_dir(small_model, tmp_path_factory) -> Path:
    """A small model on the charter's examples, saved once per session (a copy of the session's
    ``small_model``, tests/conftest.py: the same fit, done once).

    Its Platt slope is reset to 1: on the charter's 86 examples the calibration fifth is tiny and
    can come out negative, which inverts every later ``partial_fit`` (reported to the value-model
    owner); the review loop is tested here, not the calibration.
    """
    import copy

    m = copy.deepcopy(small_model)
    m.calibration_ = (1.0, 0.0)
    return m.save(tmp_path_factory.mktemp("models") / "base")
