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
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC, invisible characters stripped, homoglyphs mapped, case folded, spaces collapsed."""
    if text.isascii():  # the common case: nothing to fold but case (NFKC is the identity on ASCII)
        return _SPACES.sub(" ", text.lower()).strip()
    t = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).translate(_HOMOGLYPHS).casefold()
    return _SPACES.sub(" ", t).strip()


def deleet(normalized: str) -> str:
    """Undo leetspeak on already normalised text."""
    if normalized.isascii():
        return normalized.encode("ascii").translate(_LEET_BYTES).decode("ascii")
    return normalized.translate(_LEET)


def strip_invisible(text: str) -> str:
    """NFKC with invisible characters removed, case kept: what redaction rewrites."""
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
