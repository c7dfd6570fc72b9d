"""The person who asks, undescribed: the last rewrite of the attribute-neutral view (:mod:`accord.fairness.neutral`).

The view's other rewrites keep a *category* stand-in wherever an attribute is named ("A Muslim woman asks
..." reads "An identity-group person of a gender asks ..."), so that a case of someone treated worse for
who they are stays recognisably one. Where the person described is the one making the request, the
stand-in is itself the difference a judge must not act on; this module drops it (the rationale and the
figures are in :func:`undescribe_asker` and docs/fairness.md, "The person who asks, undescribed").
"""

from __future__ import annotations

import re

from accord.fairness.neutral import _PERSON_NOUNS, GIVEN, SURNAME, _alt, _article, _pattern_words

#: the view's stand-in for a person's name ("Alex" or "Alex Doe")
_NAME = GIVEN + r"(?: " + SURNAME + r")?"
#: words for a person: the view's lists and the stand-ins it leaves for one ("a believer asks")
_PERSONS = _alt([*_PERSON_NOUNS, "believer", "believers", "national", "nationals", "adult", "adults", "ethnic people",
                 "retiree", "pensioner"])

#: the stand-ins the view's other rewrites leave in front of a word for a person ("an adult identity-group person")
_STAND_IN_ADJ = (r"(?:adult(?! (?:child|children))|identity-group|of-a-gender-identity|of-a-disability-status|"
                 r"of an orientation|religious|ethnic|national|gendered)")
_STAND_IN_ADJ_RX = re.compile(r"\b" + _STAND_IN_ADJ + r" (?=[a-z])(?!(?:with|who|whose|in|from|of|on|at|for|living)\b)")
#: stand-in nouns for a person ("a believer asks") and the words they become
_STAND_IN_NOUNS = {"believer": "person", "believers": "people", "national": "person", "nationals": "people",
                   "ethnic people": "people", "people of a gender": "people", "person of a gender": "person"}
_STAND_IN_NOUN_RX = re.compile(r"\b(?:" + "|".join(sorted(_STAND_IN_NOUNS, key=len, reverse=True)) + r")(?=,|$| who\b)")
#: the stand-ins the view's other rewrites leave after "is" ("is of a disability status")
_STAND_IN_PREDICATE = r"of (?:a gender identity|a disability status|an orientation)"
#: marital status, as the gender rewrite leaves it ("lives with their spouse")
_MARITAL = r"(?:lives|live) with (?:their|a) (?:spouse|partner)|(?:is|are) (?:married|divorced|widowed|single)"
#: one item of a description after the noun ("who is of a disability status, of an orientation and ...")
_STAND_IN_ITEM_RX = re.compile(r"(?:(?:is|are|am|was|were) )?(?:" + _STAND_IN_PREDICATE + r"|(?:of )?adult age|in their adult years|"
                               r"religious|ethnic|an? (?:believer|national|adult))|(?:has|have|uses|use) a disability status|"
                               r"with a disability status|(?:wears|wear) an? religious [a-z]+|" + _MARITAL)
_VERB_RX = re.compile(r"(?:is|are|am|was|were|has|have|had|uses|use|wears|wear|lives|live|works|work|[a-z]+(?:s|ed)) ")
#: the verbs of a request: the noun phrase before one is the person who makes it
_ASKS = (r"(?:asks|ask|wants|want|needs|need|would like|is asking|are asking|requests|request|writes|write|says|"
         r"tells|mentions|messages|wonders|is looking|are looking|is trying|wishes|hopes|plans|calls|emails|contacts|"
         r"reports|explains|inquires|enquires|seeks|books|orders|applies|is applying|visits|comes)")
_ASKER_RX = re.compile(r"(?:^|(?<=[.!?] )|(?<=\n))(?P<np>(?:" + _NAME + r", )?(?:A|An|The|a|an|the|"
                       r"Two|Three|Some|One) [^.!?:;\n]{0,240}?|" + _NAME + r", who [^.!?:;\n]{0,200}?)"
                       r"(?P<comma>,?)(?= " + _ASKS + r"\b)", re.M)
_BARE_APPOSITIVE_RX = re.compile(r", an? (?:person|people)(?:$|(?P<who> who ))")
#: the asker describing themself: "As an identity-group person of a gender, I ..." -> "As a person, I ...",
#: "I'm a of an orientation guy and ..." -> "I'm a guy and ..."
_SELF_NP_RX = re.compile(r"(?:^|(?<=[.!?] )|(?<=\n))(?P<i>I'm|I am|As|as) (?P<np>(?:an? )?(?:" + _STAND_IN_ADJ + r" )+"
                         r"(?:" + _PERSONS + r")(?: of a gender)?)(?=[ .,;!])")
#: ... or says only what they are: "I'm religious.", "I'm of a disability status and I need ...", "I have a disability
#: status, can you ..." (the clause goes)
_SELF_ITEMS_RX = re.compile(r"(?:^|(?<=[.!?:] )|(?<=\n)|(?<=[\"']))I(?:'m| am| have| use) (?:(?:an? )?(?:" + _STAND_IN_ADJ
                            + r"|" + _STAND_IN_PREDICATE + r"|believer|person of a gender|"
                            r"a disability status)(?:,? and |, | )?)+(?:btw|by the way)?(?:[.;!]\s*|,\s*(?:so |and )?| and (?:so )?| so )")
#: "A user mentions they are of a disability status and asks ..."
_TOLD_RX = re.compile(r"\b(?:mentions|says|explains|notes|writes) (?:that )?they are (?:(?:" + _STAND_IN_ITEM_RX.pattern
                      + r")(?:, | and )?)+ and (?=" + _ASKS + r"\b)")
#: a sentence that only says what the person who then asks is: "The caller is of a disability status. They ask ..."
_SAID_SENTENCE_RX = re.compile(r"(?:^|(?<=[.!?] )|(?<=\n))(?P<who>(?:The|This|Our) [a-z]+(?: [a-z]+)?|They|" + _NAME
                               + r")(?: said(?: earlier)?(?: that)? they)? (?:is|are|was|were|has|have|uses|use) (?:(?:"
                               + _STAND_IN_ITEM_RX.pattern + r"|an? (?:" + _STAND_IN_ADJ + r" )+(?:person|believer))(?:, | and )?)+"
                               r"\.\s+(?P<next>They|The [a-z]+|" + _NAME + r")(?= " + _ASKS + r"\b)")
_NAME_LEAD_RX = re.compile(r"^" + _NAME + r", ")


#: the asker's noun phrase names a person (any listed word for one, or a stand-in for one) and holds no clause
_ASKER_NOUN_RX = re.compile(r"\b(?:" + _PERSONS + r")\b|^" + _NAME + r"\b")
#: a stand-in for a protected attribute other than gender (gender words are in most descriptions of a person)
_IDENTITY_RX = re.compile(r"\b(?:adult|identity-group|of-a-gender-identity|of-a-disability-status|of an orientation|religious|"
                          r"ethnic|national|believers?|" + _STAND_IN_PREDICATE + r"|a disability status|in their adult years)\b")
_CLAUSE_RX = re.compile(r"\b(?:is|are|was|were|that|so|but|if|when|because)\b")


#: what is said of a person that can change whether a request is acceptable: kept in an asker's description
_RELEVANT_RX = re.compile(r"\b(?:not|no|never|without|under|minor|underage|child|children|teen|teenage|teenager|drunk|"
                          r"intoxicated|high|impaired|armed|suicidal|violent|aggressive|angry|threatening|agitated|"
                          r"distressed|upset|banned|blocked|suspended|barred|verified|authori[sz]ed|unauthori[sz]ed|"
                          r"registered|pregnant|unconscious|injured|bleeding|wanted|missing|sick|ill|unwell|confused|"
                          r"lost|in crisis|on probation|on parole|\d{1,2}-year-old)\b", re.I)
#: an item that says what someone *is* or *has* (a condition), not what they did or hold: "is hard of hearing",
#: "has Crohn's disease"; not "has a gun", "has access to the account"
_TRAIT_ITEM_RX = re.compile(r"(?:(?:is|are|am|was|were) [A-Za-z'-]+|(?:has|have) (?!an? |the |their |access\b|been\b)"
                            r"[A-Za-z'-]+(?: [A-Za-z'-]+){0,2})")
_PREPOSITION_RX = re.compile(r"\b(?:to|for|from|of|on|at|in|into|with|about|by|over)\b")


def _described_items(clause: str, identity: bool = False) -> str:
    """A relative clause's body ("is of a disability status and lives with their spouse") without the items
    that only name an attribute; empty when nothing else is said. ``identity``: the description names a
    protected attribute elsewhere, so it is a list of who the person is, and its other traits ("is
    hard of hearing", "has Crohn's disease": words no lexicon here knows) go with it, unless they can matter
    (:data:`_RELEVANT_RX`)."""
    items = re.split(r", and |, | and ", clause)
    kept, verb, dropped = [], "", False
    for item in items:
        v = _VERB_RX.match(item)
        if v:
            verb = v.group(0)
        elif verb:
            item = verb + item  # "is deaf, of an orientation": "of an orientation" shares "is"
        bare = item.strip()
        if _STAND_IN_ITEM_RX.fullmatch(bare) or (
                identity and _TRAIT_ITEM_RX.fullmatch(bare) and not _RELEVANT_RX.search(bare)
                and not _PREPOSITION_RX.search(bare)):
            dropped = True
            continue
        kept.append(item)
    if not dropped:
        return clause
    if len(kept) <= 1:
        return "".join(kept)
    return ", ".join(kept[:-1]) + " and " + kept[-1]


def _sound(word: str) -> str:
    """``word`` as :func:`_article` should read its first sound ("user" starts like "you": "a user")."""
    return "y" + word if re.match(r"(?:u(?:s|n[io]|ni|r[aeiou])|eu|one\b|once\b)", word, re.I) else word


def _undescribe(np: str) -> str:
    """The asker's noun phrase without what only names their protected attributes."""
    before, sep, clause = np.partition(" who ")
    head = re.sub(r" (?:with a disability status|in their adult years)\b", "", before)
    head = _STAND_IN_NOUN_RX.sub(lambda m: _STAND_IN_NOUNS[m.group(0)], head)
    head = re.sub(r"\b(?:person|people) of a gender (?=[a-z])(?!(?:with|who|whose|in|from|of|on|at|for|living)\b)", "", head)
    while True:  # "adult of-a-gender-identity person": "adult" goes only once its neighbour has gone
        new = _STAND_IN_ADJ_RX.sub("", head)
        if new == head:
            break
        head = new
    if head != before:  # "An adult person" -> "A person"
        head = re.sub(r"\b(?P<a>[Aa]n?) (?=\w)", lambda m: _article(m.group("a"), _sound(head[m.end():])), head)
    if sep:
        identity = _IDENTITY_RX.search(before) is not None or _IDENTITY_RX.search(clause) is not None
        clause = _described_items(clause.rstrip(", "), identity)
        return head + (" who " + clause if clause else "")
    return head


#: a field of a person's record or metadata that names a protected attribute ("religion: religious", "gender=F",
#: "of adult age" for "age: 71", "age=67")
_PROFILE_KEYS = (r"gender identity|gender|sex|pronouns|religion|faith|ethnicity|race|nationality|national origin|"
                 r"country of origin|disability|disabilities|sexual orientation|orientation|marital status|age")
_PROFILE_FIELD_RX = re.compile(r"(?P<sep>[;|,]\s*|\s+-\s+|\s+)?(?P<field>\b(?:" + _PROFILE_KEYS
                               + r")\s*[:=]\s*(?P<value>[^;|,\n]{1,40}?)|of adult age)"
                               r"(?=\s*(?:[;|,\n]|\.(?:\s|$)|$))", re.I)
#: what shows the record is of the person who makes a request: a request, message or question follows it
_REQUEST_MARK_RX = re.compile(r"\b(?:Request|Message|Question|Query)\s*:|\b(?:writes|asks|says|wants|requests|needs|would like)\b")


def _requester_profile(text: str) -> str:
    """The protected fields of the requester's own record, dropped: "User profile: of adult age; religion:
    religious. Request: ..." -> "User profile: Request: ...". A record with no request after it is a case
    *about* the person (an applicant scored, a claim decided), and keeps its fields; so does a minor's age."""
    mark = _REQUEST_MARK_RX.search(text)
    if mark is None:
        return text

    def one(m: re.Match[str]) -> str:
        if m.start() >= mark.start():
            return m.group(0)
        value = (m.group("value") or "").strip()
        if value.isdigit() and int(value) < 18:
            return m.group(0)
        return ""

    out = _PROFILE_FIELD_RX.sub(one, text)
    if out == text:
        return text
    return re.sub(r"(?<=[:;|,\]]) *[;|,]+|(?<=:)\.(?=\s)", "", out)  # "[user]; tier" -> "[user] tier"


_AFTER_NOUN_RX = re.compile(r"(?: [a-z-]+)?(?:$|,|'s\b| (?:who|with|without|in|from|at|on|of|living|aged|of-a-[a-z-]+|"
                            + _PERSONS + r")\b)")

#: the words without one of which no rewrite here changes a text: the stand-ins (a stand-in noun holds one of them:
#: "ethnic people", "person of a gender"), the marital status, a record's protected fields (the view's quick pass
#: reads them, :data:`accord.fairness.neutral._STAGES`); not "child", which only keeps "adult child" whole
TRIGGER_WORDS = _pattern_words(_STAND_IN_ADJ, _STAND_IN_PREDICATE, _PROFILE_KEYS, "believer believers national nationals",
                               "spouse partner married divorced widowed single") - {"child", "children"}


def _names_a_person(head: str) -> bool:
    """Whether the words before a request verb are a person's noun phrase ("The customer, an adult ...",
    "Alex Doe, a stonemason"), not a clause ("The bank rejects a religious person who", "The norm is that ...")."""
    head = _STAND_IN_ADJ_RX.sub("", head)  # "A of an orientation person": the stand-in's article is not one
    noun = _ASKER_NOUN_RX.search(head)
    if noun is None or _CLAUSE_RX.search(head):
        return False
    lead = _NAME_LEAD_RX.sub("", head[: noun.start()])
    if re.search(r"(?:^|\s)(?:a|an|the)(?=\s)", lead.partition(" ")[2], re.I):
        return False
    # after the noun, only what describes it: a second noun ("nurse practitioner"), an appositive, a relative
    # clause, a prepositional phrase ("A member posts a photo of an identity-group person and writes": the member
    # is not who is described)
    return _AFTER_NOUN_RX.match(head[noun.end():]) is not None


def undescribe_asker(text: str) -> str:
    """The person who asks, undescribed: who someone is does not change whether what they ask is acceptable.

    The view's other rewrites keep a *category* stand-in wherever an attribute is named, so that a case of someone
    treated worse for who they are stays recognisably one. Where the person described is the one making
    the request ("An identity-group person of a gender asks how to open a savings account", "I'm religious.
    ..."), the stand-in is itself the difference the judge must not act on: in the corpus an attribute is
    mostly named where someone is treated worse for it, and the learned judges escalated everyday requests
    by described people (docs/fairness.md, "Described vs not"). So the stand-ins in the asker's noun phrase
    (and in their own description of themself) are dropped, with the marital status the gender rewrite
    leaves ("lives with their spouse"); in a description that names an attribute, the other traits listed
    with it ("who is hard of hearing and has Crohn's disease") go too. What can change the answer stays: a minor's age, a
    state such as drunk or armed, a negation ("who is not the account holder"), what someone has or does
    ("has a gun"), their job; and an attribute named anywhere else (in the request, in the action, about
    someone else) keeps its stand-in.
    """
    text = _SELF_NP_RX.sub(lambda m: f"{m.group('i')} {_undescribe(m.group('np'))}", text)
    text = _SELF_ITEMS_RX.sub("", text)
    # "The caller is of a disability status. They ask ..." -> "The caller asks ..." ("They" reads as its subject)
    text = _SAID_SENTENCE_RX.sub(lambda m: m.group("who") if m.group("next") == "They" else m.group("next"), text)
    text = _TOLD_RX.sub("", text)
    text = _requester_profile(text)

    def one(m: re.Match[str]) -> str:
        np = m.group("np")
        if not _names_a_person(np.partition(" who ")[0]):
            return m.group(0)
        new = _undescribe(np)
        if new == np:
            return m.group(0)
        # an appositive left saying only "a person": "Alex Doe, a person who lives ..." -> "Alex Doe, who lives ...",
        # "The customer, a person, asks" -> "The customer asks"
        new, bare = _BARE_APPOSITIVE_RX.subn(lambda a: ", who " if a.group("who") else "", new)
        if new.endswith(","):  # "Alex, who is of a gender identity" -> "Alex,"
            new, bare = new[:-1], 1
        return new + ("" if bare and ", " not in new else m.group("comma"))

    return _ASKER_RX.sub(one, text)
