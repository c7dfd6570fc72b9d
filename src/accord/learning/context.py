"""Which part of a long context the learned judges read.

A context in a real deployment carries more than the situation: a system prompt's opening before
it, tool lists, output formats and dates after it. The cross-encoder reads about 300 characters of
context (its 128 tokens hold the action too), and it used to read the last 300: with a tool list
appended, it read the tool list and none of the situation. On the judgment sets with independently
written deployment text around each context (``bench/judgment.py --sets dev+deploy``) the shipped
gate fell from 0.884 to 0.731 macro-F1.

:func:`focus` keeps a long context's segments (lines and sentences) that are nearest the action in
meaning, in their order, up to :data:`FOCUS_CHARS`: deployment text rarely shares the action's
topic, the situation nearly always does. A context that fits is returned as it is, so short cases
read exactly as before. The decision model's features and its cross-encoder both read through it,
in training and at run time.
"""

from __future__ import annotations

import functools
import re

import numpy as np

#: the characters of context the learned judges read (the cross-encoder's share of its 128 tokens)
FOCUS_CHARS = 300
#: the encoder that places segments near the action (static token embeddings: ~0.2 ms a context)
ENCODER = "wordllama"
_SEGMENT_RX = re.compile(r"[^\n.!?]*(?:[.!?]+\s*|\n\s*|$)")


def segments(text: str) -> list[str]:
    """``text`` cut after each line break and each sentence end (the white space after it kept with
    it); joined, they give ``text`` back."""
    return [s for s in (m.group(0) for m in _SEGMENT_RX.finditer(text)) if s]


@functools.lru_cache(maxsize=4096)
def focus(context: str, action: str) -> str:
    """``context`` itself when it fits in :data:`FOCUS_CHARS`; else its segments nearest ``action``
    (cosine of their embeddings), in their original order, until the budget is spent."""
    if len(context) <= FOCUS_CHARS:
        return context
    segs = segments(context)
    filled = [i for i, s in enumerate(segs) if s.strip()]
    if len(filled) <= 1:
        return context
    from accord.learning.encoders import get_encoder

    E = get_encoder(ENCODER).encode([segs[i].strip() for i in filled] + [action[:600] or " "])  # unit rows
    near = E[:-1] @ E[-1]
    keep: list[int] = []
    used = 0
    for j in np.argsort(-near, kind="stable"):
        n = len(segs[filled[j]])
        if keep and used + n > FOCUS_CHARS:
            continue
        keep.append(filled[j])
        used += n
    return "".join(segs[i] for i in sorted(keep)).strip()
