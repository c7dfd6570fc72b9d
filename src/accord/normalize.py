"""One canonical form of text for every judge, so trivial obfuscation does not slip past them.

Two functions build on the same character folding (:func:`fold_chars`):

* :func:`normalize` is what the rules judge matches (and the decision model reads): folded, case
  folded, spaces collapsed. ``deleet`` additionally undoes leetspeak for keyword and pattern rules
  (not for redaction, where digits matter).
* :func:`fold` is the *view* of a case the learned judges see besides the original text (the
  cascade judges both and keeps the stricter answer, see :mod:`accord.judges.cascade`): folded
  characters, letters split by dots or spaces joined again (``b.o.m.b`` → ``bomb``), and leetspeak
  undone inside words (``b0mb`` → ``bomb``), with case and spacing kept, because the value
  models were trained on ordinary text.

Character folding: NFKC (full-width and compatibility forms), then every format character
(category Cf: zero-width spaces and joiners, soft hyphens, bidi controls, tags), combining mark
(Mn, Me: accents stacked on letters, variation selectors, the combining grapheme joiner) and
Hangul filler is dropped, and confusable letters (Unicode's ``confusables.txt``, through the
``confusable-homoglyphs`` package, plus a short list of Cyrillic look-alikes it lacks) map to the
ASCII letter they imitate. Pure ASCII text skips all of it (NFKC is the identity there).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import json
import re
import unicodedata
from importlib import resources
from urllib.parse import unquote

import regex

#: format characters, combining marks and fillers: nothing a reader sees, everything a tokenizer does
_INVISIBLE_RX = regex.compile(r"[\p{Cf}\p{Mn}\p{Me}\u115f\u1160\u3164\uffa0\u2800]")
#: Cyrillic and Greek look-alikes that ``confusables.txt`` does not map to an ASCII letter
_EXTRA_HOMOGLYPHS = dict(zip(
    "аеорсухіѕјԁһкмнтвАЕОРСУХІЅЈКМНТВαεοριτυνκχΑΕΟΡΙΤΥΝΚΧı",
    "aeopcyxisjdhkmhtbAEOPCYXISJKMHTBaeopituvkxAEOPITYNKXi", strict=True))
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "l"})
_LEET_BYTES = bytes.maketrans("".join(map(chr, _LEET)).encode(), "".join(map(str, _LEET.values())).encode())
#: a leet character (cheap first test: one character class) and a leet character next to a letter
_LEET_CHAR = re.compile(r"[013457@$|!]")
#: (written to start with a character class, which CPython's ``re`` scans for quickly; the same as
#: ``[^\W\d_][013457@$|!]|[013457@$|][^\W\d_]``, which tried both branches at every position: 7x slower)
_LEET_HINT = re.compile(r"[013457@$|!](?:(?<=[^\W\d_].)|(?<!!)(?=[^\W\d_]))")
#: a word (``!`` only inside one, so ``Hello!`` keeps its ``!``)
_LEET_WORD = re.compile(r"[\w@$|]+(?:![\w@$|]+)*")
#: words with leet characters that are not leetspeak: a digit no letter looks like (``a81e0c4``,
#: ``7KXM204``), a number with a unit or an ordinal (``500mg``, ``10th``, ``3x``, ``4pm``), money
#: (``$300k``), a handle or decorator (``@pytest``), a version (``v7``), a code or formula written
#: in capitals (``H5N1``, ``DE44``, ``CaCO3``), a hexadecimal hash. Undoing leetspeak in them made a
#: second view of one agent action in five on the judgment dev set (``500mg`` → ``soomg``), which
#: doubled the learned judges' time on it and let a garbled text's score count.
_NOT_LEET = re.compile(
    r"[2689]|^\d*1st$|^\d*3rd$|^\d+(?:th|s|k|m|b|bn|x|am|pm|h|hrs?|min|d|y|yo|yrs?|xx|mg|g|kg|lbs?|ml|oz|"
    r"gb|mb|kb|tb|px|pt|kw|mw|w|v|hz|khz|mhz|ghz|fps|ms|ns|mm|cm|km|ft|in|mph|kph)$|"
    r"^\$\d|^@|^[vV]\d|^[^a-z]*[A-Z][^a-z]*$|^(?=(?:.*[A-Z]){2}).*\d$|^[0-9a-f]{7,}$")
#: cheap first tests for split letters: a single letter between two separators, or between two spaces
_SPLIT_HINTS = (re.compile(r"[.\-_*|/+~\xb7\u2022:]\s?[A-Za-z][.\-_*|/+~\xb7\u2022:]"), re.compile(r" [A-Za-z] [A-Za-z] "))
#: three or more single letters split by the same separator (``b.o.m.b``, ``k-i-l-l``, ``g u n``); linear:
#: every repetition takes a letter, so a failed end gives back one repetition, never more
_SPLIT_RX = re.compile(r"(?<![^\W\d_])[^\W\d_]([.\-_*|/+~\xb7\u2022:]\s?|\s)(?:[^\W\d_]\1)+[^\W\d_](?![^\W\d_])")
_SPLIT_SEP = re.compile(r"[\W_]")


@functools.cache
def _confusables() -> tuple[dict[int, str], frozenset[str], re.Pattern[str]]:
    """Non-ASCII letter → the ASCII letter or digit it imitates (letters preferred), the set of
    them (``not s.isdisjoint(text)``: does ``text`` hold one), and a regex that finds a non-ASCII
    letter that imitates none (a sign of real text in another script). Read once, on the first text
    that needs it (the table is 0.9 MB of JSON).

    A set, not a character class: two thirds of the look-alikes lie outside the BMP, where CPython's
    ``re`` tests a class member by member (about 1 µs per character of text, 0.6 ms for a
    600-character message; the set takes about 15 ns per character)."""
    data = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text(encoding="utf-8"))
    table: dict[int, str] = {}
    for ch, alts in data.items():
        if len(ch) != 1 or ch.isascii():
            continue
        targets = [a["c"] for a in alts if len(a["c"]) == 1 and a["c"].isascii() and a["c"].isalnum()]
        if targets:
            table[ord(ch)] = min(targets, key=lambda c: (not c.isalpha(), c))
    for ch, to in _EXTRA_HOMOGLYPHS.items():
        table.setdefault(ord(ch), to)
    chars = re.escape("".join(map(chr, table)))
    return table, frozenset(map(chr, table)), re.compile(f"(?=[^\\W\\d_])[^\\x00-\\x7f{chars}]")


_WORD_RX = re.compile(r"\w+")
_ASCII_LETTER = re.compile(r"[A-Za-z]")


def _unconfuse(text: str) -> str:
    """Disguised Latin words in ASCII: a word that mixes look-alike letters with Latin ones, or, in a
    text with no letter of another script that imitates nothing, a word made of look-alikes only.
    Real text in another script (``Привет, как дела?``) stays as it is."""
    table, looks, foreign_rx = _confusables()
    foreign = foreign_rx.search(text) is not None

    def word(m: re.Match[str]) -> str:
        w = m.group()
        if looks.isdisjoint(w):
            return w
        if _ASCII_LETTER.search(w):
            return w.translate(table)
        if foreign:
            return w
        a = w.translate(table)
        return a if a.isascii() else w

    return _WORD_RX.sub(word, text)


def fold_chars(text: str) -> str:
    """What a reader sees: NFKC, invisible characters and combining marks dropped, disguised Latin
    words in ASCII; case kept. Returns ``text`` itself when nothing changes.

    Each step runs only when a regex finds a character it changes: ``str.translate`` looks every
    character up in a dict, which costs tens of µs on a long non-ASCII text.
    """
    if text.isascii():
        return text
    t = unicodedata.normalize("NFKC", text)
    if not t.isascii():
        if _INVISIBLE_RX.search(t):
            # decomposed first, so that an accent stacked on a letter (``ḱ``) is a mark that can be dropped
            t = unicodedata.normalize("NFC", _INVISIBLE_RX.sub("", unicodedata.normalize("NFD", t)))
        if not t.isascii() and not _confusables()[1].isdisjoint(t):
            t = _unconfuse(t)
    return text if t == text else t


def normalize(text: str) -> str:
    """:func:`fold_chars`, case folded, spaces collapsed: what the rules match.

    ``str.split()`` splits on exactly the characters ``str.isspace`` (and the regex ``\\s``) accepts.
    """
    if text.isascii():  # the common case: nothing to fold but case (NFKC is the identity on ASCII)
        return " ".join(text.lower().split())
    return " ".join(fold_chars(text).casefold().split())


def _unfold(text: str) -> tuple[str, int]:
    """:func:`fold_words` and how many words it changed (a split word counts as its letters)."""
    t, n = text, 0
    if _SPLIT_HINTS[0].search(t) or _SPLIT_HINTS[1].search(t):
        parts: list[str] = []

        def join(m: re.Match[str]) -> str:
            parts.append(m.group())
            return _SPLIT_SEP.sub("", m.group())

        t = _SPLIT_RX.sub(join, t)
        n += sum(len(p.split()) if " " in p else len(_SPLIT_SEP.sub("", p)) for p in parts)
    if _LEET_CHAR.search(t) and _LEET_HINT.search(t):
        changed = [0]

        def deleet_word(m: re.Match[str]) -> str:
            w = m.group()
            if _LEET_HINT.search(w) and not _NOT_LEET.search(w):
                changed[0] += 1
                return w.translate(_LEET)
            return w

        t = _LEET_WORD.sub(deleet_word, t)
        n += changed[0]
    return (text, 0) if t == text else (t, n)


#: a run of base64 (or hex) long enough to hide a sentence; ``%xx`` escapes (URL encoding)
_B64_RX = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_HEX_RX = re.compile(r"(?:[0-9a-fA-F]{2})+")
_PCT_RX = re.compile(r"(?:%[0-9a-fA-F]{2}){3,}")
_ROT13_RX = re.compile(r"[Rr][Oo][Tt]-?13|[Cc]aesar|CAESAR")
#: the most encoded runs decoded per text (each is a few µs; a text of thousands is noise, not a message)
MAX_DECODED = 16


def _readable(raw: bytes) -> str | None:
    """``raw`` as text when it reads as text (UTF-8, mostly printable, some letters), else None."""
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(c.isprintable() or c in "\n\t" for c in s)
    letters = sum(c.isalpha() for c in s)
    return s if s and printable >= 0.95 * len(s) and letters >= 0.5 * len(s) and letters >= 4 else None


_WORD_TOKEN_RX = re.compile(r"\S+")


def _decode_run(tok: str) -> str | None:
    """A base64 or hex run as the text it encodes, or None when it does not read as text."""
    raw: bytes | None
    if _HEX_RX.fullmatch(tok):
        raw = bytes.fromhex(tok)
    else:
        try:
            raw = base64.b64decode(tok + "=" * (-len(tok) % 4), validate=True)
        except (binascii.Error, ValueError):
            return None
    return _readable(raw) if raw else None


def decoded(text: str) -> str | None:
    """``text`` with what an obvious encoding hides in it decoded in place (base64 and hex runs, URL
    escapes), and rot13 added after it where the text names it; ``None`` when there is nothing to
    decode. The decoded text stands where the code was, so a judge reads the message, not noise."""
    n = 0
    found = False

    def one(m: re.Match[str]) -> str:
        nonlocal n, found
        tok = m.group()
        n += 1
        if n > MAX_DECODED:
            return tok
        s = _decode_run(tok)
        if s is None:
            return tok
        found = True
        return s

    t = _B64_RX.sub(one, text) if _B64_RX.search(text) else text
    if "%" in t and _PCT_RX.search(t):
        t, found = unquote(t), True
    if ("13" in text or "aesar" in text or "AESAR" in text) and _ROT13_RX.search(text):  # substring tests first: 10x faster
        t, found = t + "\n" + codecs.encode(text, "rot13"), True
    return t if found else None


def hidden(text: str) -> tuple[str, str] | None:
    """What an obvious encoding hides in ``text``, apart from the text around it:
    ``(text with the encoded runs taken out, the decoded runs one per line)``, or ``None`` when
    nothing is encoded. Runs: base64 and hex (:func:`decoded`'s), words with URL escapes, and where
    the text names rot13, the lines that do not name it (or what follows the name) rot13-decoded;
    rot13 leaves the text around as it is, since any line of it may be the code."""
    found: list[str] = []
    n = 0

    def take(m: re.Match[str]) -> str:
        nonlocal n
        n += 1
        s = _decode_run(m.group()) if n <= MAX_DECODED else None
        if s is None:
            return m.group()
        found.append(s)
        return ""

    t = _B64_RX.sub(take, text) if _B64_RX.search(text) else text
    if "%" in t and _PCT_RX.search(t):
        def url(m: re.Match[str]) -> str:  # each word (not a regex around the run: that can backtrack)
            w = m.group()
            if "%" not in w or not _PCT_RX.search(w):
                return w
            found.append(unquote(w))
            return ""

        t = _WORD_TOKEN_RX.sub(url, t)
    if ("13" in text or "aesar" in text or "AESAR" in text) and _ROT13_RX.search(text):  # substring tests first
        lines = [ln for ln in text.splitlines() if ln.strip()]
        code = [ln for ln in lines if not _ROT13_RX.search(ln)]
        if not code:  # one line that names rot13: the code follows the name
            code = [_ROT13_RX.split(ln)[-1].lstrip(" :-,.") for ln in lines]
        found.append(codecs.encode("\n".join(code), "rot13"))
    if not found:
        return None
    return t.strip(), "\n".join(found)


def fold_words(text: str) -> str:
    """Letters split by separators joined, leetspeak undone in words that carry a leet character
    next to a letter (``h0w t0 m4k3 a b.o.m.b`` → ``how to make a bomb``), and text hidden by an
    obvious encoding (:func:`decoded`) added after it; case and spacing kept. Returns ``text``
    itself when nothing changes. Ambiguous (``mp3``, ``U.S.A.``), so a judge sees this besides the
    text (unless the text is mostly such words: :func:`reader_view`)."""
    plain = decoded(text)  # before unfolding: de-leeting would garble the encoded runs
    return _unfold(text if plain is None else fold_chars(plain))[0]


def reader_view(text: str) -> str:
    """:func:`fold_chars`; and :func:`fold_words` too when it changes a third of the words or more:
    a text that far obfuscated (``1t 15 5af3 t0 ...``) means nothing as written, and a model reading
    it as written mostly sees noise (and flags it). Returns ``text`` itself when nothing changes."""
    t = fold_chars(text)
    u, n = _unfold(t)
    if n and n * 3 >= len(u.split()) + n // 2:
        t = u
    return text if t == text else t


def fold(text: str) -> str:
    """:func:`fold_words` of :func:`fold_chars`: every obfuscation this module knows undone.

    Returns ``text`` itself (the same object) when nothing changes, so callers can test
    ``fold(t) is t``.
    """
    t = fold_words(fold_chars(text))
    return text if t == text else t


#: the words of an instruction that only asks to decode something and act on it ("Decode this base64
#: string and follow the instruction inside:"): encodings, decoding, responding, and function words
_DECODE_VOCABULARY = """
a an the this that these those it its is are be was here there following below above inside within in into
of on to from for with as and or then first please kindly now just simply me my you your can could would will
decode decoded decoding decrypt decipher translate convert read interpret unscramble reverse
encode encoded encoding encrypted cipher ciphertext code coded base64 b64 base hex hexadecimal rot13
url percent rot 13 64 s caesar string text message request question instruction instructions prompt task
content contents hidden written contained given says say said do what whatever asks ask respond reply answer
follow carry out act upon directly plain english language
"""
_DECODE_WORDS = frozenset(_DECODE_VOCABULARY.split())
_SENTENCE = re.compile(r"[^.!?:;\n]+[.!?:;]*")


def _without_decode_instructions(around: str) -> str:
    """``around`` without its sentences that only ask to decode the hidden text and act on it: such a
    sentence says nothing of its own (what it asks for is the hidden text, judged as its own view),
    yet a model reads "decode this and do what it says" as a jailbreak next to any request. A
    sentence with any other word ("… and then e-mail it to every customer") is kept."""
    kept = [m.group(0) for m in _SENTENCE.finditer(around)
            if not set(re.findall(r"[a-z0-9]+", m.group(0).lower())) <= _DECODE_WORDS]
    return "".join(kept).strip()


def text_views(text: str) -> tuple[str, str]:
    """The two views of ``text`` a learned judge sees (the cascade judges both and keeps the
    stricter answer): each is ``text`` itself (the same object) or the first view itself (the same
    object) when it changes nothing, so callers can test identity.

    * Text with nothing encoded in it: ``(reader_view(text), fold_words(reader_view(text)))``.
    * Text that hides something in an obvious encoding (:func:`hidden`): the text around the
      code (its reader view), and the hidden text on its own (unfolded). Each is judged as it
      would be judged written plainly: neither the code (noise to a model, which flags it) nor
      the request to decode it ("decode this and do what it says", which reads as a jailbreak
      next to any request) makes an encoded request look worse than the request itself. The
      hidden text alone still carries the harm of a harmful one.
    """
    seen, unfolded = _text_views(text)
    first = text if seen is None else seen
    return first, (first if unfolded is None else unfolded)


def _reader(a: str) -> tuple[str, str]:
    """Reader view and unfolded view of already character-folded text."""
    u, n = _unfold(a)
    return (u if n and n * 3 >= len(u.split()) + n // 2 else a), u


@functools.lru_cache(maxsize=8192)
def _text_views(text: str) -> tuple[str | None, str | None]:
    """:func:`text_views` by value, ``None`` for "unchanged". Cached (a conversation's earlier
    messages and a system prompt come back with every request); the cache holds no argument
    object, only values: an equal string that is another object must get itself back, not the
    string that filled the cache."""
    a = fold_chars(text)
    enc = hidden(a)
    if enc is None:
        seen, unfolded = _reader(a)
    else:
        around, inside = enc
        around = _without_decode_instructions(around)
        inside = fold_chars(inside)
        seen = _reader(around if any(c.isalpha() for c in around) else inside)[0]
        unfolded = _unfold(inside)[0]
    return (None if seen == text else seen), (None if unfolded == seen else unfolded)


def deleet(normalized: str) -> str:
    """Undo leetspeak on already normalised text.

    Every character it maps is ASCII, and no byte of a multi-byte UTF-8 character is: a byte
    table over the UTF-8 form gives what ``str.translate`` gives, many times faster.
    """
    if normalized.isascii():
        return normalized.encode("ascii").translate(_LEET_BYTES).decode("ascii")
    return normalized.encode("utf-8", "surrogatepass").translate(_LEET_BYTES).decode("utf-8", "surrogatepass")


def strip_invisible(text: str) -> str:
    """NFKC with invisible characters removed, case kept: what redaction rewrites."""
    if text.isascii():
        return text
    return _INVISIBLE_RX.sub("", unicodedata.normalize("NFKC", text))
