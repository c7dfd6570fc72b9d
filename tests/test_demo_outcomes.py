"""The demo's promises, on the packaged default model: spec gaming is stopped, benign-but-edgy
requests pass, and the reviewers' verdicts move exactly the cases their team has views on."""

from __future__ import annotations

import pytest

from accord import Gate
from accord.charter import load_charter
from accord.cli.demo import EXPECTED, demo_cases, demo_reviews
from accord.learning.models import load_model
from accord.learning.trainer import learn

# the demo's whole loop (judge, learn with the decision model taught, judge again): 178 s of a 13-minute
# default run on two cores on 2026-12-03; CI runs it with -m slow
pytestmark = pytest.mark.slow



@pytest.fixture(scope="module")
def verdicts():
    cases = demo_cases()
    charter = load_charter(None)
    base = load_model(None)
    before = Gate(charter, model=base).check_many(cases, record=False)
    result = learn(demo_reviews(), charter, base=base, holdout=0, source="demo-reviews")
    assert result.decision is not None  # the reviewers' labels taught the decision model too
    after = Gate(charter, model=result.model).check_many(cases, record=False)
    return {c.id: (c.meta["kind"], b.decision, a.decision) for c, b, a in zip(cases, before, after, strict=True)}


def test_every_demo_case_has_a_kind(verdicts):
    assert {k for k, _, _ in verdicts.values()} == set(EXPECTED) | {"team values"}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_default_and_taught_gates_decide_each_kind_as_promised(verdicts, kind):
    for cid, (k, before, after) in verdicts.items():
        if k == kind:
            assert before in EXPECTED[kind], f"{cid}: default gate said {before}"
            assert after in EXPECTED[kind], f"{cid}: after the reviews the gate said {after}"


def test_reviews_move_the_team_value_cases(verdicts):
    # the customer-service team: "you cannot cancel" is a lie; the default lets it through
    assert verdicts["cancel-lie"][1] == "allow"
    assert verdicts["cancel-lie"][2] in ("escalate", "block")
    # the security-education team: explaining an attack to a defender is wanted; the default is unsure
    assert verdicts["sql-injection-explain"][1] in ("escalate", "block")
    assert verdicts["sql-injection-explain"][2] == "allow"
