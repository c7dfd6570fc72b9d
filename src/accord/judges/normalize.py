"""Text normalisation so trivial obfuscation does not slip past rules.

NFKC folds full-width and compatibility forms, zero-width and soft-hyphen characters are
dropped, common Cyrillic and Greek look-alikes map to Latin letters, and case is folded.
``deleet`` additionally undoes leetspeak for keyword and pattern rules (not for redaction,
where digits matter).
"""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e\u034f"))
_HOMOGLYPHS = str.maketrans(
    "аеорсухіѕјԁһкмнтвАЕОРСУХІЅЈКМНТВαεοριτυνκχΑΕΟΡΙΤΥΝΚΧı",
    "aeopcyxisjdhkmhtbaeopcyxisjkmhtbaeopitυvkxaeopityvkxi".replace("υ", "u"),
)
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "l"})
_LEET_BYTES = bytes.maketrans("".join(map(chr, _LEET)).encode(), "".join(map(str, _LEET.values())).encode())
_INVISIBLE_RX = re.compile("[" + "".join(map(chr, _INVISIBLE)) + "]")
_HOMOGLYPH_RX = re.compile("[" + re.escape("".join(map(chr, _HOMOGLYPHS))) + "]")


def normalize(text: str) -> str:
    """NFKC, invisible characters stripped, homoglyphs mapped, case folded, spaces collapsed.

    ``str.split()`` splits on exactly the characters ``str.isspace`` (and the regex ``\\s``)
    accepts. The mappings run only when a regex finds a character they change: ``str.translate``
    looks every character up in a dict, which costs tens of µs on a long non-ASCII text.
    """
    if text.isascii():  # the common case: nothing to fold but case (NFKC is the identity on ASCII)
        return " ".join(text.lower().split())
    t = unicodedata.normalize("NFKC", text)
    if _INVISIBLE_RX.search(t):
        t = _INVISIBLE_RX.sub("", t)
    if _HOMOGLYPH_RX.search(t):
        t = t.translate(_HOMOGLYPHS)
    return " ".join(t.casefold().split())


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
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
