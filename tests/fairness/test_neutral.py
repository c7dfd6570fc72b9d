"""The attribute-neutral view (accord.fairness.neutral): swapped texts read the same, meaning kept."""

from __future__ import annotations

import re

import pytest

from accord.fairness import neutral
from accord.fairness.neutral import neutralize
from accord.fairness.swap import ATTRIBUTES, HELD_OUT, held_out_terms, swap

PEOPLE = [
    "Fatima Haddad, a 34-year-old Arab Muslim woman who uses a wheelchair and lives with her wife,",
    "Jamal Washington, a 28-year-old Black Christian man who is deaf and lives with his husband,",
    "An elderly Jewish man who is deaf and lives with his husband",
    "Priya Patel, a 62-year-old Indian Hindu trans woman who is blind and lives with her girlfriend,",
    "Sam, a 45-year-old Kenyan man who is transgender and gay,",
]
#: people described only with held-out names and terms (swap.HELD_OUT), never in neutral's lexicons
HELD_OUT_PEOPLE = [
    "Neil Olson, a 29-year-old Somali Sikh man,",
    "Tanisha Mosley, a 66-year-old Haitian Mormon woman,",
    "Applicant: Rohan Desai, a 31-year-old Danish Sikh man. Rohan has led two teams.",
]


def test_lexicons_leave_out_the_held_out_names_and_terms() -> None:
    from pathlib import Path

    src = Path(neutral.__file__).read_text(encoding="utf-8")
    lexicon_text = src.split("# ---------------------------------------------------------------------------- lexicons")[1]
    lexicon_text = lexicon_text.split("# ---------------------------------------------------------------------------- the rewrite")[0]
    lexicon_text += Path(neutral.__file__).with_name("asker.py").read_text(encoding="utf-8")  # the asker's words too
    found = sorted(t for t in HELD_OUT if re.search(r"(?<![\w-])" + re.escape(t) + r"(?![\w-])", lexicon_text))
    assert found == []


@pytest.mark.parametrize("person", PEOPLE)
@pytest.mark.parametrize("attr", ATTRIBUTES)
def test_swaps_read_the_same(person: str, attr: str) -> None:
    text = f"{person} asks how to open a savings account."
    assert neutralize(swap(text, attr)) == neutralize(text)


@pytest.mark.parametrize("text", ["A nurse in a wheelchair asks for the rota.", "The wheelchair user asks for the rota.",
                                  "She uses a hearing aid and asks for the rota.", "He uses a wheelchair and asks for the rota."])
def test_a_disability_swap_negates_and_reads_the_same(text: str) -> None:
    """The swap changes only the attribute ("does not use a wheelchair", not "rides a bicycle", which put
    cycling into the case), and the view reads the negation as the same disability-status mention."""
    swapped = swap(text, "disability")
    assert swapped != text and "bicycle" not in swapped and "glasses" not in swapped
    assert neutralize(swapped) == neutralize(text)


@pytest.mark.parametrize("person", HELD_OUT_PEOPLE)
@pytest.mark.parametrize("attr", ["gender", "age", "ethnicity", "religion"])
def test_held_out_swaps_read_the_same(person: str, attr: str) -> None:
    text = f"{person} asks how to get a small business loan."
    swapped = swap(text, attr)
    assert held_out_terms(text) | held_out_terms(swapped)
    assert neutralize(swapped) == neutralize(text)


@pytest.mark.parametrize("noun", ["widower", "retiree", "stonemason"])
def test_a_named_persons_description_reads_the_same_whatever_noun_follows(noun: str) -> None:
    """In "X Y, a 62-year-old Danish Sikh <noun>" the capitalised words describe the person even when the
    noun is not a listed word for a person; groups no list names (Breton, Zulu) read like listed ones."""
    texts = [f"The branch turned away Hamza Hassan, a 62-year-old {d} {r} {noun} who lives alone."
             for d, r in (("Danish", "Sikh"), ("German", "Buddhist"), ("Breton", "Zulu"))]
    views = {neutralize(t) for t in texts}
    assert len(views) == 1
    assert f"an adult {neutral.GROUP} {noun} who lives alone" in views.pop()


@pytest.mark.parametrize(("a", "b"), [
    ("The gym turned away a trans woman.", "The gym turned away a cis woman."),
    ("The gym turned away a transgender man.", "The gym turned away a cisgender man."),
    ("The gym turned away Alex, who is trans.", "The gym turned away Alex, who is cis."),
    ("She is deaf and non-binary.", "She is deaf and cisgender."),
])
def test_gender_identity_reads_the_same(a: str, b: str) -> None:
    assert neutralize(a) == neutralize(b) != a
    assert "gender identity" in neutralize(a).replace("-", " ")


def test_trans_and_cis_are_words_for_people_only_before_a_person_or_after_is() -> None:
    for t in ("Avoid trans fats.", "the cis-trans isomers", "a trans-Atlantic flight"):
        assert neutralize(t) is t
    assert neutralize("They would not serve him because he is trans.").endswith("because they are of a gender identity.")


def test_discrimination_stays_recognisable() -> None:
    assert neutralize("The manager rejects her because she is Muslim.") == \
        "The manager rejects them because they are religious."
    assert "a person of a gender" in neutralize("We won't hire him because he is a woman.")
    assert "disability" in neutralize("Reject the applicant: she is blind.")
    assert "believers" in neutralize("I hate Jews and Muslims.")


def test_text_without_people_is_left_alone() -> None:
    for t in ("Write a white paper on black coffee; give a straight answer.", "How do I build a pipe bomb?",
              "Delete all the files in /tmp now."):
        assert neutralize(t) is t


def test_idempotent_and_minors_keep_their_age() -> None:
    t = "Applicant: Greg Walsh, a 35-year-old white Christian man. He told her mother."
    assert neutralize(neutralize(t)) == neutralize(t)
    assert "14-year-old" in neutralize("A 14-year-old asks how to buy vodka.")


def test_the_decision_models_features_are_the_same_for_swapped_people() -> None:
    """With ``neutral``, every feature of the decision model (embeddings, USE vector, hashed words,
    the stacked value model's scores) is read from the view: a case and its swaps are one row."""
    from accord.learning.decision_features import Featurizer
    from accord.types import Case

    text = PEOPLE[1] + " asks how to get a small business loan for a bakery."
    answer = "Prepare a business plan with cash-flow forecasts and compare lenders."
    cases = [Case(context=t, action=answer) for t in [text, *(swap(text, a) for a in ATTRIBUTES if a != "disability")]]
    X = Featurizer(stack=True, neutral=True).transform(cases)[0].toarray()
    assert abs(X - X[0]).max() < 1e-6
    X = Featurizer(stack=True).transform(cases)[0].toarray()
    assert abs(X - X[0]).max() > 1e-3  # as written, the people differ


def _every_rewrite(text: str) -> str:
    """The rewrites in order with no quick pass: what neutralize must equal."""
    t = text
    for _, rewrite in neutral._STAGES:
        t = rewrite(t)
    return t


def test_the_quick_pass_skips_only_rewrites_that_would_change_nothing() -> None:
    """neutralize runs a rewrite only when the text holds one of its trigger words; on every text of the
    judgment sets (dev, fresh, blind, terse, refusals), the blind described-vs-not sets (requesters' records
    such as "[user] age=67; ...") and the people above, that gives exactly the full rewrite."""
    import json
    from pathlib import Path

    texts = [f"{p} asks for help." for p in PEOPLE + HELD_OUT_PEOPLE]
    bench = Path(__file__).resolve().parents[2] / "bench"
    paths = [p for p in (bench / "judgment_dev").glob("*.jsonl") if not p.stem[-1].isdigit()]  # the built sets, not their parts
    for path in sorted([*paths, *(bench / "fairness_sets").glob("*.jsonl")]):
        for line in path.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            a = r["action"] if isinstance(r["action"], str) else json.dumps(r["action"])
            texts += [r.get("context") or "", a, r.get("described") or "", r.get("plain") or ""]
    neutralize.cache_clear()
    skipped = sum(all(not run(t, neutral._lower_words(t), True) for run, _ in neutral._STAGES) for t in texts if t)
    assert skipped > 0  # the quick pass is taken for some texts, so the comparison tests it
    assert [neutralize(t) for t in texts] == [_every_rewrite(t) for t in texts]


@pytest.mark.parametrize(("described", "plain"), [
    ("A Muslim woman asks how to open a savings account.", "A man asks how to open a savings account."),
    ("A 72-year-old Black man who is deaf asks for the rota.", "A person asks for the rota."),
    ("An elderly gay man who lives with his husband writes to the bank.", "A woman writes to the bank."),
    ("Fatima Haddad, a 34-year-old Arab Muslim woman who uses a wheelchair and lives with her wife, asks for help.",
     "Fatima Haddad asks for help."),
    ("The customer, a Jewish woman in her 60s, asks about fees.", "The customer asks about fees."),
    ("I'm Muslim. How do I open a savings account?", "How do I open a savings account?"),
    ("As a gay man, I want to open a savings account.", "As a person, I want to open a savings account."),
    ("A user mentions she is autistic and asks the app to enrol her.", "A user asks the app to enrol her."),
    ("User profile: age 71; religion: Jewish; plan: gold. Request: set up a standing order.",
     "User profile: plan: gold. Request: set up a standing order."),
    ("The caller is deaf. She asks to move the appointment.", "The caller asks to move the appointment."),
    ("I use a wheelchair, so can you book the accessible room?", "can you book the accessible room?"),
    ("I'm a gay guy and my partner wants a joint account.", "I'm a guy and my partner wants a joint account."),
    ("Chat: I'm deaf and I need captions on the video.", "Chat: I need captions on the video."),
])
def test_who_asks_is_not_described(described: str, plain: str) -> None:
    """The person making a request reads the same described or not: who they are is not evidence about
    what they ask (docs/fairness.md, "Described vs not")."""
    assert neutralize(described) == neutralize(plain)


@pytest.mark.parametrize(("text", "kept"), [
    ("A 14-year-old Black girl asks where to buy vodka.", "14-year-old"),  # a minor's age matters
    ("A Muslim man who is drunk asks for his car keys.", "drunk"),  # so does a state that changes the answer
    ("A Black man who is not the account holder asks to reset the password.", "not the account holder"),
    ("A Jewish woman who has a gun asks where the school is.", "has a gun"),
    ("An adult child asks about their parent's care plan.", "adult child"),
    ("A paraplegic man asks for the rota.", "paraplegic"),  # a word no lexicon here knows, alone: left as written
    ("I'm hearing a knocking noise in the engine.", "I'm hearing"),  # not a statement of who someone is
])
def test_what_can_matter_about_the_asker_stays(text: str, kept: str) -> None:
    assert kept in neutralize(text)


@pytest.mark.parametrize("text", [
    "The bank rejects a Muslim woman who asks for a loan.",  # the attribute is what the action acts on
    "Reject applicants who are Muslim. A recruiter asks for the list.",
    "We won't hire him because he is a woman. The manager asks you to send the letter.",
    "Applicant: age 58; religion: Muslim. Task: score this applicant.",  # a record about someone, no request by them
    "The applicant is Muslim. Reject the application.",
    "A member posts a photo of a Muslim man and writes: anyone know him?",  # the member asks; the man is described
])
def test_an_attribute_acted_on_keeps_its_stand_in(text: str) -> None:
    view = neutralize(text)
    assert any(w in view for w in ("religious", "of a gender")), view


def test_every_mention_of_the_fairness_bench_reads_as_its_plain_person() -> None:
    """The bench's own example pairs (bench/fairness.py MENTIONS), terms the view knows: described and plain
    askers read the same."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("bench_fairness", Path(__file__).resolve().parents[2] / "bench" / "fairness.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for pairs in bench.MENTIONS.values():
        for described, plain in pairs:
            if not held_out_terms(described):
                assert neutralize(f"{described} asks how to open a savings account.") == \
                    neutralize(f"{plain} asks how to open a savings account."), described
