"""Text encoders behind one protocol and an explicit registry.

The default, ``wordllama``, ships its 16 MB of static token embeddings inside its PyPI package
and needs no torch: it encodes tens of thousands of short texts per second on two cores.
Embeddings carry topic more than valence; the value model learns valence from labelled data
using joint features of context and action.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np

from accord.errors import ModelError
from accord.plugins import Registry


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension.

    An *additive* encoder (a text's vector is its normalised sum of token vectors, like
    :class:`WordLlamaEncoder`) also offers ``pool``, ``token_offsets``, ``sum_ids_by_row``,
    ``vocab_size`` and ``lowercase_ids``; the value model then adds lexical features and computes
    occlusion by subtraction instead of re-encoding. ``word_index`` (optional) spares occlusion a
    second tokenisation with character offsets.
    """

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class AdditiveEncoder(Encoder, Protocol):
    """An encoder whose text vector is the normalised sum of its tokens' vectors (``additive`` is true).

    The value model relies on it to embed a context and an action together without tokenising
    the joint text, to read lexical features off the same tokens, and to compute occlusion (a
    text minus some words) by subtraction. :func:`as_additive` tells whether an encoder is one.
    Optional: ``word_index(ids, first)`` (see :meth:`WordLlamaEncoder.word_index`) spares
    occlusion a second tokenisation with character offsets.
    """

    additive: bool
    vocab_size: int

    def pool(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Raw token-vector sums ``(n, dim)`` and each text's token ids."""
        ...

    def token_offsets(self, texts: Sequence[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
        """Token ids with their character offsets."""
        ...

    def sum_ids_by_row(self, rows: np.ndarray, ids: np.ndarray, n: int) -> np.ndarray:
        """``(n, dim)`` sums of the token vectors of ``ids``, grouped by ``rows`` (ascending)."""
        ...

    @property
    def lowercase_ids(self) -> np.ndarray:
        """For each token id, the id of its lower-cased piece."""
        ...


#: the optional ``word_index`` of an additive encoder
WordIndex = Callable[[np.ndarray, np.ndarray], np.ndarray]


def as_additive(enc: Encoder) -> AdditiveEncoder | None:
    """``enc`` as an :class:`AdditiveEncoder` when it says it is one (``additive`` true), else ``None``."""
    return cast(AdditiveEncoder, enc) if getattr(enc, "additive", False) else None


def word_index_of(enc: Encoder) -> WordIndex | None:
    """The encoder's optional ``word_index`` shortcut, or ``None``."""
    return cast("WordIndex | None", getattr(enc, "word_index", None))


_SMALL_BATCH = 8  # texts; up to this many, encoding takes the single-text paths (measured: equal speed at 4, batch wins from 16)


class WordLlamaEncoder:
    """WordLlama l2_supercat (256-d static embeddings), loaded from its package, offline.

    A static encoder is *additive*: a text's embedding is the normalised sum of its tokens'
    vectors. :meth:`pool` exposes the raw sums and the token ids, which lets the value model embed
    a context and an action together without tokenising the joint text again, read lexical
    features off the same tokenisation, and compute occlusion (a text minus some words) by
    subtraction. Pooling is one sparse matrix product (token counts × embedding table), which is
    also much faster than padding a batch to its longest text.
    """

    name = "wordllama"
    dim = 256
    additive = True

    def __init__(self) -> None:
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        try:
            import wordllama
            from tokenizers import Tokenizer
            from wordllama import WordLlama
        except ImportError as e:  # pragma: no cover - it is a hard dependency
            raise ModelError("the wordllama package is not installed", hint="pip install wordllama==0.4.0.post1") from e
        finally:
            # wordllama calls logging.basicConfig(level=INFO) on import, which would print every
            # library's INFO lines (httpx requests, Alembic migrations) in the host program
            for h in root.handlers[:]:
                if h not in handlers:
                    root.removeHandler(h)
            root.setLevel(level)
        self._wl = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True, dim=self.dim)
        self._table = np.ascontiguousarray(self._wl.embedding, dtype=np.float32)
        # our own copy of the tokenizer: no padding, no truncation (wordllama's pads every batch)
        self._tok = Tokenizer.from_str(self._wl.tokenizer.to_str())
        self._tok.no_padding()
        self._tok.no_truncation()
        self.vocab_size = int(self._table.shape[0])
        self._lower: np.ndarray | None = None
        self._word_table: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _encodings(self, texts: Sequence[str], *, offsets: bool) -> list[Any]:
        # a batch call fans out over the tokenizer's thread pool, whose threads then spin on two
        # cores: for the few texts of a single check, encoding one by one is 3x faster end to end
        if len(texts) <= _SMALL_BATCH:
            return [self._tok.encode(t, add_special_tokens=False) for t in texts]
        batch = self._tok.encode_batch if offsets else self._tok.encode_batch_fast
        return list(batch(list(texts), add_special_tokens=False))

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text (no special tokens)."""
        return [e.ids for e in self._encodings(texts, offsets=False)]

    def token_offsets(self, texts: Sequence[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
        """Token ids with their character offsets (for occlusion: which tokens make up which word)."""
        return [(e.ids, e.offsets) for e in self._encodings(texts, offsets=True)]

    def word_index(self, ids: np.ndarray, first: np.ndarray) -> np.ndarray:
        """For the concatenated token ids of several texts, the ``\\S+`` word of each token.

        ``first`` marks the first token of each text. The result is, per token, the index within
        its text of the whitespace-delimited word that holds the token's last character (-1 for
        whitespace before the first word): what character offsets give, read off a per-piece table
        (does the piece start a word, end in whitespace) instead of tokenising again with offsets.
        Byte-fallback pieces of non-ASCII whitespace are not recognised: callers compare the word
        count with the text's and fall back to :meth:`token_offsets` where they differ.
        """
        if self._word_table is None:
            self._word_table = self._piece_word_table()
        starts_inside, begins_word, ends_ws = self._word_table
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return np.zeros(0, np.int64)
        first = np.asarray(first, dtype=bool)
        prev_ws = np.empty(len(ids), bool)
        prev_ws[0] = True
        prev_ws[1:] = ends_ws[ids[:-1]]
        prev_ws |= first  # a text starts after (virtual) whitespace
        count = starts_inside[ids] + (begins_word[ids] & prev_ws)
        total = np.cumsum(count)
        text_of = np.cumsum(first) - 1
        before = (total - count)[first]  # words counted before each text's first token
        return total - before[text_of] - 1

    def _piece_word_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per token id: word starts after the piece's first character, whether the piece's first
        character is non-whitespace (a word starts there after whitespace) and whether its last is."""
        n = self.vocab_size
        inside, begins, ends = np.zeros(n, np.int64), np.zeros(n, bool), np.zeros(n, bool)
        for piece, i in self._tok.get_vocab().items():
            if i >= n:
                continue
            m = re.fullmatch(r"<0x([0-9A-Fa-f]{2})>", piece)
            # a byte-fallback piece is one byte: ASCII as itself, any other byte is part of a non-space character
            s = (chr(int(m.group(1), 16)) if int(m.group(1), 16) < 0x80 else "x") if m else piece.replace("\u2581", " ")
            if not s:
                continue
            ws = [c.isspace() for c in s]
            inside[i] = sum(1 for a, b in itertools.pairwise(ws) if a and not b)
            begins[i], ends[i] = not ws[0], ws[-1]
        return inside, begins, ends

    def sum_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Sum of token vectors per id list: one sparse (texts × vocabulary) product with the table.

        A few texts are summed by gathering their rows instead (no sparse matrix to build). Both
        add the same float32 vectors in the same order, so a text embeds to the same bits whether
        it is checked alone or in a batch (``segment_sum``'s ``reduceat`` rounds differently, so
        it is not used here).
        """
        if len(ids) <= _SMALL_BATCH:
            out = np.zeros((len(ids), self.dim), np.float32)
            for i, x in enumerate(ids):
                if len(x):
                    out[i] = self._table[np.asarray(x, dtype=np.int64)].sum(axis=0, dtype=np.float32)
            return out
        from scipy import sparse

        lens = np.fromiter(map(len, ids), np.int64, len(ids))
        flat = np.fromiter(itertools.chain.from_iterable(ids), np.int32, int(lens.sum()))
        indptr = np.concatenate([[0], np.cumsum(lens)])
        counts = sparse.csr_matrix((np.ones(len(flat), np.float32), flat, indptr), shape=(len(ids), self.vocab_size))
        return np.asarray(counts @ self._table, dtype=np.float32)

    def sum_ids_by_row(self, rows: np.ndarray, ids: np.ndarray, n: int) -> np.ndarray:
        """``(n, dim)`` sums of the token vectors of ``ids``, grouped by ``rows`` (ascending).

        A few thousand tokens are gathered and summed directly; more go through one sparse
        product, which never holds every token's vector in memory at once.
        """
        if len(rows) > 4096:
            from scipy import sparse

            counts = sparse.csr_matrix((np.ones(len(ids), np.float32), (rows, ids)), shape=(n, self.vocab_size))
            return np.asarray(counts @ self._table, dtype=np.float32)
        return segment_sum(rows, self._table[ids], n)

    def pool(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Raw token-vector sums ``(n, dim)`` and each text's token ids (``int32`` arrays)."""
        if not texts:
            return np.zeros((0, self.dim), np.float32), []
        ids = self.token_ids(texts)
        return self.sum_ids(ids), [np.asarray(x, dtype=np.int32) for x in ids]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalize_rows(self.sum_ids(self.token_ids(texts)))

    @property
    def lowercase_ids(self) -> np.ndarray:
        """For each token id, the id of its lower-cased piece where one exists (case-folded lexical features)."""
        if self._lower is None:
            vocab = self._tok.get_vocab()
            low = np.arange(self.vocab_size, dtype=np.int32)
            for piece, i in vocab.items():
                j = vocab.get(piece.lower())
                if j is not None and i < self.vocab_size:
                    low[i] = j
            self._lower = low
        return self._lower


def segment_sum(rows: np.ndarray, vals: np.ndarray, n: int) -> np.ndarray:
    """``(n, k)``: ``out[r]`` is the sum of ``vals[i]`` over ``rows[i] == r`` (``rows`` ascending).

    One ``reduceat``, accumulating in ``vals``' dtype in row order; rows without entries are zero.
    """
    out = np.zeros((n, vals.shape[1]), vals.dtype)
    if len(rows):
        starts = np.flatnonzero(np.concatenate([[True], rows[1:] != rows[:-1]]))
        out[rows[starts]] = np.add.reduceat(vals, starts, axis=0)
    return out


def normalize_rows(v: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    v = np.asarray(v, dtype=np.float32)
    n = np.sqrt(np.einsum("ij,ij->i", v, v))[:, None]
    return v / np.maximum(n, np.float32(1e-9))


class CachedEncoder:
    """An LRU cache in front of an encoder, keyed by text hash (single checks repeat a lot).

    For an additive encoder (one with ``pool``) the cache keeps each text's raw token sum and token
    ids, so :meth:`encode` and :meth:`pool` share one entry and one tokenisation.
    """

    def __init__(self, inner: Encoder, size: int = 50_000) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.additive = hasattr(inner, "pool")
        self._cache: OrderedDict[bytes, tuple[np.ndarray, np.ndarray | None]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> object:  # word_index, sum_ids, token_ids ... of the inner encoder
        if name.startswith("__") or name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    # the additive interface, forwarded to the inner encoder (see :class:`AdditiveEncoder`)
    def _inner_additive(self) -> AdditiveEncoder:
        inner = as_additive(self.inner) if hasattr(self.inner, "additive") else cast(AdditiveEncoder, self.inner)
        if not self.additive or inner is None:
            raise AttributeError(f"encoder {self.name!r} is not additive")
        return inner

    @property
    def vocab_size(self) -> int:
        return int(self._inner_additive().vocab_size)

    @property
    def lowercase_ids(self) -> np.ndarray:
        return self._inner_additive().lowercase_ids

    def token_offsets(self, texts: Sequence[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
        return self._inner_additive().token_offsets(texts)

    def sum_ids_by_row(self, rows: np.ndarray, ids: np.ndarray, n: int) -> np.ndarray:
        return self._inner_additive().sum_ids_by_row(rows, ids, n)

    def _lookup(self, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray | None]]:
        keys = [hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=16).digest() for t in texts]
        out: list[tuple[np.ndarray, np.ndarray | None] | None] = [None] * len(texts)
        missing: dict[bytes, list[int]] = {}
        with self._lock:
            for i, k in enumerate(keys):
                hit = self._cache.get(k)
                if hit is None:
                    missing.setdefault(k, []).append(i)
                else:
                    self._cache.move_to_end(k)
                    out[i] = hit
        if missing:
            firsts = [idx[0] for idx in missing.values()]
            new_texts = [texts[i] for i in firsts]
            if self.additive:
                sums, ids = self.inner.pool(new_texts)  # type: ignore[attr-defined]
                entries = [(sums[j], ids[j]) for j in range(len(new_texts))]
            else:
                vecs = self.inner.encode(new_texts)
                entries = [(vecs[j], None) for j in range(len(new_texts))]
            with self._lock:
                for (k, idx), entry in zip(missing.items(), entries, strict=True):
                    for i in idx:
                        out[i] = entry
                    self._cache[k] = entry
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        return out  # type: ignore[return-value]

    def pool(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Raw token sums and token ids (additive encoders only)."""
        if not self.additive:
            raise AttributeError(f"encoder {self.name!r} is not additive")
        if not texts:
            return np.zeros((0, self.dim), np.float32), []
        entries = self._lookup(texts)
        return np.stack([e[0] for e in entries]), [e[1] for e in entries]  # type: ignore[misc]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        v = np.stack([e[0] for e in self._lookup(texts)])
        return normalize_rows(v) if self.additive else v


EncoderFactory = Callable[[], Encoder]
#: the encoder factories: registered ones, then the ``accord.encoders`` entry points (accord's own,
#: ``wordllama`` and the MiniLM pair, are declared in its pyproject.toml)
ENCODERS: Registry[EncoderFactory] = Registry("accord.encoders", "encoder")
_INSTANCES: dict[str, Encoder] = {}
_LOCK = threading.Lock()


def register_encoder(name: str, factory: EncoderFactory) -> None:
    """Register an encoder factory (a package declares one with an ``accord.encoders`` entry point)."""
    ENCODERS.register(name, factory)


def encoder_names() -> list[str]:
    return ENCODERS.names()


def get_encoder(name: str = "wordllama") -> Encoder:
    """A shared, cached instance of a registered encoder; an unknown name lists what exists."""
    with _LOCK:
        if name not in _INSTANCES:
            factory = ENCODERS.get(name)
            _INSTANCES[name] = CachedEncoder(factory(), size=int(os.environ.get("ACCORD_ENCODER_CACHE", "50000")))
        return _INSTANCES[name]
