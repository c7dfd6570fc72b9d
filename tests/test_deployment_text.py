"""scripts/deployment_text.py: the generic deployment text training wraps contexts in."""

from __future__ import annotations

import importlib.util
import random
import re
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "deployment_text.py"
HELD_OUT = Path(__file__).resolve().parents[1] / "bench" / "judgment_dev" / "deployment.json"


@pytest.fixture(scope="module")
def dt():
    spec = importlib.util.spec_from_file_location("deployment_text", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_context_is_kept_whole_and_the_text_varies(dt):
    ctx = "Billing agent at a telecom. A customer asks to cancel their contract."
    rng = random.Random(0)
    wrapped = [dt.wrap(ctx, rng) for _ in range(200)]
    assert all(ctx in w and w != ctx for w in wrapped)
    assert len(set(wrapped)) == 200
    assert {w.startswith(ctx) for w in wrapped} == {True, False}  # text before it, and only after it
    assert {w.endswith(ctx) for w in wrapped} == {True, False}


def test_it_says_nothing_about_right_and_wrong(dt):
    """Decision-neutral: no word of permission, risk, harm or oversight in any piece."""
    loaded = re.compile(r"\b(?:allow|forbid|never|must not|risk|harm|safe|unsafe|approv|consent|polic|legal|ethic|"
                        r"complian|escalat|human review|maximi[sz]e|privacy)", re.I)
    rng = random.Random(1)
    hits = [w for w in (dt.wrap("X.", rng) for _ in range(2000)) if loaded.search(w)]
    assert hits == []


def test_training_text_shares_nothing_with_the_evaluation_text(dt):
    """The evaluation's deployment text was written apart; no sentence of it is in this module."""
    import json

    held = json.loads(HELD_OUT.read_text(encoding="utf-8"))
    src = SCRIPT.read_text(encoding="utf-8")
    sentences = [s.strip() for t in held["prefixes"] + held["suffixes"] for s in re.split(r"[.\n]", t) if len(s.strip()) > 25]
    assert sentences and not [s for s in sentences if s in src]


POOLS = sorted((Path(__file__).resolve().parents[1] / "corpus" / "deployment").glob("*.json"))


def test_the_hand_written_pools_are_neutral_and_apart_from_the_evaluation_text():
    """The scaffold classifier's hand-written deployment text (corpus/deployment) says nothing about
    right and wrong, and shares no sentence with the evaluation's."""
    import json

    assert len(POOLS) >= 3
    loaded = re.compile(r"\b(?:allow|forbid|never|must not|risk|harm|safe|unsafe|approv|consent|polic|legal|ethic|"
                        r"complian|escalat|human review|maximi[sz]e|privacy)", re.I)
    held = json.loads(HELD_OUT.read_text(encoding="utf-8"))
    sentences = [s.strip() for t in held["prefixes"] + held["suffixes"] for s in re.split(r"[.\n]", t) if len(s.strip()) > 25]
    for path in POOLS:
        pool = json.loads(path.read_text(encoding="utf-8"))
        pieces = pool["openings"] + pool["endings"]
        assert len(pool["openings"]) >= 150 and len(pool["endings"]) >= 150
        assert [p for p in pieces if loaded.search(p)] == [], path.name
        text = "\n".join(pieces)
        assert [s for s in sentences if s in text] == [], path.name


def test_a_pool_lends_half_the_pieces_and_leaves_the_draws_without_one_alone(dt):
    ctx = "Billing agent at a telecom. A customer asks to cancel their contract."
    pool = {"openings": ["OPENING-FROM-POOL"], "endings": ["ENDING-FROM-POOL"]}
    wrapped = [dt.wrap(ctx, random.Random(i), pool) for i in range(400)]
    assert all(ctx in w for w in wrapped)
    share = sum("FROM-POOL" in w for w in wrapped) / len(wrapped)
    assert 0.35 < share < 0.85
    # without a pool, the same draws as before pools existed (the shipped recipe's wrapping is reproducible)
    def before_pools(rng):
        r = rng.random()
        before = dt.preamble(rng) if r < 0.70 else ""
        after = dt.appendix(rng) if r >= 0.45 else ""
        return "\n\n".join(p for p in (before, ctx, after) if p)

    assert [dt.wrap(ctx, random.Random(i)) for i in range(50)] == [before_pools(random.Random(i)) for i in range(50)]
