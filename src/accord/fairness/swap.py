"""Demographic swaps: rewrite the people in a text across one protected attribute.

A swap changes who a text is about and nothing else: ``"a Muslim woman asks how to open an
account"`` becomes ``"a Christian woman asks how to open an account"`` under ``religion`` and
``"a Muslim man asks how to open an account"`` under ``gender``. If a target (or accord's own
gate) decides differently on the two texts, the decision depends on the attribute: a *flip*.

Seven attributes are covered, each by an explicit, documented lexicon (``docs/fairness.md`` lists
every entry): ``gender``, ``gender_identity`` (transgender or non-binary ↔ cisgender), ``age``,
``ethnicity`` (ethnicity and national origin), ``religion``, ``disability`` and ``orientation``
(sexual orientation). Each lexicon swaps explicit mentions
("Muslim", "a 34-year-old", "a blind applicant", "his husband"), and where it applies names and
pronouns: first names are drawn from aligned tables (per ethnic group, per gender, the same
position in each list), so a gender swap keeps a name's group (Jamal → Lakisha) and an ethnicity
swap keeps its gender (Jamal → Greg). Surnames swap with ethnicity only.

Every entry carries the *pair* of values it swaps (``"female→male"``, ``"Muslim→Christian"``),
so a flip can be reported per attribute pair. Entries are swapped in one pass (a replaced word is
never swapped back), case is kept (``Woman`` → ``Man``, ``HE`` → ``SHE``), and an ``a``/``an``
in front of a replaced word is corrected (``a young man`` → ``an elderly man``).

Known limits, by design of a word-level swap: possessive and object ``her`` are told apart by
the word that follows (``her file`` → ``his file``, ``told her.`` → ``told him.``); ``his`` always
becomes ``her``; ambiguous words (``white``, ``Black``, ``straight``, ``blind``, ``deaf``) are
swapped only in front of a word for a person (``applicant``, ``woman``, ``family``, ...) or after
``is``; a text that names nobody is returned unchanged, and callers skip it.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

#: the attributes, in the order reports list them
ATTRIBUTES: tuple[str, ...] = ("gender", "gender_identity", "age", "ethnicity", "religion", "disability", "orientation")

#: words for a person: ambiguous adjectives (``white``, ``blind``) swap only in front of one
PERSON_NOUNS = (
    "man", "men", "woman", "women", "person", "people", "persons", "applicant", "applicants", "candidate", "candidates",
    "tenant", "tenants", "patient", "patients", "employee", "employees", "worker", "workers", "family", "families",
    "couple", "couples", "customer", "customers", "student", "students", "client", "clients", "borrower", "borrowers",
    "renter", "renters", "guy", "guys", "girl", "girls", "boy", "boys", "child", "children", "neighbor", "neighbour",
    "neighbors", "neighbours", "driver", "drivers", "nurse", "doctor", "engineer", "teacher", "veteran", "resident",
    "residents", "user", "users", "member", "members", "parent", "parents", "mother", "father", "son", "daughter",
    "teen", "teenager", "adult", "adults", "friend", "friends", "colleague", "coworker", "manager", "homeowner",
    "buyer", "seller", "traveler", "traveller", "passenger", "caller", "volunteer", "community", "communities",
)
_PERSON = r"(?=[\s-]+(?:[A-Z][\w-]+\s+)?(?:" + "|".join(sorted(PERSON_NOUNS, key=len, reverse=True)) + r")\b)"


@dataclass(frozen=True)
class Entry:
    """One swap: text matching ``pattern`` becomes ``replacement``; ``pair`` names the values swapped.

    ``pattern`` is a regular expression (usually an escaped word); ``case_sensitive`` entries
    (names) match only as written. ``replacement`` may be a function of the match and the text
    after it (``her`` → ``his``/``him``).
    """

    pattern: str
    replacement: str | Callable[[str, str], str]
    pair: str
    case_sensitive: bool = False


@dataclass(frozen=True)
class Attribute:
    """A protected attribute: its name, what it covers, and its entries."""

    name: str
    description: str
    entries: tuple[Entry, ...]


def _words(pairs: list[tuple[str, str]], va: str, vb: str, *, both: bool = True, person: bool = False) -> list[Entry]:
    """Entries for word pairs ``(a, b)`` of values ``va`` and ``vb``; ``both``: swap b back to a."""
    out: list[Entry] = []
    for a, b in pairs:
        la = re.escape(a) + (_PERSON if person else "")
        out.append(Entry(la, b, f"{va}→{vb}"))
        if both:
            lb = re.escape(b) + (_PERSON if person else "")
            out.append(Entry(lb, a, f"{vb}→{va}"))
    return out


# ---------------------------------------------------------------------------- names
#: first names by group and gender, aligned by position (male i <-> female i; group g <-> partner g);
#: the white and Black names follow Bertrand & Mullainathan's résumé study (AER 2004); its "Kenya" is
#: replaced by its "Latonya", since a swap read the country in "in Kenya and Nigeria" as a name
FIRST_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "white": {"male": ("Greg", "Brad", "Todd", "Geoffrey", "Matthew", "Neil", "Brendan"),
              "female": ("Emily", "Anne", "Jill", "Allison", "Laurie", "Sarah", "Meredith")},
    "Black": {"male": ("Jamal", "Darnell", "Tyrone", "Kareem", "Rasheed", "Jermaine", "Leroy"),
              "female": ("Lakisha", "Tamika", "Ebony", "Keisha", "Latoya", "Tanisha", "Latonya")},
    "Hispanic": {"male": ("Jose", "Carlos", "Luis", "Miguel", "Juan", "Alejandro", "Diego"),
                 "female": ("Maria", "Sofia", "Guadalupe", "Lucia", "Carmen", "Gabriela", "Rosa")},
    "East Asian": {"male": ("Wei", "Hiroshi", "Jun", "Kenji", "Takeshi", "Hao", "Min-jun"),
                   "female": ("Mei", "Yuki", "Xiu", "Akiko", "Hana", "Ling", "Ji-woo")},
    "Arab": {"male": ("Mohammed", "Ahmed", "Omar", "Yusuf", "Khalid", "Tariq", "Hamza"),
             "female": ("Fatima", "Layla", "Noor", "Yasmin", "Mariam", "Amira", "Salma")},
    "South Asian": {"male": ("Rahul", "Arjun", "Sanjay", "Vikram", "Amit", "Ravi", "Rohan"),
                    "female": ("Priya", "Anjali", "Deepa", "Kavya", "Sunita", "Neha", "Pooja")},
}
SURNAMES: dict[str, tuple[str, ...]] = {
    "white": ("Walsh", "Baker", "Sullivan", "Murphy", "Kelly", "Miller", "Olson"),
    "Black": ("Washington", "Jefferson", "Jackson", "Robinson", "Banks", "Booker", "Mosley"),
    "Hispanic": ("Garcia", "Hernandez", "Lopez", "Martinez", "Gonzalez", "Rodriguez", "Ramirez"),
    "East Asian": ("Chen", "Wang", "Kim", "Tanaka", "Zhang", "Park", "Nakamura"),
    "Arab": ("Haddad", "Khalil", "Mansour", "Nasser", "Saleh", "Hassan", "Aziz"),
    "South Asian": ("Patel", "Sharma", "Gupta", "Reddy", "Kumar", "Iyer", "Desai"),
}
#: which group an ethnicity swap maps each group to (an involution: applying it twice restores the text)
GROUP_PARTNER = {"white": "Black", "Black": "white", "Hispanic": "East Asian", "East Asian": "Hispanic",
                 "Arab": "South Asian", "South Asian": "Arab"}


def _name_entries_gender() -> list[Entry]:
    out: list[Entry] = []
    for names in FIRST_NAMES.values():
        for m, f in zip(names["male"], names["female"], strict=True):
            out.append(Entry(re.escape(m), f, "male→female", case_sensitive=True))
            out.append(Entry(re.escape(f), m, "female→male", case_sensitive=True))
    return out


def _name_entries_ethnicity() -> list[Entry]:
    out: list[Entry] = []
    for g, names in FIRST_NAMES.items():
        p = GROUP_PARTNER[g]
        for gender in ("male", "female"):
            for a, b in zip(names[gender], FIRST_NAMES[p][gender], strict=True):
                out.append(Entry(re.escape(a), b, f"{g}→{p}", case_sensitive=True))
        for a, b in zip(SURNAMES[g], SURNAMES[p], strict=True):
            out.append(Entry(re.escape(a), b, f"{g}→{p}", case_sensitive=True))
    return out


# ---------------------------------------------------------------------------- gender
_FUNCTION_WORDS = ("a an the and or but to that this these those in on at for with from by about as of if when because so "
                   "than then is was be been were are up out off down over into onto back again know see tell told said")
_NOT_A_NOUN_AFTER = frozenset(_FUNCTION_WORDS.split())


def _her(matched: str, after: str) -> str:
    """``her`` is possessive (→ ``his``) when a word follows that could be what she owns, else object (→ ``him``)."""
    m = re.match(r"\s+([A-Za-z'-]+)", after)
    return "his" if m and m.group(1).lower() not in _NOT_A_NOUN_AFTER else "him"


_GENDER_WORDS = [
    ("man", "woman"), ("men", "women"), ("boy", "girl"), ("boys", "girls"), ("male", "female"), ("males", "females"),
    ("he", "she"), ("himself", "herself"), ("father", "mother"), ("fathers", "mothers"), ("dad", "mom"),
    ("son", "daughter"), ("sons", "daughters"), ("brother", "sister"), ("brothers", "sisters"),
    ("husband", "wife"), ("husbands", "wives"), ("boyfriend", "girlfriend"), ("gentleman", "lady"),
    ("gentlemen", "ladies"), ("sir", "madam"), ("uncle", "aunt"), ("nephew", "niece"), ("grandfather", "grandmother"),
    ("grandson", "granddaughter"), ("businessman", "businesswoman"), ("chairman", "chairwoman"),
    ("spokesman", "spokeswoman"), ("widower", "widow"), ("widowers", "widows"),
    ("male-to-female", "female-to-male"), ("paternity", "maternity"), ("he's", "she's"),
    ("he'd", "she'd"), ("he'll", "she'll"),
]
GENDER = Attribute(
    "gender", "man ↔ woman: gendered words, pronouns (he/she, his/her, him/her) and first names (same group)",
    tuple(_words(_GENDER_WORDS, "male", "female")
          + [Entry("his", "her", "male→female"), Entry("him", "her", "male→female"), Entry("her", _her, "female→male"),
             Entry("hers", "his", "female→male")]
          + [Entry(re.escape(a), b, p, case_sensitive=True) for a, b, p in (
              ("Mr.", "Ms.", "male→female"), ("Ms.", "Mr.", "female→male"), ("Mrs.", "Mr.", "female→male"),
              ("Mr", "Ms", "male→female"), ("Ms", "Mr", "female→male"), ("Mrs", "Mr", "female→male"))]
          + _name_entries_gender()))


# ---------------------------------------------------------------------------- gender identity
GENDER_IDENTITY = Attribute(
    "gender_identity", "transgender ↔ cisgender: 'a trans woman' ↔ 'a cis woman', 'is transgender' ↔ 'is cisgender'; "
    "non-binary → cisgender",
    (*_words([("transgender", "cisgender"), ("is trans", "is cis")], "trans", "cis"),
     *_words([("trans", "cis")], "trans", "cis", person=True),
     *_words([("non-binary", "cisgender"), ("nonbinary", "cisgender"), ("genderqueer", "cisgender")], "non-binary", "cis",
             both=False)))


# ---------------------------------------------------------------------------- age
def _age_number(n: int) -> tuple[int, str] | None:
    """18-39 ↔ 58-79 (±40 years); other ages are left alone (children, middle age, the very old)."""
    if 18 <= n <= 39:
        return n + 40, "young→old"
    if 58 <= n <= 79:
        return n - 40, "old→young"
    return None


_AGE_NUM = (r"(?<![\d–-])\d{1,3}(?=[\s-]+years?[\s-]+old\b)"  # not the upper end of a range ("30-55 years old")
            r"|(?<=\baged )\d{1,3}\b(?![-–]\d)|(?<=\bage )\d{1,3}\b(?![-–]\d)|(?<=\bage: )\d{1,3}\b(?![-–]\d)")


def _age_repl(matched: str, after: str) -> str:
    swapped = _age_number(int(matched))
    return str(swapped[0]) if swapped else matched


AGE = Attribute(
    "age", "young ↔ old: ages 18-39 ↔ 58-79 ('a 34-year-old', 'aged 67'), young/elderly, twenties/sixties",
    (Entry(_AGE_NUM, _age_repl, "age"),  # the pair is worked out from the number
     *_words([("young", "elderly"), ("younger", "older"), ("youngest", "oldest"), ("twenties", "sixties"),
              ("thirties", "seventies"), ("millennial", "baby boomer"), ("millennials", "baby boomers"),
              ("recent graduate", "recent retiree")], "young", "old")))


# ---------------------------------------------------------------------------- ethnicity and national origin
_ETHNIC = [
    ("white", "white", "Black", "Black", True), ("African-American", "Black", "European-American", "white", False),
    ("African American", "Black", "European American", "white", False),
    ("Hispanic", "Hispanic", "East Asian", "East Asian", False), ("Latino", "Hispanic", "East Asian", "East Asian", False),
    ("Latina", "Hispanic", "East Asian", "East Asian", False), ("Latinos", "Hispanic", "Asians", "East Asian", False),
    ("Asian", "East Asian", "Hispanic", "Hispanic", False), ("Asian-American", "East Asian", "Hispanic", "Hispanic", False),
    ("Arab", "Arab", "South Asian", "South Asian", False), ("Arabs", "Arab", "South Asians", "South Asian", False),
]
_NATIONS = [  # (adjective, country, value) pairs: stereotyped origin ↔ a comparison origin
    ("Mexican", "Mexico", "Canadian", "Canada"), ("Nigerian", "Nigeria", "German", "Germany"),
    ("Pakistani", "Pakistan", "British", "Britain"), ("Indian", "India", "French", "France"),
    ("Chinese", "China", "Irish", "Ireland"), ("Syrian", "Syria", "Swedish", "Sweden"),
    ("Somali", "Somalia", "Danish", "Denmark"), ("Haitian", "Haiti", "Australian", "Australia"),
]


def _ethnicity_entries() -> list[Entry]:
    out: list[Entry] = []
    for a, va, b, vb, person in _ETHNIC:
        pa = re.escape(a) + (_PERSON if person else "")
        pb = re.escape(b) + (_PERSON if person else "")
        out.append(Entry(pa, b, f"{va}→{vb}", case_sensitive=not person))
        if person or a in ("Hispanic", "Arab"):  # the others map one way (several words share a target)
            out.append(Entry(pb, a, f"{vb}→{va}", case_sensitive=not person))
    for adj_a, ctry_a, adj_b, ctry_b in _NATIONS:
        for x, y in ((adj_a, adj_b), (ctry_a, ctry_b)):
            out.append(Entry(re.escape(x), y, f"{adj_a}→{adj_b}", case_sensitive=True))
            out.append(Entry(re.escape(y), x, f"{adj_b}→{adj_a}", case_sensitive=True))
        out.append(Entry(re.escape(adj_a) + "s", adj_b + ("s" if not adj_b.endswith(("sh", "ch", "ese")) else ""),
                         f"{adj_a}→{adj_b}", case_sensitive=True))
    out += _words([("foreign-born", "native-born"), ("immigrant", "native-born")], "foreign-born", "native-born", both=False)
    out.append(Entry("native-born", "foreign-born", "native-born→foreign-born"))
    return out + _name_entries_ethnicity()


ETHNICITY = Attribute(
    "ethnicity", "ethnicity and national origin: white ↔ Black, Hispanic ↔ East Asian, Arab ↔ South Asian (words, "
    "first names, surnames), eight national origins ↔ comparison origins (Mexican ↔ Canadian, Nigerian ↔ German, ...)",
    tuple(_ethnicity_entries()))


# ---------------------------------------------------------------------------- religion
_RELIGION = [
    ("Christian", "Muslim"), ("Christians", "Muslims"), ("Jewish", "Hindu"), ("Jews", "Hindus"),
    ("Buddhist", "Sikh"), ("Buddhists", "Sikhs"), ("church", "mosque"), ("churches", "mosques"),
    ("synagogue", "temple"), ("synagogues", "temples"), ("Bible", "Quran"), ("Lent", "Ramadan"),
    ("Christmas", "Eid"), ("Passover", "Diwali"), ("priest", "imam"), ("rabbi", "pandit"),
    ("crucifix", "hijab"), ("Catholic", "Mormon"),
]
_RELIGION_VALUE = {"Christian": "Christian", "Christians": "Christian", "church": "Christian", "churches": "Christian",
                   "Bible": "Christian", "Lent": "Christian", "Christmas": "Christian", "priest": "Christian",
                   "crucifix": "Christian", "Muslim": "Muslim", "Muslims": "Muslim", "mosque": "Muslim",
                   "mosques": "Muslim", "Quran": "Muslim", "Ramadan": "Muslim", "Eid": "Muslim", "imam": "Muslim",
                   "hijab": "Muslim", "Jewish": "Jewish", "Jews": "Jewish", "synagogue": "Jewish",
                   "synagogues": "Jewish", "Passover": "Jewish", "rabbi": "Jewish", "Hindu": "Hindu", "Hindus": "Hindu",
                   "temple": "Hindu", "temples": "Hindu", "Diwali": "Hindu", "pandit": "Hindu", "Buddhist": "Buddhist",
                   "Buddhists": "Buddhist", "Sikh": "Sikh", "Sikhs": "Sikh", "Catholic": "Catholic", "Mormon": "Mormon"}


def _religion_entries() -> list[Entry]:
    out: list[Entry] = []
    for a, b in _RELIGION:
        va, vb = _RELIGION_VALUE[a], _RELIGION_VALUE[b]
        cs = a[0].isupper()
        out.append(Entry(re.escape(a), b, f"{va}→{vb}", case_sensitive=cs))
        out.append(Entry(re.escape(b), a, f"{vb}→{va}", case_sensitive=cs))
    out.append(Entry("Jew", "Hindu", "Jewish→Hindu", case_sensitive=True))
    out += [Entry("atheist", "Christian", "atheist→Christian"), Entry("atheists", "Christians", "atheist→Christian")]
    return out


RELIGION = Attribute(
    "religion", "Christian ↔ Muslim, Jewish ↔ Hindu, Buddhist ↔ Sikh, Catholic ↔ Mormon, atheist → Christian "
    "(adjectives, nouns, places and feasts of worship)", tuple(_religion_entries()))


# ---------------------------------------------------------------------------- disability
_DISABILITY_PERSON = [("disabled", "non-disabled"), ("blind", "sighted"), ("deaf", "hearing"), ("autistic", "neurotypical"),
                      ("paraplegic", "able-bodied"), ("wheelchair-using", "able-bodied")]
_DISABILITY_PHRASES_BOTH = [
    ("with a disability", "without a disability"), ("with disabilities", "without disabilities"),
    ("uses a wheelchair", "does not use a wheelchair"), ("is blind", "is sighted"), ("is deaf", "is hearing"),
    ("is autistic", "is neurotypical"), ("is disabled", "is not disabled"),
]
_DISABILITY_ONE_WAY = [
    ("in a wheelchair", "without a wheelchair"), ("wheelchair user", "non-wheelchair user"), ("has autism", "has no disability"),
    ("has epilepsy", "has no disability"), ("has schizophrenia", "has no disability"),
    ("has bipolar disorder", "has no disability"), ("has cerebral palsy", "has no disability"),
    ("has a history of depression", "has no medical history"), ("has multiple sclerosis", "has no disability"),
    ("has Down syndrome", "has no disability"), ("uses a hearing aid", "does not use a hearing aid"),
]
DISABILITY = Attribute(
    "disability", "disabled ↔ non-disabled: 'a blind applicant' ↔ 'a sighted applicant', 'uses a wheelchair' ↔ "
    "'does not use a wheelchair', 'has epilepsy' → 'has no disability', ...",
    tuple(_words(_DISABILITY_PERSON, "disabled", "non-disabled", person=True)
          + _words(_DISABILITY_PHRASES_BOTH, "disabled", "non-disabled")
          + _words(_DISABILITY_ONE_WAY, "disabled", "non-disabled", both=False)))


# ---------------------------------------------------------------------------- sexual orientation
ORIENTATION = Attribute(
    "orientation", "gay/lesbian/bisexual ↔ straight: explicit words and partners ('his husband' ↔ 'his wife')",
    (*_words([("gay", "straight"), ("lesbian", "straight"), ("bisexual", "straight"), ("queer", "straight")],
             "LGB", "straight", both=False),
     Entry("straight" + _PERSON, "gay", "straight→LGB"), Entry("is straight", "is gay", "straight→LGB"),
     Entry("is a lesbian", "is straight", "LGB→straight"), Entry("is a gay man", "is a straight man", "LGB→straight"),
     Entry("straight(?=,? (?:and|or) )", "gay", "straight→LGB"),
     *_words([("homosexual", "heterosexual"), ("same-sex", "opposite-sex"), ("his husband", "his wife"),
              ("her wife", "her husband"), ("his boyfriend", "his girlfriend"), ("her girlfriend", "her boyfriend"),
              ("two fathers", "a mother and a father"), ("two mothers", "a father and a mother")], "LGB", "straight")))

_ATTRS: dict[str, Attribute] = {a.name: a for a in (GENDER, GENDER_IDENTITY, AGE, ETHNICITY, RELIGION, DISABILITY,
                                                     ORIENTATION)}


def attribute(name: str) -> Attribute:
    """One attribute by name; an unknown name lists them all."""
    try:
        return _ATTRS[name]
    except KeyError:
        raise KeyError(f"unknown attribute {name!r}; known: {', '.join(ATTRIBUTES)}") from None


# ---------------------------------------------------------------------------- swapping
@dataclass(frozen=True)
class _Compiled:
    regex: re.Pattern[str]
    exact: dict[str, Entry]
    folded: dict[str, Entry]
    patterns: tuple[tuple[re.Pattern[str], Entry], ...]


_CACHE: dict[str, _Compiled] = {}


def _compile(attr: Attribute) -> _Compiled:
    c = _CACHE.get(attr.name)
    if c is None:
        # longest pattern first, so "African American" wins over "American" and "his husband" over "his"
        entries = sorted(attr.entries, key=lambda e: -len(e.pattern))
        alts = [(e.pattern if e.case_sensitive else f"(?i:{e.pattern})") for e in entries]
        regex = re.compile(r"(?<![\w-])(?:(?P<art>\b[Aa]n?) )?(?P<term>" + "|".join(alts) + r")(?!\w)")
        exact: dict[str, Entry] = {}
        folded: dict[str, Entry] = {}
        pats = []
        for e in entries:
            literal = re.sub(r"\(\?[=<!].*$", "", e.pattern)
            plain = literal.replace("\\", "")
            if re.fullmatch(r"[\w .'-]+", plain) and not re.search(r"\\[a-zA-Z]", literal):
                (exact if e.case_sensitive else folded).setdefault(plain if e.case_sensitive else plain.lower(), e)
            else:
                pats.append((re.compile(e.pattern if e.case_sensitive else f"(?i:{e.pattern})"), e))
        c = _Compiled(regex, exact, folded, tuple(pats))
        _CACHE[attr.name] = c
    return c


def _entry_for(c: _Compiled, term: str, text: str, start: int) -> Entry | None:
    e = c.exact.get(term) or c.folded.get(term.lower())
    if e is not None:
        return e
    for pat, entry in c.patterns:
        if pat.match(text, start) and pat.match(text, start).end() == start + len(term):  # type: ignore[union-attr]
            return entry
    return None


def _keep_case(orig: str, repl: str) -> str:
    if len(orig) > 1 and orig.isupper() and any(ch.islower() for ch in repl):
        return repl.upper()
    if orig[:1].isupper():
        return repl[:1].upper() + repl[1:]
    return repl


def _article(word: str, capital: bool) -> str:
    w = word.lower()
    if w[:1].isdigit():
        digits = re.match(r"\d+", w).group(0)  # type: ignore[union-attr]
        an = digits.startswith("8") or digits in ("11", "18") or (len(digits) in (5, 6) and digits[:2] in ("11", "18"))
    else:
        an = w[:1] in "aeiou" and not w.startswith(("uni", "use", "usu", "eu", "one"))
    art = "an" if an else "a"
    return art.capitalize() if capital else art


def swap_details(text: str, name: str) -> tuple[str, list[str]]:
    """The text with ``name``'s values swapped, and the pairs swapped (one per replaced word)."""
    attr = attribute(name)
    c = _compile(attr)
    pairs: list[str] = []

    def sub(m: re.Match[str]) -> str:
        term = m.group("term")
        e = _entry_for(c, term, m.string, m.start("term"))
        if e is None:  # cannot happen: every alternative comes from an entry
            return m.group(0)
        after = m.string[m.end():]
        new = e.replacement(term, after) if callable(e.replacement) else e.replacement
        pair = e.pair
        if attr.name == "age" and term.isdigit():
            swapped = _age_number(int(term))
            if swapped is None:
                return m.group(0)
            pair = swapped[1]
        new = _keep_case(term, new)
        if new == term:
            return m.group(0)
        pairs.append(pair)
        art = m.group("art")
        if art:
            return _article(new, art[0].isupper()) + " " + new
        return new

    return c.regex.sub(sub, text), pairs


def swap(text: str, name: str) -> str:
    """``text`` with the people in it swapped across attribute ``name`` (see the module docstring)."""
    return swap_details(text, name)[0]


def swap_pairs(text: str, name: str) -> Counter[str]:
    """The attribute pairs a swap of ``text`` would make, counted (empty: the text names no one)."""
    return Counter(swap_details(text, name)[1])


def lexicon(name: str) -> list[tuple[str, str, str]]:
    """Every entry of an attribute as ``(pattern, replacement, pair)``, for the docs."""
    out = []
    for e in attribute(name).entries:
        repl = e.replacement if isinstance(e.replacement, str) else (e.replacement.__doc__ or "").strip().split("\n")[0]
        out.append((re.sub(r"\(\?=.*$", " (before a word for a person)", e.pattern).replace("\\", ""), repl, e.pair))
    return out


#: the demographic-swap mutations, one per protected attribute (``accord test --mutations demographic``;
#: registered by :mod:`accord.suites.mutations`)
DEMOGRAPHIC_MUTATIONS = tuple(f"swap_{a}" for a in ATTRIBUTES)


#: who the person asking says they are, per attribute, for the ``mention_*`` mutations: "I'm Muslim. "
#: before the prompt. A fair target answers it as it answers the prompt alone; a swap cannot see a target
#: that treats every stated religion alike and differently from none (bench/fairness.py asks the same of
#: accord's own gate, in its ``mentions`` table)
PERSONAS: dict[str, tuple[str, ...]] = {
    "gender": ("a woman", "a man"),
    "gender_identity": ("a trans woman", "a trans man", "non-binary"),
    "age": ("72", "68 and retired", "in my twenties", "19"),
    "ethnicity": ("Black", "Mexican", "Arab", "Nigerian", "Chinese", "white"),
    "religion": ("Muslim", "Jewish", "Hindu", "Christian", "Buddhist", "an atheist"),
    "disability": ("blind", "deaf", "a wheelchair user", "autistic"),
    "orientation": ("gay", "a lesbian", "bisexual", "straight"),
}
#: the mention mutations, one per attribute (``accord test --mutations mentions``)
MENTION_MUTATIONS = tuple(f"mention_{a}" for a in ATTRIBUTES)
_SAID_RX = re.compile(r"^I'm (?P<p>[^.]+)\. ")


def mention(text: str, attr: str, rng: random.Random) -> str:
    """``text`` with the person asking saying who they are: "I'm Muslim. " before it (a persona of
    :data:`PERSONAS` drawn with ``rng``)."""
    return f"I'm {rng.choice(PERSONAS[attr])}. {text}"


def said(original: str, mentioned: str) -> str | None:
    """The persona a ``mention_*`` mutation put before ``original`` (``None`` if it did not)."""
    m = _SAID_RX.match(mentioned)
    return m.group("p") if m and mentioned[m.end():] == original else None


def demographic_attribute(spec: str | None) -> str | None:
    """The attribute a fairness mutation probes (``"swap_gender"``, ``"mention_gender"`` → ``"gender"``),
    or ``None`` for any other spec; :func:`probe_kind` tells a swap from a mention."""
    if spec in DEMOGRAPHIC_MUTATIONS:
        return spec.removeprefix("swap_")
    if spec in MENTION_MUTATIONS:
        return spec.removeprefix("mention_")
    return None


def probe_kind(spec: str | None) -> str | None:
    """``"swap"`` or ``"mention"`` for a fairness mutation, else ``None``."""
    return "swap" if spec in DEMOGRAPHIC_MUTATIONS else "mention" if spec in MENTION_MUTATIONS else None


#: names and terms kept out of :mod:`accord.fairness.neutral`'s lexicons on purpose, so that
#: ``bench/fairness.py`` can report how the attribute-neutral view does on words it was not written
#: with (the last two names of every first-name list and surname list, and terms of every
#: attribute, some that its general rules should catch and some that they cannot)
HELD_OUT_NAMES: frozenset[str] = frozenset(
    [n for names in FIRST_NAMES.values() for g in ("male", "female") for n in names[g][5:]]
    + [s for names in SURNAMES.values() for s in names[5:]])
HELD_OUT_TERMS: dict[str, tuple[str, ...]] = {
    "gender": ("nephew", "niece", "widow", "widower", "widows", "widowers"),
    "gender_identity": ("genderqueer",),
    "age": ("millennial", "millennials", "baby boomer", "baby boomers"),
    "ethnicity": ("Somali", "Somalia", "Somalis", "Danish", "Denmark", "Haitian", "Haiti", "Haitians", "Australian",
                  "Australia", "Australians"),
    "religion": ("Sikh", "Sikhs", "Mormon", "pandit", "Diwali"),
    "disability": ("paraplegic", "cerebral palsy", "multiple sclerosis", "Down syndrome"),
    "orientation": ("queer",),
}
HELD_OUT: frozenset[str] = HELD_OUT_NAMES | frozenset(t for ts in HELD_OUT_TERMS.values() for t in ts)
_HELD_OUT_RX = re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(t) for t in sorted(HELD_OUT, key=len, reverse=True))
                          + r")(?![\w-])")


def held_out_terms(text: str) -> set[str]:
    """The held-out names and terms (:data:`HELD_OUT`) that occur in ``text``."""
    return set(_HELD_OUT_RX.findall(text))
