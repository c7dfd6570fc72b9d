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

Before choosing, :func:`focus` sets aside the segments that read as deployment scaffolding (who the
assistant is, its tone, tool lists, output formats, dates, ids): a small classifier over each
segment's embedding (:func:`scaffold_proba`, weights in ``accord/data/scaffold``, trained by
``scripts/train_scaffold.py`` on deployment text written for accord against the corpus's
situations). The nearest-to-the-action choice alone let boilerplate that shares the action's topic
crowd the situation out (tool lists beside a tool call).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import numpy as np

from accord.errors import ModelError

#: the characters of context the learned judges read (the cross-encoder's share of its 128 tokens)
FOCUS_CHARS = 300
#: the encoder that places segments near the action (static token embeddings: ~0.2 ms a context)
ENCODER = "wordllama"
_SEGMENT_RX = re.compile(r"[^\n.!?]*(?:[.!?]+\s*|\n\s*|$)")
#: where the scaffold classifier's weights ship
SCAFFOLD_DIR = Path(__file__).resolve().parents[1] / "data" / "scaffold"
#: a segment is set aside when the classifier gives it at least this probability of being scaffolding
SCAFFOLD_THRESHOLD = 0.5
SCAFFOLD_FORMAT = 1


#: a line that opens with a speaker's tag is a turn of a conversation, which is situation, never
#: scaffolding (short turns such as "A: Not really." read like a style rule to the classifier)
_TURN_RX = re.compile(r"\s*(?:user|assistant|human|ai|bot|chatbot|model|agent|customer|client|patient|caller|"
                      r"employee|student|parent|child|me|them|[a-z]|speaker \w+|person \w+)\s*:", re.I)


def turns(segs: list[str]) -> list[bool]:
    """Per segment, whether it belongs to a line that opens with a speaker's tag (a conversation's turn)."""
    out, in_turn, line_start = [], False, True
    for seg in segs:
        if line_start:
            in_turn = bool(_TURN_RX.match(seg))
        out.append(in_turn)
        line_start = seg.rstrip(" \t").endswith("\n")
    return out


def segments(text: str) -> list[str]:
    """``text`` cut after each line break and each sentence end (the white space after it kept with
    it); joined, they give ``text`` back."""
    return [s for s in (m.group(0) for m in _SEGMENT_RX.finditer(text)) if s]


def segment_shape(texts: list[str]) -> np.ndarray:
    """What a segment looks like beside what it says: length, share of digits and capitals, a list
    or markup opening, a call signature, a colon."""
    return np.array([[len(t) / 200, sum(ch.isdigit() for ch in t) / max(len(t), 1), t[:1] in "-*#[`{",
                      "(" in t and ")" in t, ":" in t, sum(ch.isupper() for ch in t) / max(len(t), 1)]
                     for t in texts], np.float32)


def scaffold_features(E: np.ndarray, texts: list[str]) -> np.ndarray:
    """What the scaffold classifier reads of each segment: its unit embedding row, then its shape
    (the same in training, ``scripts/train_scaffold.py``, and at run time)."""
    return np.hstack([E, segment_shape(texts)])


class Scaffold:
    """The scaffold classifier: a one-hidden-layer network over a segment's embedding and shape."""

    def __init__(self, directory: Path = SCAFFOLD_DIR) -> None:
        meta_path, npz = directory / "scaffold.json", directory / "scaffold.npz"
        if not meta_path.exists() or not npz.exists():
            raise ModelError(f"{directory}: no scaffold classifier (scaffold.json + scaffold.npz)",
                             hint="reinstall accord, or train one with scripts/train_scaffold.py")
        self.meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if self.meta.get("format") != SCAFFOLD_FORMAT or self.meta.get("encoder") != ENCODER:
            raise ModelError(f"{meta_path}: a scaffold classifier of another format or encoder "
                             f"({self.meta.get('format')!r}, {self.meta.get('encoder')!r})",
                             hint="retrain it with scripts/train_scaffold.py")
        with np.load(npz, allow_pickle=False) as z:
            self.W1, self.b1, self.W2, self.b2 = (z[k].astype(np.float32) for k in ("W1", "b1", "W2", "b2"))
        self.version: str = self.meta["version"]

    def proba(self, E: np.ndarray, texts: list[str]) -> np.ndarray:
        """P(scaffolding) per segment, from its unit embedding row and its text."""
        F = scaffold_features(E, texts)
        if F.shape[1] != self.W1.shape[0]:
            raise ModelError(f"the scaffold classifier reads {self.W1.shape[0]} features, not {F.shape[1]}",
                             hint="retrain it with scripts/train_scaffold.py")
        z = np.maximum(F @ self.W1 + self.b1, 0.0) @ self.W2 + self.b2
        return 1.0 / (1.0 + np.exp(-z[:, 0]))


@functools.lru_cache(maxsize=1)
def scaffold() -> Scaffold:
    """The packaged scaffold classifier (loaded once)."""
    return Scaffold()


def scaffold_proba(texts: list[str]) -> np.ndarray:
    """P(scaffolding) for each text (a segment of a context)."""
    from accord.learning.encoders import get_encoder

    return scaffold().proba(get_encoder(ENCODER).encode(texts), texts)


@functools.lru_cache(maxsize=4096)
def focus(context: str, action: str) -> str:
    """``context`` itself when it fits in :data:`FOCUS_CHARS`; else its segments that are not
    scaffolding (:class:`Scaffold`), nearest ``action`` first (cosine of their embeddings), in their
    original order, until the budget is spent. When every segment reads as scaffolding, all are
    candidates."""
    if len(context) <= FOCUS_CHARS:
        return context
    segs = segments(context)
    filled = [i for i, s in enumerate(segs) if s.strip()]
    if len(filled) <= 1:
        return context
    from accord.learning.encoders import get_encoder

    texts = [segs[i].strip() for i in filled]
    E = get_encoder(ENCODER).encode([*texts, action[:600] or " "])  # unit rows
    in_turn = turns(segs)
    situation = (scaffold().proba(E[:-1], texts) < SCAFFOLD_THRESHOLD) | np.array([in_turn[i] for i in filled])
    if situation.any():
        filled = [i for i, keep in zip(filled, situation, strict=True) if keep]
        E = np.vstack([E[:-1][situation], E[-1:]])
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
