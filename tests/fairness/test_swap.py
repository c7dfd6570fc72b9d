"""Demographic swaps: each attribute changes who a text is about and nothing else."""

from __future__ import annotations

import pytest

from accord.fairness.flips import answer_options, behaviour, chosen_option, wilson
from accord.fairness.swap import (
    ATTRIBUTES,
    DEMOGRAPHIC_MUTATIONS,
    demographic_attribute,
    lexicon,
    swap,
    swap_details,
    swap_pairs,
)
from accord.suites.mutations import get_mutation, mutate


@pytest.mark.parametrize(("attr", "text", "want", "pair"), [
    ("gender", "A Muslim woman asks how to open an account for her son. She is new here.",
     "A Muslim man asks how to open an account for his daughter. He is new here.", "female→male"),
    ("gender", "Jamal told Mr. Jackson that he would call him.", "Lakisha told Ms. Jackson that she would call her.", "male→female"),
    ("gender", "Give her file to her.", "Give his file to him.", "female→male"),
    ("gender_identity", "A trans woman who is transgender.", "A cis woman who is cisgender.", "trans→cis"),
    ("gender_identity", "A non-binary applicant.", "A cisgender applicant.", "non-binary→cis"),
    ("age", "Applicant: a 34-year-old nurse, aged 34.", "Applicant: a 74-year-old nurse, aged 74.", "young→old"),
    ("age", "An elderly man and an 18-year-old.", "A young man and a 58-year-old.", "old→young"),
    ("ethnicity", "Lakisha Washington, a Black applicant from Nigeria.", "Emily Walsh, a White applicant from Germany.", "Black→white"),
    ("religion", "A Muslim woman who prays at the mosque.", "A Christian woman who prays at the church.", "Muslim→Christian"),
    ("disability", "A blind Hindu nurse who uses a wheelchair.", "A sighted Hindu nurse who does not use a wheelchair.", "disabled→non-disabled"),
    ("orientation", "He lives with his husband; she is a lesbian.", "He lives with his wife; she is straight.", "LGB→straight"),
])
def test_swaps(attr, text, want, pair):
    out, pairs = swap_details(text, attr)
    assert out == want
    assert pair in pairs


def test_ambiguous_words_swap_only_for_people():
    assert swap("a white paper on black holes", "ethnicity") == "a white paper on black holes"
    assert swap("a white family", "ethnicity") == "a Black family"
    assert swap("a straight answer", "orientation") == "a straight answer"
    assert swap("a straight couple", "orientation") == "a gay couple"
    assert swap("a double-blind trial", "disability") == "a double-blind trial"
    assert swap("MS patients", "gender") == "MS patients"  # not "Ms"
    assert swap("non-disabled staff", "disability") == "non-disabled staff"
    assert swap("aged 30-55, age 28-40, 30-55 years old", "age") == "aged 30-55, age 28-40, 30-55 years old"  # ranges
    assert swap("a male-to-female trans woman", "gender") == "a female-to-male trans man"
    assert swap("Avoid trans fats and cis-trans isomers.", "gender_identity") == "Avoid trans fats and cis-trans isomers."


def test_a_swap_changes_only_its_attribute():
    text = "Jamal Washington, a 28-year-old Black Muslim man who is deaf, lives with his husband."
    g = swap(text, "gender")
    assert "Washington" in g and "Black" in g and "Muslim" in g and "28" in g and "deaf" in g
    e = swap(text, "ethnicity")
    assert e.startswith("Greg Walsh") and " man " in e and "his husband" in e  # gender kept
    assert swap(text, "religion") == text.replace("Muslim", "Christian")


def test_names_and_swaps_are_reversible_where_paired():
    text = "Lakisha Washington met Greg Walsh and Mei Chen."
    for attr in ("gender", "ethnicity"):
        assert swap(swap(text, attr), attr) == text


def test_text_without_people_is_unchanged():
    text = "Summarise the quarterly sales report in three bullet points."
    for attr in ATTRIBUTES:
        assert swap(text, attr) == text
        assert not swap_pairs(text, attr)


def test_case_is_kept():
    assert swap("SHE SAID", "gender") == "HE SAID"
    assert swap("Woman", "gender") == "Man"


def test_registry_has_one_mutation_per_attribute():
    assert [demographic_attribute(m) for m in DEMOGRAPHIC_MUTATIONS] == list(ATTRIBUTES)
    assert demographic_attribute("base64") is None and demographic_attribute(None) is None
    assert mutate("a Muslim man", "swap_religion") == "a Christian man"
    assert "Demographic swap" in get_mutation("swap_gender").description
    for attr in ATTRIBUTES:
        assert len(lexicon(attr)) >= 8


def test_unknown_attribute_lists_the_known():
    with pytest.raises(KeyError, match="gender, gender_identity, age, ethnicity"):
        swap("x", "height")


def test_wilson_interval():
    lo, hi = wilson(0, 10)  # type: ignore[misc]
    assert lo == 0 and hi == pytest.approx(0.2775, abs=1e-3)
    lo, hi = wilson(5, 10)  # type: ignore[misc]
    assert (lo, hi) == (pytest.approx(0.2366, abs=1e-3), pytest.approx(0.7634, abs=1e-3))
    assert wilson(0, 0) is None


def test_behaviour_reads_the_offered_answer():
    prompt = "Decide. Answer with one word: APPROVE or DENY."
    assert answer_options(prompt) == ["APPROVE", "DENY"]
    assert chosen_option("I would deny this one.", answer_options(prompt)) == "DENY"
    assert behaviour("APPROVE", "none", prompt) == "APPROVE (answered)"
    assert behaviour("I can't help with that.", "full", "Tell me about her.") == "refused"
