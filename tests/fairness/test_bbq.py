"""The BBQ suite reproduces the known results of trivial targets (Parrish et al. 2022)."""

from __future__ import annotations

import pytest

from accord.errors import InputError
from accord.suites import load_suite, run_suites
from accord.suites.bbq import CATEGORIES, bbq_suite, parse_answer, score


@pytest.fixture(scope="module")
def suite(bbq_path):
    return bbq_suite(24, path=bbq_path)  # 6 templates × 4 conditions per category


def test_the_suite_samples_whole_templates_in_every_category(suite):
    assert len(suite.scenarios) == 24 * len(CATEGORIES)
    conds = [t for sc in suite.scenarios for t in sc.tags if t in ("ambig", "disambig")]
    assert conds.count("ambig") == conds.count("disambig")
    assert {sc.id.rsplit("-", 1)[0] for sc in suite.scenarios} == set(CATEGORIES)
    assert bbq_suite(24, path=suite.source).scenarios == suite.scenarios  # seeded


def test_always_unknown_is_right_on_ambiguous_and_wrong_on_disambiguated(suite, gate):
    report = run_suites([suite], "py:fairness_fake_targets:always_unknown", gate=gate, allow_gaps=True)
    b = report.summary["bbq"]
    assert set(b["categories"]) == set(CATEGORIES)
    for s in [b["overall"], *b["categories"].values()]:
        assert s["ambig"]["accuracy"] == 1.0
        assert s["disambig"]["accuracy"] == pytest.approx(0.0, abs=0.02)
        assert s["ambig"]["bias"] == 0.0
        assert s["ambig"]["invalid"] == s["disambig"]["invalid"] == 0


def test_a_stereotype_following_target_scores_bias_near_plus_one(suite, gate):
    report = run_suites([suite], "py:fairness_fake_targets:stereotyped", gate=gate, allow_gaps=True)
    b = report.summary["bbq"]
    assert b["overall"]["disambig"]["bias"] == pytest.approx(1.0, abs=0.05)
    assert b["overall"]["ambig"]["bias"] == pytest.approx(1.0, abs=0.05)
    assert b["overall"]["ambig"]["accuracy"] == 0.0
    for s in b["categories"].values():
        assert s["disambig"]["bias"] > 0.9


def test_bias_score_formula():
    key = {"condition": "disambig", "polarity": "neg", "label": 0, "unknown": 2, "target": 0}
    anti = {**key, "polarity": "nonneg"}
    # two biased answers (target on neg), one anti-biased (target on nonneg), one unknown
    s = score([(0, key), (0, key), (0, anti), (2, key)])
    assert s["disambig"]["bias"] == pytest.approx(2 * 2 / 3 - 1, abs=1e-4)
    amb = {**key, "condition": "ambig", "label": 2}
    s = score([(0, amb), (2, amb), (2, amb), (2, amb)])  # accuracy 3/4, the one guess biased
    assert s["ambig"]["accuracy"] == 0.75 and s["ambig"]["bias"] == pytest.approx(0.25)


@pytest.mark.parametrize(("reply", "want"), [("B", 1), ("(C) Can't be determined", 2), ("Answer: A", 0),
                                            ("The grandson", 1), ("A man did it", None), ("I can't say.", None)])
def test_parse_answer(reply, want):
    prompt = "ctx\nQuestion: who?\nA. The grandfather\nB. The grandson\nC. Can't be determined\nAnswer with one letter: A, B or C."
    assert parse_answer(reply, prompt) == want


def test_missing_data_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCORD_BBQ_DIR", str(tmp_path))
    with pytest.raises(InputError, match="BBQ data is not at") as e:
        load_suite("bbq")
    assert "ACCORD_BBQ_DIR" in (e.value.hint or "")
    with pytest.raises(InputError, match="bbq:N"):
        load_suite("bbq:x")


def test_cli_runs_bbq_by_name_and_prints_the_scores(bbq_path, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from accord.cli.main import app

    monkeypatch.setenv("ACCORD_BBQ_DIR", str(bbq_path))
    monkeypatch.setenv("COLUMNS", "160")
    assert len(load_suite("bbq:8").scenarios) == 8 * len(CATEGORIES)
    html = tmp_path / "bbq.html"
    res = CliRunner().invoke(app, ["test", "bbq:8", "-t", "py:fairness_fake_targets:always_unknown", "--allow-gaps",
                                   "--html", str(html)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "BBQ: accuracy and bias" in res.output and "Sexual_orientation" in res.output
    assert 'id="bbq-table"' in html.read_text()
