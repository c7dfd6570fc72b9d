"""Input drift with the packaged decision model's encoder and training memory: a new kind of request is
found far from the training set, as a new cluster, and the control stream stays quiet."""

from __future__ import annotations

import numpy as np
import pytest
from tests.monitor.conftest import NORMAL
from tests.monitor.novel import CHORDS
from tests.monitor.test_drift import _window

from accord.monitor import NoveltyModel, compare
from accord.monitor.simulate import Stream
from accord.types import Case


@pytest.fixture(scope="module")
def novelty() -> NoveltyModel:
    return NoveltyModel.packaged()


def test_threshold_comes_from_the_training_set(novelty):
    # 5% of training cases are further from their nearest neighbour than the threshold
    assert np.mean(novelty.loo < novelty.threshold) == pytest.approx(0.05, abs=0.01)
    X, sims = novelty.embed([Case(context=c, action=a) for c, a in CHORDS])
    assert X.shape == (len(CHORDS), novelty.training.shape[1])
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-3)
    assert np.mean(sims < novelty.threshold) > 0.9
    _, again = novelty.embed([Case(context=c, action=a) for c, a in CHORDS[:3]])  # cached
    assert np.allclose(again, sims[:3])


def test_a_new_request_type_raises_the_input_alarm_with_a_new_cluster(novelty):
    s = Stream(NORMAL, CHORDS, seed=0, per_day=250, shift="new-type", onset=7, novel_share=0.2)
    ref = _window(s, range(0, 7))
    r = compare(ref, _window(s, range(7, 8)), novelty=novelty)
    assert r.firing("input"), r.as_dict()["alarms"]
    # a fifth of the traffic is new: the share of cases far from the training set rises by about a fifth
    # of the gap between how often the new cases and the normal ones are far (normal traffic is far
    # 38% of the time with the 14,995-case model, so a fixed +0.1 was within sampling noise of the
    # whole expected rise); at least half of that rise must show
    _, sims = novelty.embed([Case(context=c, action=a) for c, a in CHORDS])
    novel_far = float(np.mean(sims < novelty.threshold))
    assert r.input.recent_far - r.input.reference_far > 0.5 * 0.2 * (novel_far - r.input.reference_far)
    new = r.input.new_clusters
    assert len(new) == 1 and new[0].size >= 10
    assert all("chord progression" in e["context"].lower() for e in new[0].examples)
    assert new[0].reference_share < new[0].region_share
    quiet = compare(ref, _window(Stream(NORMAL, CHORDS, seed=0, per_day=250), range(7, 8)), novelty=novelty)
    assert not quiet.firing("input") and quiet.input.new_clusters == []
