"""The attribute-neutral view of a text: what the learned judges read, so that who a person is
cannot move their decision.

Why. ``bench/fairness.py`` swaps the people in a case (gender, age, ethnicity or national origin,
religion, disability, sexual orientation) and counts how often the default gate decides
differently. Before this view the gate flipped 7-18% of decisions per attribute, and the flips came
from no single place (breakdown in ``docs/fairness.md``): in the decision model,
holding one feature block at its unswapped value undid about a third of the flips each for the
context embedding, the joint embedding, the USE sentence vector and the neighbour vote, and fewer
for the stacked value model and the hashed context words; the value model moved through its dense
(embedding) features, hardly through its action words. Every text feature carries the attribute,
because every encoder reads the words "Muslim", "Jamal", "she". Reweighting features or
augmenting training data would have to be done for each of them and would still leave the
embeddings of two swapped texts apart; a canonical text removes the difference before any encoder
reads it, for every present and future feature at once.

What. :func:`neutralize` rewrites *mentions* of protected attributes to stand-ins that keep the
category and drop the value, so the text still says that a person's religion, origin or
disability is in play (a discrimination case stays recognisably one), only not which:

* gender: pronouns to singular *they* (``she is`` → ``they are``), gendered nouns to neutral ones
  (``woman`` → ``person``, ``husband`` → ``spouse``, ``mother`` → ``parent``), titles to ``Mx``;
  "because she is a woman" becomes "because they are a person of a gender";
* given names to ``Alex``, a surname after one to ``Doe``: names from a lexicon of common given
  names, and any capitalised name in a *person slot* (``Applicant: X Y``, ``X Y, a 29-year-old``,
  ``Mr X``), then every later mention of the same words;
* religion: ``Muslim``, ``atheist``, ... → ``religious`` / ``believer(s)``; places of worship,
  clergy, scriptures, feasts and religious dress → ``place of worship``, ``cleric``, ...;
* ethnicity and national origin: ethnic words → ``ethnic``; demonyms (``Nigerian``) → ``national``,
  countries → ``a country``; any other capitalised word directly in front of a word for a person
  (``a Somali nurse``), or before the noun of a named person's description (``Alex Doe, an adult
  Danish Sikh widower``) → ``identity-group``, which covers groups no list names;
* age: adult ages (``a 34-year-old``, ``aged 67``) → ``an adult``; ages under 18 stay (a minor's
  age changes what is acceptable); ``young``/``elderly`` before a person → ``adult``;
* disability: disability words and their opposites (``blind``/``sighted``, ``deaf``/``hearing``,
  ``disabled``/``non-disabled``, ``uses a wheelchair``) → ``of a disability status``;
* gender identity: ``transgender``/``cisgender``/``non-binary`` ..., and ``trans``/``cis`` in front of a word
  for a person or after ``is``, → ``of a gender identity`` (``of-a-gender-identity`` in front of a noun);
* orientation: ``gay``/``lesbian``/``straight``/``bisexual`` ... → ``of an orientation``;
  ``same-sex``/``opposite-sex`` → ``couple`` words without the sex.
* the person who asks: in the noun phrase before a request verb ("A Muslim woman asks ...", "The
  customer, a 72-year-old Black man who is deaf, wants ...") and in a user's own "I'm Muslim." or "As a
  gay man, I ...", the stand-ins are dropped too ("A person asks ...", "The customer wants ..."): who
  someone is is not a reason to refuse what they ask, and a stand-in there made the learned judges
  escalate everyday requests (:func:`_asker`). Elsewhere, where an attribute is what a case acts on,
  the stand-in stays.

Where. One function, applied inside the decision model's featuriser (its saved ``neutral``
option), so that training and judging read the same view: ``Featurizer.texts`` (its embeddings,
USE vectors, hashed words and neighbour keys: ``normalize(neutralize(text))``, before ``normalize``
lower-cases it) and the stacked value model's scores, which it computes on the view of each pair.
The value model as the gate's fast tier reads text as written: the view costs ~0.2 ms a text,
about half of that tier's budget, and a value model retrained on the view generalised less from
a few taught labels (``tests/test_teaching.py``). The rules judge, the LLM judge, the audit record and the verdict keep the original text:
hard rules match slurs and explicit attributes as written, and a reader sees what was said.

Honesty. The lexicons below were written for this module, not copied from the swap lexicons of
:mod:`accord.fairness.swap`; and a part of the swap lexicons (``swap.HELD_OUT``: two names of
every list, some surnames, and terms of every attribute) is kept out of them on purpose
(``tests/fairness/test_neutral.py`` checks it). ``bench/fairness.py`` reports flip rates on the
swaps that touch a held-out term separately, so the figures say how well the view generalises to
words it was not written with, not only how well it covers its own lists.

Limits: a word-level view. Unlisted conditions and names outside a person slot pass through;
``her`` is told possessive (``their``) from object (``them``) by the next word; a verb after
*they* other than ``is/was/has/does`` keeps its ``-s``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

#: the view's edition: a model that reads the view names it in its version, since a new edition changes what
#: the same arrays decide (2: the person who asks is undescribed, :func:`_asker`)
VIEW_VERSION = 2

# ---------------------------------------------------------------------------- lexicons
#: gendered word → neutral stand-in (lower case; case is restored on output)
_GENDER: dict[str, str] = {
    "woman": "person of a gender", "man": "person of a gender", "women": "people of a gender",
    "men": "people of a gender", "lady": "person of a gender", "gentleman": "person of a gender",
    "ladies": "people of a gender", "gentlemen": "people of a gender", "girl": "child", "boy": "child",
    "girls": "children", "boys": "children", "female": "gendered", "male": "gendered", "females": "people of a gender",
    "males": "people of a gender", "husband": "spouse", "wife": "spouse", "husbands": "spouses", "wives": "spouses",
    "boyfriend": "partner", "girlfriend": "partner", "boyfriends": "partners", "girlfriends": "partners",
    "father": "parent", "mother": "parent", "fathers": "parents", "mothers": "parents", "dad": "parent", "mom": "parent",
    "mum": "parent", "daddy": "parent", "mommy": "parent", "mummy": "parent", "son": "child", "daughter": "child",
    "sons": "children", "daughters": "children", "brother": "sibling", "sister": "sibling", "brothers": "siblings",
    "sisters": "siblings", "grandfather": "grandparent", "grandmother": "grandparent", "grandpa": "grandparent",
    "grandma": "grandparent", "grandson": "grandchild", "granddaughter": "grandchild", "uncle": "relative",
    "aunt": "relative", "stepfather": "step-parent", "stepmother": "step-parent", "fiance": "fiancé", "fiancee": "fiancé",
    "businessman": "businessperson", "businesswoman": "businessperson", "chairman": "chair", "chairwoman": "chair",
    "spokesman": "spokesperson", "spokeswoman": "spokesperson", "policeman": "police officer",
    "policewoman": "police officer", "salesman": "salesperson", "saleswoman": "salesperson", "waiter": "server",
    "waitress": "server", "actress": "actor", "sir": "Mx", "madam": "Mx", "ma'am": "Mx", "maternity": "parental",
    "paternity": "parental", "pregnant": "pregnant",
    "himself": "themself", "herself": "themself", "hers": "theirs", "his": "their", "him": "them",
    "he": "they", "she": "they", "he's": "they're", "she's": "they're", "he'd": "they'd", "she'd": "they'd",
    "he'll": "they'll", "she'll": "they'll",
}
_TITLES = ("Mr", "Mrs", "Ms", "Miss")
#: singular verbs after a pronoun made plural
_AGREE = {"is": "are", "was": "were", "has": "have", "does": "do", "isn't": "aren't", "wasn't": "weren't",
          "hasn't": "haven't", "doesn't": "don't"}

_RELIGION_ADJ = ["Muslim", "Islamic", "Christian", "Catholic", "Protestant", "Evangelical", "Orthodox", "Jewish", "Hindu", "Buddhist", "Jain", "Taoist", "Shinto", "Baha'i", "Zoroastrian", "Pagan", "Wiccan", "Rastafarian", "Amish", "Mennonite", "Quaker", "Lutheran", "Baptist", "Methodist", "Anglican", "Presbyterian", "Pentecostal", "Sunni", "Shia", "Shiite", "Coptic", "Scientologist", "atheist", "agnostic", "secular"]
_RELIGION_NOUN = ["Muslims", "Christians", "Catholics", "Protestants", "Evangelicals", "Jews", "Jew", "Hindus", "Buddhists", "Jains", "Taoists", "Pagans", "Wiccans", "Rastafarians", "Quakers", "Baptists", "Methodists", "Anglicans", "Sunnis", "Shias", "Shiites", "Copts", "atheists", "agnostics", "Scientologists"]
_RELIGION_THINGS: dict[str, str] = {
    **dict.fromkeys(["mosque", "church", "synagogue", "temple", "gurdwara", "chapel", "cathedral", "shrine"], "place of worship"),
    **dict.fromkeys(["mosques", "churches", "synagogues", "temples", "gurdwaras", "chapels", "cathedrals", "shrines"], "places of worship"),
    **dict.fromkeys(["imam", "priest", "rabbi", "pastor", "vicar", "minister", "monk", "nun", "mullah", "chaplain", "bishop"], "cleric"),
    **dict.fromkeys(["imams", "priests", "rabbis", "pastors", "vicars", "monks", "nuns", "mullahs", "chaplains", "bishops"], "clerics"),
    **dict.fromkeys(["Bible", "Quran", "Koran", "Torah", "Talmud", "Gita", "Bhagavad-Gita"], "scripture"),
    **dict.fromkeys(["Ramadan", "Eid", "Lent", "Easter", "Christmas", "Passover", "Hanukkah", "Yom-Kippur", "Rosh-Hashanah", "Vesak", "Sabbath", "Shabbat"], "a religious holiday"),
    **dict.fromkeys(["hijab", "niqab", "burqa", "headscarf", "turban", "kippah", "yarmulke", "crucifix", "rosary"], "religious symbol"),
}
_ETHNIC = ["South-Asian", "East-Asian", "Southeast-Asian", "Black", "white", "Hispanic", "Latino", "Latina", "Latinx", "Asian", "Arab", "African-American", "Afro-Caribbean", "Caucasian", "European-American", "Asian-American", "Indigenous", "Aboriginal", "Roma", "Romani", "Gypsy", "Native-American", "Pacific-Islander", "Middle-Eastern"]
_ETHNIC_NOUN = ["Blacks", "Whites", "Hispanics", "Latinos", "Latinas", "Asians", "Arabs", "Caucasians", "Roma", "Gypsies"]
#: demonym: country (a few dozen; unlisted capitalised words before a person noun are caught anyway)
_NATIONS: dict[str, str] = {
    "American": "America", "Mexican": "Mexico", "Canadian": "Canada", "Brazilian": "Brazil", "Argentinian": "Argentina",
    "Colombian": "Colombia", "Peruvian": "Peru", "Cuban": "Cuba", "Jamaican": "Jamaica", "Venezuelan": "Venezuela",
    "Chilean": "Chile", "Guatemalan": "Guatemala", "Salvadoran": "El Salvador", "Dominican": "Dominican Republic",
    "British": "Britain", "English": "England", "Scottish": "Scotland", "Welsh": "Wales", "Irish": "Ireland",
    "French": "France", "German": "Germany", "Italian": "Italy", "Spanish": "Spain", "Portuguese": "Portugal",
    "Dutch": "Netherlands", "Belgian": "Belgium", "Swiss": "Switzerland", "Austrian": "Austria", "Swedish": "Sweden",
    "Norwegian": "Norway", "Finnish": "Finland", "Polish": "Poland", "Czech": "Czechia", "Hungarian": "Hungary",
    "Romanian": "Romania", "Bulgarian": "Bulgaria", "Greek": "Greece", "Turkish": "Turkey", "Russian": "Russia",
    "Ukrainian": "Ukraine", "Serbian": "Serbia", "Albanian": "Albania", "Nigerian": "Nigeria", "Ghanaian": "Ghana",
    "Ethiopian": "Ethiopia", "Egyptian": "Egypt", "Moroccan": "Morocco", "Algerian": "Algeria",
    "Sudanese": "Sudan", "Eritrean": "Eritrea", "Congolese": "Congo", "Senegalese": "Senegal", "Ugandan": "Uganda",
    "Zimbabwean": "Zimbabwe", "Syrian": "Syria", "Iraqi": "Iraq", "Iranian": "Iran", "Afghan": "Afghanistan",
    "Lebanese": "Lebanon", "Palestinian": "Palestine", "Israeli": "Israel", "Saudi": "Saudi Arabia",
    "Yemeni": "Yemen", "Jordanian": "Jordan", "Pakistani": "Pakistan", "Indian": "India", "Bangladeshi": "Bangladesh",
    "Sri Lankan": "Sri Lanka", "Nepali": "Nepal", "Chinese": "China", "Japanese": "Japan", "Korean": "Korea",
    "Vietnamese": "Vietnam", "Filipino": "Philippines", "Thai": "Thailand", "Indonesian": "Indonesia",
    "Malaysian": "Malaysia", "Burmese": "Myanmar", "Cambodian": "Cambodia", "Tibetan": "Tibet", "Kurdish": "Kurdistan",
}
_NATION_PLURAL = {d + "s" for d in _NATIONS if not d.endswith(("sh", "ch", "ese", "ss", "i"))}
#: words for a person, in front of which any capitalised word is taken for a group
_PERSON_NOUNS = ["person", "people", "man", "men", "woman", "women", "applicant", "applicants", "candidate", "candidates", "tenant", "tenants", "patient", "patients", "employee", "employees", "worker", "workers", "family", "families", "couple", "couples", "customer", "customers", "student", "students", "client", "clients", "borrower", "borrowers", "renter", "renters", "guy", "guys", "girl", "girls", "boy", "boys", "child", "children", "kid", "kids", "neighbour", "neighbor", "neighbours", "neighbors", "driver", "drivers", "nurse", "nurses", "doctor", "doctors", "engineer", "teacher", "teachers", "veteran", "resident", "residents", "user", "users", "member", "members", "parent", "parents", "mother", "father", "son", "daughter", "teen", "teenager", "adult", "adults", "friend", "friends", "colleague", "colleagues", "coworker", "coworkers", "manager", "homeowner", "buyer", "seller", "traveller", "traveler", "passenger", "caller", "volunteer", "community", "communities", "immigrant", "immigrants", "refugee", "refugees", "citizen", "citizens", "national", "nationals", "lady", "gentleman", "spouse", "partner", "wife", "husband", "cashier", "chef", "cook", "cleaner", "mechanic", "programmer", "developer", "scientist", "lawyer", "accountant", "officer", "soldier", "pilot", "guard", "farmer", "writer", "artist"]
_NAMES_M = ["James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas", "Charles", "Christopher", "Daniel", "Paul", "Mark", "Donald", "George", "Kenneth", "Steven", "Edward", "Brian", "Ronald", "Anthony", "Kevin", "Jason", "Jeff", "Jeffrey", "Ryan", "Jacob", "Gary", "Eric", "Jonathan", "Stephen", "Larry", "Justin", "Scott", "Frank", "Benjamin", "Brandon", "Raymond", "Samuel", "Gregory", "Greg", "Patrick", "Alexander", "Jack", "Dennis", "Jerry", "Tyler", "Aaron", "Henry", "Adam", "Peter", "Nathan", "Zachary", "Kyle", "Noah", "Ethan", "Liam", "Lucas", "Oliver", "Harry", "Tom", "Todd", "Brad", "Matthew", "Geoffrey", "DeShawn", "DeAndre", "Darnell", "Jamal", "Tyrone", "Marcus", "Andre", "Malik", "Terrell", "Kareem", "Rasheed", "Jose", "Carlos", "Luis", "Miguel", "Juan", "Jorge", "Pedro", "Antonio", "Francisco", "Manuel", "Javier", "Rafael", "Fernando", "Ricardo", "Wei", "Jun", "Hiroshi", "Kenji", "Takeshi", "Yuto", "Haruto", "Jian", "Li", "Chen", "Ming", "Sung", "Ji-ho", "Dong", "Mohammed", "Muhammad", "Ahmed", "Ahmad", "Omar", "Yusuf", "Youssef", "Khalid", "Ali", "Hussein", "Ibrahim", "Mustafa", "Karim", "Rahul", "Arjun", "Sanjay", "Vikram", "Amit", "Raj", "Vijay", "Anil", "Suresh", "Kiran", "Aditya", "Dmitri", "Ivan", "Sergei", "Olumide", "Chinedu", "Kwame", "Kofi", "Tunde", "Emeka"]
_NAMES_F = ["Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Karen", "Nancy", "Lisa", "Betty", "Margaret", "Sandra", "Ashley", "Kimberly", "Emily", "Donna", "Michelle", "Carol", "Amanda", "Dorothy", "Melissa", "Deborah", "Stephanie", "Rebecca", "Laura", "Sharon", "Cynthia", "Kathleen", "Amy", "Shirley", "Angela", "Helen", "Anna", "Anne", "Brenda", "Emma", "Olivia", "Sophia", "Isabella", "Mia", "Charlotte", "Hannah", "Grace", "Chloe", "Jill", "Allison", "Laurie", "Claire", "Kate", "Katie", "Lakisha", "Tamika", "Ebony", "Keisha", "Latoya", "Aaliyah", "Imani", "Shanice", "Jasmine", "Maria", "Sofia", "Guadalupe", "Lucia", "Carmen", "Ana", "Isabel", "Elena", "Valentina", "Camila", "Mei", "Yuki", "Xiu", "Akiko", "Hana", "Sakura", "Yan", "Jing", "Hui", "Min", "Soo-ah", "Fatima", "Layla", "Noor", "Yasmin", "Mariam", "Aisha", "Zainab", "Leila", "Zahra", "Huda", "Priya", "Anjali", "Deepa", "Kavya", "Sunita", "Lakshmi", "Divya", "Asha", "Meera", "Olga", "Natasha", "Ngozi", "Amara", "Chioma", "Abena"]
_SURNAMES = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Davis", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Hall", "Allen", "Young", "King", "Wright", "Scott", "Green", "Adams", "Nelson", "Carter", "Mitchell", "Roberts", "Walsh", "Baker", "Sullivan", "Murphy", "Kelly", "O'Brien", "Washington", "Jefferson", "Jackson", "Robinson", "Banks", "Freeman", "Garcia", "Hernandez", "Lopez", "Martinez", "Gonzalez", "Perez", "Sanchez", "Torres", "Flores", "Rivera", "Gomez", "Diaz", "Chen", "Wang", "Li", "Zhang", "Liu", "Kim", "Lee", "Tanaka", "Suzuki", "Sato", "Nguyen", "Tran", "Haddad", "Khalil", "Mansour", "Nasser", "Saleh", "Khan", "Ahmed", "Hussein", "Abdullah", "Patel", "Sharma", "Gupta", "Reddy", "Kumar", "Singh", "Shah", "Mehta", "Okafor", "Okonkwo", "Mensah", "Cohen", "Levi", "Ivanov"]
#: a capitalised word that is never a name (sentence starts, labels, days, months)
_NOT_NAME = frozenset(["The", "A", "An", "I", "It", "He", "She", "They", "We", "You", "This", "That", "These", "Those", "Applicant", "Candidate", "Patient", "Tenant", "Customer", "Client", "Borrower", "Student", "Employee", "Answer", "Yes", "No", "Please", "Hi", "Hello", "Dear", "Thanks", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December", "Mx", "Dr", "Mr", "Mrs", "Ms", "Miss", "Prof"])

_DISABILITY_WORDS = ["disabled", "non-disabled", "blind", "sighted", "deaf", "hearing-impaired", "hard-of-hearing", "autistic", "neurotypical", "neurodivergent", "able-bodied", "wheelchair-using", "visually-impaired", "dyslexic", "mute", "hearing"]
_DISABILITY_PHRASES = (
    r"(?:(?:does not|doesn't|did not|didn't|do not|don't) use|uses|using|use) (?:a )?"
    r"(?:wheelchair|cane|white cane|walker|hearing aids?|screen reader|guide dog)",
    r"(?:in|without) a wheelchair", r"(?:non-)?wheelchair users?", r"(?:with|without|has|have|had) (?:a |no )?(?:disability|disabilities)",
    r"(?:has|have|had|with) (?:autism|epilepsy|schizophrenia|bipolar disorder|dementia|ADHD|a learning disability|"
    r"a mental illness|a history of depression|depression|PTSD|diabetes|HIV|cancer|a stammer|a stutter|dyslexia)",
    r"(?:is|are|was|were) (?:not )?(?:disabled|blind|sighted|deaf|autistic|neurotypical|able-bodied|hearing)",
    r"(?:am|I'm) (?:not )?(?:disabled|blind|deaf|autistic|able-bodied)",  # not "I'm hearing a noise"
)
#: gender identity; ``trans`` and ``cis`` only in front of a word for a person or after "is" ("trans fats")
_GENDER_IDENTITY = ["transgender", "cisgender", "non-binary", "nonbinary", "transsexual", "gender-fluid", "genderfluid",
                    "agender", "two-spirit"]
_ORIENTATION = ["gay", "lesbian", "lesbians", "bisexual", "bi", "homosexual", "heterosexual", "straight", "pansexual", "asexual"]


def _alt(words: list[str] | tuple[str, ...] | set[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_PERSON_RX = r"(?:[\s-]+(?:[A-Za-z][\w'-]*\s+){0,3}?(?:" + _alt(_PERSON_NOUNS) + r")\b)"
_ROLE = r"(?:Applicant|Candidate|Patient|Tenant|Customer|Client|Borrower|Student|Employee|Resident|Name)"

# ---------------------------------------------------------------------------- the rewrite
_AGE_RX = re.compile(
    r"\b(?P<art>[Aa]n? )?(?P<n>\d{1,3})(?:[\s-]+years?[\s-]+old\b|-year-old\b)|\b(?P<kw>aged|age:?) (?P<n2>\d{1,3})\b"
    r"|\bin (?P<pos>his|her|their) (?P<dec>twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties|[2-9]0'?s)\b",
    re.I)
_AGE_WORDS_RX = re.compile(r"\b(?P<art>[Aa]n? )?(?<!-)(?P<w>young|younger|elderly|older|old|middle-aged|senior|retired)"
                           r"(?=" + _PERSON_RX + ")", re.I)
_DIS_PHRASE_RX = re.compile(r"\b(?:" + "|".join(_DISABILITY_PHRASES) + r")\b", re.I)
_DIS_WORD_RX = re.compile(r"(?<![\w-])(?:" + _alt(_DISABILITY_WORDS) + r")(?=" + _PERSON_RX + ")", re.I)
_ORIENT_RX = re.compile(r"(?<![\w-])(?:(?:is|are|was|were) (?:a )?)?(?:" + _alt(_ORIENTATION) + r")(?![\w-])"
                        r"(?P<noun> (?:man|men|woman|women|person|people|couple|couples))?", re.I)
#: an attribute just listed before "and"/"or": "is autistic and straight", "gay or straight", "is deaf and trans"
#: (the disability and gender-identity rewrites have run, so their stand-ins are what precedes)
_LISTED_RX = re.compile(r"(?:disability status|of a gender identity|of an orientation|" + _alt(_ORIENTATION)
                        + r"),? (?:and|or) $", re.I)
_GID_RX = re.compile(r"(?<![\w-])(?P<verb>(?:is|are|was|were|am) (?:a )?)?(?P<w>" + _alt([*_GENDER_IDENTITY, "trans", "cis"])
                     + r")(?![\w-])(?P<person>(?=" + _PERSON_RX + r"))?", re.I)
_SEX_RX = re.compile(r"\b(?:same|opposite)-sex\b", re.I)
_RELIGION_RX = re.compile(r"(?<![\w-])(?P<art>\b(?:[Aa]n?) )?(?P<w>" + _alt(_RELIGION_ADJ + _RELIGION_NOUN) + r")(?![\w'-])")
_RELIGION_THING_RX = re.compile(r"(?<![\w-])(?P<w>" + _alt(list(_RELIGION_THINGS)) + r")(?![\w'-])")
_ETHNIC_RX = re.compile(r"(?<![\w-])(?P<art>\b[Aa]n? )?(?P<w>" + _alt(_ETHNIC + _ETHNIC_NOUN) + r")(?![\w'-])")
_NATION_RX = re.compile(r"(?<![\w-])(?P<art>\b[Aa]n? )?(?P<w>" + _alt(list(_NATIONS) + list(_NATION_PLURAL)) + r")(?![\w'-])")
_COUNTRY_RX = re.compile(r"\b(?P<p>from|in|to|of|born in) (?:the )?(?P<w>" + _alt(list(_NATIONS.values())) + r")\b")
_GENDER_RX = re.compile(r"(?<![\w-])(?P<w>" + _alt(list(_GENDER)) + r")(?![\w-])", re.I)
_HER_RX = re.compile(r"(?<![\w-])(?P<w>her)(?![\w-])(?=(?P<next>\s+[\w']+))?", re.I)
_AGREE_RX = re.compile(r"\b(?P<p>[Tt]hey|THEY) (?P<v>" + _alt(list(_AGREE)) + r")\b")
_TITLE_RX = re.compile(r"\b(?:" + "|".join(_TITLES) + r")\b\.?(?= [A-Z])")
_NAME = r"[A-Z][a-z]+(?:-[A-Za-z][a-z]+)?"
_SLOT_RX = re.compile(
    # after a role label, a full name, or one word that ends the label's line or clause ("Patient: Maria,");
    # "Customer: How do I cancel?" is a sentence, not a name
    r"\b" + _ROLE + r": (?P<r>" + _NAME + r" " + _NAME + r"\b|" + _NAME + r"(?=\s*(?:[,.;:)\n]|$)))"
    r"|\b(?:Mx|Mr|Mrs|Ms|Miss|Dr)\.? (?P<n>" + _NAME + r"(?: " + _NAME + r")?)\b"
    r"|(?P<m>" + _NAME + r"(?: " + _NAME + r")?)(?=, (?:an? |aged \d|age \d|who |\d))")
_LEXICON_NAME_RX = re.compile(r"\b(?P<w>" + _alt(set(_NAMES_M) | set(_NAMES_F)) + r")\b(?P<s> " + _NAME + r")?")
_NOT_NOUN = frozenset(["a", "an", "the", "and", "or", "but", "to", "that", "this", "in", "on", "at", "for", "with", "from", "by", "about", "as", "of", "if", "when", "because", "so", "than", "then", "is", "was", "be", "been", "were", "are", "up", "out", "off", "down", "over", "into", "onto", "back", "again", "know", "see", "tell", "told", "said", "and,"])


def _case(orig: str, repl: str) -> str:
    if len(orig) > 1 and orig.isupper():
        return repl.upper()
    if orig[:1].isupper() and repl[:1].islower():
        return repl[:1].upper() + repl[1:]
    return repl


def _article(art: str | None, word: str) -> str:
    if not art:
        return ""
    a = "an" if word[:1].lower() in "aeiou" else "a"
    return (a.capitalize() if art[0].isupper() else a) + " "


#: the stand-ins for a person's given name and surname, and the words they and the title rewrite leave
#: capitalised, which later rewrites must not take for a group
GIVEN, SURNAME = "Alex", "Doe"
_STAND_INS = frozenset([GIVEN, SURNAME, "Mx"])


def _names(text: str) -> str:
    """Given names to ``Alex``, a surname after one to ``Doe``; every later mention of the words too."""
    found: set[str] = set()
    for m in _SLOT_RX.finditer(text):
        words = (m.group("r") or m.group("n") or m.group("m")).split()
        if words[0] in _NOT_NAME or (len(words) == 1 and m.start() == 0 and m.group("m")):
            continue
        found.update(words)
    for m in _LEXICON_NAME_RX.finditer(text):
        found.add(m.group("w"))
        s = (m.group("s") or "").strip()
        if s and s in _SURNAMES:
            found.add(s)
    found -= _NOT_NAME
    if not found:
        return text
    given = {w for w in found if w in _NAMES_M or w in _NAMES_F}
    rx = re.compile(r"\b(?P<a>" + _alt(found) + r")(?P<b> (?:" + _alt(found) + r"))?\b")

    def one(m: re.Match[str]) -> str:
        b = m.group("b")
        return f"{GIVEN} {SURNAME}" if b else (SURNAME if m.group("a") not in given and m.group("a") in _SURNAMES else GIVEN)

    return rx.sub(one, text)


def _gender(text: str) -> str:
    def her(m: re.Match[str]) -> str:
        nxt = m.group("next") or ""
        w = nxt.strip().lower()
        repl = "their" if w and w not in _NOT_NOUN and w.isalpha() else "them"
        return _case(m.group("w"), repl)

    had_they = _AGREE_RX.search(text) is not None
    text = _HER_RX.sub(her, text)
    text = _GENDER_RX.sub(lambda m: _case(m.group("w"), _GENDER[m.group("w").lower()]), text)
    if not had_they:  # "she is" -> "they are" (a text that already had "they is" keeps it)
        text = _AGREE_RX.sub(lambda m: f"{m.group('p')} {_case(m.group('v'), _AGREE[m.group('v').lower()])}", text)
    return _TITLE_RX.sub("Mx", text)


def _age(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group("dec"):
            return f"in {m.group('pos')} adult years"
        n = int(m.group("n") or m.group("n2"))
        if n < 18:
            return m.group(0)
        if m.group("kw"):
            return "of adult age"
        return _article(m.group("art"), "adult") + "adult" if m.group("art") else "adult"

    text = _AGE_RX.sub(one, text)
    return _AGE_WORDS_RX.sub(lambda m: _article(m.group("art"), "adult") + _case(m.group("w"), "adult"), text)


#: the one stand-in for a religion, ethnicity or origin *in front of a word for a person* ("a Muslim
#: woman", "a Somali nurse"): there the category cannot always be told (an unlisted group), and one
#: word for all keeps "a Sikh man" and "a Buddhist man" identical whichever lists name them
GROUP = "identity-group"
_GROUP_RUN_RX = re.compile(r"\b" + GROUP + r"(?: " + GROUP + r")+\b")
_ATTRIBUTIVE_RX = re.compile(r"(?<![\w-])(?P<art>\b[Aa]n? )?(?P<w>(?:[A-Z][a-z']+(?:[- ][A-Z][a-z]+)?|white|black))(?=" + _PERSON_RX + ")")


#: a person's description after their (already neutral) name, "Alex Doe, an adult Danish Sikh widower":
#: the capitalised words there describe the person whatever noun follows them (a word for a person that
#: the lists lack, such as "widower", would otherwise leave "Sikh" and "Buddhist" apart)
_DESCRIBED_RX = re.compile(r"\b(?P<name>(?:" + GIVEN + "|" + SURNAME + r"), )(?P<art>an? )?(?P<age>(?:adult|\w+-year-old|\d{1,3}) )?"
                           r"(?P<run>(?:[A-Z][a-z']+(?:-[A-Z][a-z]+)? ){1,3})(?=[a-z])")


def _attributive(text: str) -> str:
    """Capitalised words (and white/black) inside a sentence, in front of a word for a person or in a
    named person's description."""
    known = set(_RELIGION_ADJ) | set(_ETHNIC) | set(_NATIONS) | {e.replace("-", " ") for e in _ETHNIC}

    def described(m: re.Match[str]) -> str:
        if any(w in _NOT_NAME or w in _STAND_INS for w in m.group("run").split()):
            return m.group(0)
        age = m.group("age") or ""
        art = m.group("art") if age else _article(m.group("art"), GROUP)  # "a Danish" -> "an identity-group"
        return m.group("name") + (art or "") + age + GROUP + " "

    if GIVEN in text or SURNAME in text:
        text = _DESCRIBED_RX.sub(described, text)

    def one(m: re.Match[str]) -> str:
        w = m.group("w")
        start = m.start("w")
        before = text[max(0, start - 2):start]
        inside = start > 0 and not re.search(r"[.!?:;\n]\s*$", text[:start]) and before[-1:] in (" ", "-", "(")
        if w in known or (inside and w not in _NOT_NAME and w not in _STAND_INS):
            return _article(m.group("art"), GROUP) + GROUP
        return m.group(0)

    text = _ATTRIBUTIVE_RX.sub(one, text)
    return _GROUP_RUN_RX.sub(GROUP, text)


def _groups(text: str) -> str:
    text = _attributive(text)
    text = _RELIGION_THING_RX.sub(lambda m: _RELIGION_THINGS[m.group("w")], text)

    def religion(m: re.Match[str]) -> str:
        w = m.group("w")
        noun = w in _RELIGION_NOUN
        repl = "believers" if noun else "religious"
        if not noun and m.group("art") and not re.match(_PERSON_RX, text[m.end():]):
            repl = "believer"  # "a Muslim" as a noun
        return _article(m.group("art"), repl) + repl

    text = _RELIGION_RX.sub(religion, text)
    text = _COUNTRY_RX.sub(lambda m: f"{m.group('p')} a country", text)

    def ethnic(m: re.Match[str]) -> str:
        w = m.group("w")
        if (w.lower() == "white" or w == "black") and not re.match(_PERSON_RX, text[m.end():]):
            return m.group(0)  # "a white paper", "black coffee"
        repl = "ethnic people" if w in _ETHNIC_NOUN else "ethnic"
        return _article(m.group("art"), repl) + repl

    text = _ETHNIC_RX.sub(ethnic, text)

    def nation(m: re.Match[str]) -> str:
        repl = "nationals" if m.group("w") in _NATION_PLURAL else "national"
        return _article(m.group("art"), repl) + repl

    return _NATION_RX.sub(nation, text)


def _dis_phrase(m: re.Match[str]) -> str:
    w = m.group(0).lower()
    if w.startswith(("is ", "are ", "was ", "were ", "am ", "i'm ")):
        return m.group(0).split()[0] + " of a disability status"
    if w.startswith(("in ", "with", "without")):
        return "with a disability status"
    if w.startswith(("wheelchair", "non-")):
        return "person with a disability status"
    return ("have" if w.startswith(("use ", "have", "do not", "don't")) else "has") + " a disability status"


def _disability(text: str) -> str:
    text = _DIS_PHRASE_RX.sub(_dis_phrase, text)
    return _DIS_WORD_RX.sub("of-a-disability-status", text)


def _gender_identity(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        w, verb, person = m.group("w"), m.group("verb") or "", m.group("person") is not None
        listed = _LISTED_RX.search(m.string, 0, m.start()) is not None  # "is deaf and trans"
        if w.lower() in ("trans", "cis") and not verb and not person and not listed:
            return m.group(0)  # "trans fats", "cis-trans isomers"
        if verb and not person:  # "is transgender"
            return verb.split()[0] + " of a gender identity"
        if listed and not person:
            return "of a gender identity"
        return verb + _case(w, "of-a-gender-identity")  # "a trans woman", "is a trans man", "transgender rights"
    return _GID_RX.sub(one, text)


def _orientation(text: str) -> str:
    text = _SEX_RX.sub("couple's", text)

    def one(m: re.Match[str]) -> str:
        w = m.group(0)
        low = w.lower()
        if (low.endswith(("straight", "bi")) and not m.group("noun") and not low.startswith(("is", "are", "was", "were"))
                and not _LISTED_RX.search(m.string, 0, m.start())):
            return w  # "a straight answer", "bi-weekly"; but "is autistic and straight" lists an orientation
        verb = re.match(r"(is|are|was|were) ", w, re.I)
        noun = m.group("noun") or ""
        return (verb.group(0) if verb else "") + "of an orientation" + noun
    return _ORIENT_RX.sub(one, text)


def _asker(text: str) -> str:
    """The person who asks, undescribed (:mod:`accord.fairness.asker`; imported here, when first needed,
    because it reads this module's lexicons)."""
    from accord.fairness.asker import undescribe_asker

    return undescribe_asker(text)


def _asker_runs(words: frozenset[str]) -> bool:
    from accord.fairness.asker import TRIGGER_WORDS

    return not words.isdisjoint(TRIGGER_WORDS)


# ---------------------------------------------------------------------------- the quick pass
# Each rewrite runs only when the text holds a word it can start from: most texts mention few or
# no attributes, and the rewrites' large alternations cost ~0.3 ms a text in all (0.17 ms with the
# quick pass on corpus texts, which mention people more than most traffic). The trigger sets are built from the lexicons and patterns above (so they cannot
# fall behind them) and are supersets: a hit only means the rewrite runs.
_WORD_RX = re.compile(r"[a-z][a-z'-]*")
_PART_RX = re.compile(r"[a-z]+")
_CAPITAL_RX = re.compile(r"\b(?!I\b)[A-Z]")
_DIGIT_RX = re.compile(r"\d")
_NAME_COMMA_RX = re.compile(_NAME + r", (?:an? |aged \d|age \d|who |\d)")  # _SLOT_RX's last form ("X Y, a ...")


def _lower_words(text: str) -> frozenset[str]:
    """Every word of ``text`` in lower case: whole (with hyphens and apostrophes) and in parts."""
    low = text.lower()
    return frozenset(_WORD_RX.findall(low)).union(_PART_RX.findall(low))


def _entries(*lists: Any) -> frozenset[str]:
    """Lexicon entries in lower case, split at spaces only (a hyphenated entry stays whole)."""
    return frozenset(w.lower() for words in lists for entry in words for w in entry.split())


def _pattern_words(*patterns: str) -> frozenset[str]:
    stop = {"a", "an", "is", "are", "was", "were", "not", "no", "in", "with", "without", "has", "have", "had",
            "use", "uses", "using", "s", "of", "history"}
    return frozenset(w.lower() for p in patterns for w in re.findall(r"[A-Za-z]+", p)) - stop


_NAME_WORDS = _entries(_NAMES_M, _NAMES_F)
_SLOT_WORDS = _pattern_words(_ROLE) | _entries(_TITLES, ["Mx", "Dr"])
_AGE_WORDS = _entries(["young younger elderly older old middle-aged senior retired aged age",  # _AGE_WORDS_RX, _AGE_RX
                       "twenties thirties forties fifties sixties seventies eighties nineties"])
_DIS_WORDS = _entries(_DISABILITY_WORDS) | _pattern_words(*_DISABILITY_PHRASES)
_ORIENT_WORDS = _entries(_ORIENTATION, ["sex"])
_GID_WORDS = _entries(_GENDER_IDENTITY, ["trans", "cis"])
_GROUP_WORDS = _entries(_RELIGION_ADJ, _RELIGION_NOUN, _RELIGION_THINGS, _ETHNIC, _ETHNIC_NOUN, _NATIONS,
                        _NATION_PLURAL, _NATIONS.values())
_PERSON_WORDS = _entries(_PERSON_NOUNS)
_GENDER_WORDS = _entries(_GENDER, ["her"], _TITLES)
_STAND_IN_NAMES = frozenset([GIVEN.lower(), SURNAME.lower()])  # _names' output, which _DESCRIBED_RX starts from


#: (when to run, rewrite) in the order they apply; a gate reads the text as the earlier rewrites left it
_STAGES: tuple[tuple[Any, Any], ...] = (
    (lambda t, w, caps: not w.isdisjoint(_NAME_WORDS) or (caps and not w.isdisjoint(_SLOT_WORDS))
     or _NAME_COMMA_RX.search(t) is not None, _names),
    (lambda t, w, caps: _DIGIT_RX.search(t) is not None or not w.isdisjoint(_AGE_WORDS), _age),
    (lambda t, w, caps: not w.isdisjoint(_DIS_WORDS), _disability),
    (lambda t, w, caps: not w.isdisjoint(_GID_WORDS), _gender_identity),
    (lambda t, w, caps: not w.isdisjoint(_ORIENT_WORDS), _orientation),
    (lambda t, w, caps: not w.isdisjoint(_GROUP_WORDS) or (caps and not w.isdisjoint(_PERSON_WORDS | _STAND_IN_NAMES)),
     _groups),
    (lambda t, w, caps: not w.isdisjoint(_GENDER_WORDS), _gender),
    (lambda t, w, caps: _asker_runs(w), _asker),
)


@functools.lru_cache(maxsize=16384)
def neutralize(text: str) -> str:
    """``text`` with mentions of protected attributes replaced by category stand-ins (see the module
    docstring); ``text`` itself when it mentions none. Idempotent: ``neutralize(neutralize(t)) ==
    neutralize(t)``."""
    if not text:
        return text
    t, words, caps = text, _lower_words(text), _CAPITAL_RX.search(text) is not None
    for run, rewrite in _STAGES:
        if run(t, words, caps):
            new = rewrite(t)
            if new != t:
                t, words, caps = new, _lower_words(new), _CAPITAL_RX.search(new) is not None
    return text if t == text else t
