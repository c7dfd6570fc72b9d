"""The decision model's features: what it reads off a case (stateless: nothing is fitted here).

Per case, one sparse row (:meth:`Featurizer.transform`):

* static embeddings of the context, the action and the two together, and their element-wise
  product (the same action is fine in one context and not in another);
* hashed word unigrams and bigrams of the action and of the context, in separate spaces (the
  words that carry valence and stakes, "without asking", "draft for", "all", are lost in an
  averaged embedding);
* the structure of a tool call (:func:`structure`): scope ("all", wildcards, counts of
  recipients or items), amounts, irreversible verbs, and whether the action defers to a person;
* optionally the packaged value model's scores (``stack``) and a sentence encoder's vector of the
  joint text (``semantic``), whose half also joins the joint embedding the neighbours are found by.

The texts are read as the rules see them (:func:`accord.normalize.normalize`), optionally through
the attribute-neutral view first (``neutral``). The model on top is :mod:`accord.learning.decision`.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from accord.fairness.neutral import neutralize
from accord.learning.context import focus
from accord.learning.encoders import get_encoder
from accord.normalize import normalize
from accord.types import Case, ToolCall

#: each hashed word space (action, context) has ``2**HASH_BITS`` columns
HASH_BITS = 17

_SCOPE = re.compile(r"\b(all|every|everyone|everybody|entire|whole|any|each|bulk|mass|global|company-wide|"
                    r"org-wide|permanent(ly)?|indefinite(ly)?|forever)\b|\*")
_IRREVERSIBLE = re.compile(
    r"(delet|drop|purg|wip|destroy|erase|truncat|overwrit|terminat|fir(e|ing)\b|dismiss|deny|denie|reject|"
    r"approv|transfer|wire|pay|refund|charg|send|sent|publish|post|submit|file|cancel|revok|suspend|ban|"
    r"lock|disabl|shut|force|prescrib|dos(e|ing)|discharg|administer|evict|expel|deport|arrest|sell|buy|"
    r"execut|sign|enrol|subscrib|auto-?renew)", re.I)
_DEFER = re.compile(
    r"\b(draft|drafted|propos|recommend|suggest|for (your |their |human |manager'?s? )?(review|approval|sign-?off)|"
    r"confirm|ask(ed|ing)? (the|you|them|a|your)|pending|flag(ged)? for|escalat|hand(ed)? (it )?(over|off)|"
    r"await|would you like|do you want|shall i|before (i|we) (proceed|continue|send|submit))", re.I)
_UNASKED = re.compile(r"\b(without (asking|consent|review|approval|telling|notice|checking|permission|confirm\w*)|"
                      r"automatic(ally)?|auto-|silently|quietly|immediately|straight away|no need to ask)", re.I)
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
#: tool names that only read: looking something up changes nothing in the world
_READ_ONLY = re.compile(r"^(get|list|search|read|fetch|find|lookup|look_up|query|view|check|show|describe|count|"
                        r"retrieve|summari[sz]e|preview|estimate|calculate|compare)(_|$)|_(stats|status|info|details)$", re.I)


def structure(case: Case) -> np.ndarray:
    """A small dense vector read off the case's shape: tool call or prose, scope, amounts, stakes
    words and whether the action leaves the step to a person.

    A call written out as text (:meth:`ToolCall.as_text`, which is how a reviewed case, a labelled
    case and a remembered case hold it) is read as the call: the head was fitted on calls, and
    teaching refits it on remembered and reviewed cases, which would otherwise read as prose."""
    act = case.action if isinstance(case.action, ToolCall) else ToolCall.from_text(case.action)
    text = case.action_text
    is_tool = act is not None
    items = 0
    if act is not None:
        for v in act.arguments.values():
            if isinstance(v, list | tuple):
                items = max(items, len(v))
    nums = [float(x.replace(",", "")) for x in _NUMBER.findall(text)[:20] if x.replace(",", "").replace(".", "", 1).isdigit()]
    big = max(nums) if nums else 0.0
    ctx = case.context_text
    return np.array([
        1.0 if is_tool else 0.0,
        min(len(_SCOPE.findall(text.lower())), 4) / 4,
        min(len(_IRREVERSIBLE.findall(text)), 4) / 4,
        min(len(_DEFER.findall(text)), 3) / 3,
        min(len(_UNASKED.findall(text)), 3) / 3,
        min(items, 50) / 50,
        min(math.log10(1.0 + big), 9.0) / 9,
        min(len(text.split()), 200) / 200,
        min(len(ctx.split()), 200) / 200,
        1.0 if not ctx.strip() else 0.0,
        1.0 if act is not None and _READ_ONLY.search(act.name) else 0.0,
    ], dtype=np.float32)


#: the width of :func:`structure`'s vector
N_STRUCT = 11
#: words whose weights explain nothing to a reader (:meth:`accord.learning.decision.DecisionModel.word_weights` skips them)
STOPWORDS = frozenset(
    ["the", "a", "an", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for", "with", "from", "as", "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "these", "those", "i", "you", "he", "she", "we", "they", "me", "him", "her", "us", "them", "my", "your", "his", "our", "their", "not", "no", "so", "than", "then", "there", "here", "have", "has", "had", "do", "does", "did", "will", "would", "can", "could", "should", "may", "might", "must", "shall", "into", "out", "up", "down", "over", "under", "about", "also", "just", "only",
     "who", "whom", "whose", "which", "what", "when", "where", "why", "how", "while", "because", "am", "being",
     "very", "more", "most", "other", "such", "own", "same", "too", "again", "once", "each", "both", "either",
     "i'll", "i'm", "i've", "i'd", "we'll", "we're", "we've", "you'll", "you're", "it's", "that's", "there's",
     "let's", "they're", "he's", "she's"])
#: a word, as the hashed features and the word weights split text
TOKEN = re.compile(r"[a-z0-9][a-z0-9'_\-]*")


def _hashed(texts: Sequence[str], prefix: str, bits: int) -> sparse.csr_matrix:
    """Word unigrams + bigrams hashed into ``2**bits`` columns, rows L2-normalised (binary counts)."""
    from sklearn.utils import murmurhash3_32

    mask = (1 << bits) - 1
    indptr, indices = [0], []
    for t in texts:
        words = TOKEN.findall(t.lower())
        grams = set(words)
        grams.update(f"{a} {b}" for a, b in itertools.pairwise(words))
        cols = {murmurhash3_32(prefix + g, positive=True) & mask for g in grams}
        indices.extend(sorted(cols))
        indptr.append(len(indices))
    data = np.ones(len(indices), np.float32)
    m = sparse.csr_matrix((data, np.asarray(indices, np.int32), np.asarray(indptr, np.int64)),
                          shape=(len(texts), 1 << bits))
    lens = np.sqrt(np.maximum(np.diff(m.indptr), 1)).astype(np.float32)
    m.data /= np.repeat(lens, np.diff(m.indptr))
    return m


_STACK_SCALE = 3.0  # the value model's probabilities weigh like a few embedding dimensions
_SEMANTIC_CONTEXT, _SEMANTIC_ACTION = 400, 800  # characters the semantic encoder reads (see Featurizer._joint)


def _packaged_value_model() -> Any:
    """The packaged default value model (never a retrained one: its scores are features here, and
    the decision model was fitted on what the packaged model says)."""
    from accord.learning.models import default_model_dir, load_model

    return load_model(default_model_dir())


def _joint_texts(ctx: Sequence[str], act: Sequence[str]) -> list[str]:
    """Context and action as one text (the action alone when there is no context)."""
    return [f"{c}\n{a}" if c else a for c, a in zip(ctx, act, strict=True)]


@dataclass(frozen=True)
class Featurizer:
    """Turns cases into the decision model's feature rows (stateless: nothing is fitted here).

    With ``stack``, the packaged value model's P(unacceptable) and per-principle probabilities are
    features too: it learned content harm from tens of thousands of public cases, which the
    decision model's corpus cannot match, and the decision model learns how far to trust it.

    With ``semantic`` (an encoder name, e.g. ``use``), the joint text is also read by a sentence
    encoder: its vector is a dense feature, and the *joint embedding* (nearest remembered cases,
    precedents, taught cases, charter examples) is WordLlama's and its together, each half
    weighing the same, so a neighbour must be close in words and in meaning.
    """

    encoder: str = "wordllama"
    hash_bits: int = HASH_BITS
    stack: bool = False
    semantic: str | None = None
    neutral: bool = False

    @property
    def dim(self) -> int:
        return self.dense_dim + 2 * (1 << self.hash_bits)

    @property
    def stack_dim(self) -> int:
        return 1 + len(_packaged_value_model().principles) if self.stack else 0

    @property
    def semantic_dim(self) -> int:
        return get_encoder(self.semantic).dim if self.semantic else 0

    @property
    def dense_dim(self) -> int:
        return 4 * get_encoder(self.encoder).dim + N_STRUCT + self.stack_dim + self.semantic_dim

    @property
    def joint_dim(self) -> int:
        return get_encoder(self.encoder).dim + self.semantic_dim

    def texts(self, cases: Sequence[Case]) -> tuple[list[str], list[str]]:
        """The normalised context and action texts (invisible characters, homoglyphs and leetspeak
        folded, as the rules see them), so an evasion that fools the eye does not fool the model.

        With ``neutral``, the text is first read through the attribute-neutral view
        (:func:`accord.fairness.neutral.neutralize`: names, pronouns, gendered words and group
        mentions become stand-ins that keep the category), so a case decided for one person is
        decided the same for another (issue 18). It runs before ``normalize``, which lower-cases
        the capitals its name rules read."""
        pairs = self._read(cases)
        return [normalize(c) for c, _ in pairs], [normalize(a) for _, a in pairs]

    def _read(self, cases: Sequence[Case]) -> list[tuple[str, str]]:
        """``(context, action)`` of each case as this featuriser reads them: through the
        attribute-neutral view with ``neutral``, else as written."""
        pairs = [(focus(c.context_text, c.action_text), c.action_text) for c in cases]  # a long context: its focus
        if self.neutral:
            return [(neutralize(c), neutralize(a)) for c, a in pairs]
        return pairs

    def _joint(self, ctx: list[str], act: list[str], j: np.ndarray,
               semantic: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """The joint embedding (unit rows) and the semantic encoder's vectors (None without one;
        ``semantic``: those vectors, already known).

        The semantic encoder reads the context's last 400 characters and the action's first 800:
        its cost grows with length (a 2,000-character agent trajectory would take ~60 ms), and the
        words nearest the action carry most of what the decision turns on."""
        if not self.semantic:
            return j, None
        s = semantic if semantic is not None else get_encoder(self.semantic).encode(
            [f"{c[-_SEMANTIC_CONTEXT:]}\n{a[:_SEMANTIC_ACTION]}" if c else a[:_SEMANTIC_ACTION] for c, a in zip(ctx, act, strict=True)])
        return (np.hstack([j, s]) * np.float32(math.sqrt(0.5))).astype(np.float32), s

    def joint(self, cases: Sequence[Case]) -> np.ndarray:
        """The embedding of context and action together (nearest cases, precedents)."""
        ctx, act = self.texts(cases)
        return self._joint(ctx, act, get_encoder(self.encoder).encode(_joint_texts(ctx, act)))[0]

    def semantic_of(self, joint: np.ndarray) -> np.ndarray | None:
        """The semantic encoder's vectors inside joint embeddings (:meth:`joint` rows), or None
        without a semantic encoder: the joint embedding is ``[j, s]·√½``, so ``s`` is its tail."""
        if not self.semantic:
            return None
        return (np.asarray(joint, np.float32)[:, get_encoder(self.encoder).dim:] / np.float32(math.sqrt(0.5))).astype(np.float32)

    def dense(self, cases: Sequence[Case], texts: tuple[list[str], list[str]] | None = None,
              semantic: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The dense block and the joint embeddings (``texts``: :meth:`texts` of ``cases``, when
        known; ``semantic``: the semantic encoder's vectors of them, when known)."""
        ctx, act = texts or self.texts(cases)
        enc = get_encoder(self.encoder)
        c = enc.encode(ctx)
        a = enc.encode(act)
        j = enc.encode(_joint_texts(ctx, act))
        s = np.stack([structure(k) for k in cases]) if cases else np.zeros((0, N_STRUCT), np.float32)
        blocks = [c, a, j, c * a * 8.0, s]
        if self.stack:
            vm = _packaged_value_model()
            # with ``neutral`` the value model scores the attribute-neutral view too, so its scores carry
            # no more of who the people are than the rest of the features (the value model itself, the
            # gate's fast tier, reads text as written: the view costs ~0.2 ms a text, its budget's half)
            seen: Sequence[Any] = self._read(cases) if self.neutral else cases
            blocks += [vm.predict_proba(seen)[:, 1:2] * _STACK_SCALE, vm.principle_proba(seen) * _STACK_SCALE]
        J, sem = self._joint(ctx, act, j, semantic)
        if sem is not None:
            blocks.append(sem)
        return np.hstack(blocks).astype(np.float32), J

    def transform(self, cases: Sequence[Case], semantic: np.ndarray | None = None) -> tuple[sparse.csr_matrix, np.ndarray]:
        """Feature rows (sparse) and the joint embeddings (``semantic``: the semantic encoder's
        vectors of ``cases`` when known, e.g. :meth:`semantic_of` a model's remembered cases: the
        semantic encoder is most of the cost of featurising many cases)."""
        if semantic is not None and len(semantic) != len(cases):
            raise ValueError(f"semantic has {len(semantic)} rows for {len(cases)} cases")
        ctx, act = self.texts(cases)
        d, j = self.dense(cases, (ctx, act), semantic)
        X = sparse.hstack([sparse.csr_matrix(d), _hashed(act, "a:", self.hash_bits),
                           _hashed(ctx, "c:", self.hash_bits)], format="csr", dtype=np.float32)
        return X, j
