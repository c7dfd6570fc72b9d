"""The value model's evidence: the words whose removal lowers a principle's score most (occlusion).

With an additive (static) encoder a variant (the case minus a span of words) is computed by
subtracting the span's token vectors from the case's sum and by adjusting its lexical block, not
by re-encoding; any other encoder re-encodes each shortened text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from accord.learning.encoders import normalize_rows, segment_sum, word_index_of
from accord.learning.value_features import CaseLike, Feats, as_pair, dense_block, precedent_key
from accord.learning.value_scoring import ValueScoring
from accord.types import Evidence

REENCODED_OCCLUSION_WORDS = 30  # longest case (context + action, in words) whose evidence a non-additive encoder computes
_WORD = re.compile(r"\S+")  # occlusion removes words (and spans of words) found by this


@dataclass
class _VariantLex:
    """The lexical block of occlusion variants, kept factored instead of materialised.

    A variant's row is its case's indicator row minus the n-grams that occur only inside the
    removed span plus the bigram that bridges it, scaled by ``lexical_scale / sqrt(nnz)``. Spelt
    out, the rows of a long text would repeat the whole text once per span (quadratic in its
    length); factored, ``X @ W`` gathers weight rows: each case's n-grams once, then per variant
    the few that vanish or appear. Plain index arrays, no sparse matrices: building those costs
    more than the product for a single check.
    """

    n_cases: int
    base_case: np.ndarray  # (case, column) of every distinct n-gram of every case; all row arrays ascend
    base_col: np.ndarray
    owner: np.ndarray  # (n_rows,) the case of each row
    gone_row: np.ndarray  # (row, column) of n-grams a variant loses
    gone_col: np.ndarray
    new_row: np.ndarray  # (row, column) of bridging bigrams a variant gains
    new_col: np.ndarray
    scale: np.ndarray  # (n_rows,)

    def __matmul__(self, w: np.ndarray) -> np.ndarray:
        W = w if w.ndim == 2 else w[:, None]
        out = segment_sum(self.base_case, W[self.base_col].astype(np.float64), self.n_cases)[self.owner]
        out -= segment_sum(self.gone_row, W[self.gone_col].astype(np.float64), len(self.owner))
        out[self.new_row] += W[self.new_col]  # at most one bridging bigram per row
        out *= self.scale[:, None]
        return out if w.ndim == 2 else out[:, 0]


def _member(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Which ``keys`` occur in the ascending ``sorted_keys`` (``np.isin`` without its set-up cost)."""
    if not len(sorted_keys):
        return np.zeros(len(keys), bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[pos] == keys


def _chunks(items: list[Any], sizes: list[int], limit: int) -> list[list[Any]]:
    """``items`` in order, cut into runs whose ``sizes`` add up to about ``limit`` (at least one item each)."""
    out: list[list[Any]] = [[]]
    total = 0
    for it, n in zip(items, sizes, strict=True):
        if out[-1] and total + n > limit:
            out.append([])
            total = 0
        out[-1].append(it)
        total += n
    return out


class _Span(NamedTuple):
    """One case planned for occlusion: its texts, the principle's column, and the word spans removed in turn."""

    ctx: str
    act: str
    col: int
    starts: list[int]  # first word of each span
    words: list[str]
    span: int  # words per span


class OcclusionEvidence(ValueScoring):
    """Occlusion evidence (the fourth layer of the value model)."""

    def occlusion(self, case: CaseLike, principle: str, top: int = 3) -> list[tuple[Evidence, float]]:
        """The words whose removal lowers the principle's score most, with the score without them."""
        return self.occlusion_many([(case, principle)], top=top)[0]

    def occlusion_many(self, items: Sequence[tuple[CaseLike, str]], top: int = 3) -> list[list[tuple[Evidence, float]]]:
        """:meth:`occlusion` for many ``(case, principle)`` items in one encoding pass.

        Words are grouped into spans (1 word for short actions, more for long ones); each span is
        removed in turn and the case re-scored. With an additive encoder the variants are computed
        from the tokens already encoded (subtracting the span's token vectors), not re-encoded.
        Any other encoder re-encodes every shortened text, which costs one transformer pass per
        span and text (MiniLM on two cores: ~4 ms for a short prompt, ~50 ms at its 128-token
        window), so only cases of up to ``REENCODED_OCCLUSION_WORDS`` words (context and action)
        get evidence there.
        """
        self._check_fitted()
        additive = self._additive is not None
        plan: list[_Span | None] = []
        for case, principle in items:
            ctx, act = as_pair(case)
            words = _WORD.findall(act)
            if len(words) < 2 or principle not in self.principles or (
                    not additive and len(words) + len(_WORD.findall(ctx)) > REENCODED_OCCLUSION_WORDS):
                plan.append(None)
                continue
            span = 1 if len(words) <= 12 else 2 if len(words) <= 40 else max(1, len(words) // 20)
            plan.append(_Span(ctx, act, self.principles.index(principle), list(range(0, len(words), span)), words, span))
        if not any(plan):
            return [[] for _ in items]
        todo = [p for p in plan if p is not None]
        # variants are scored a few thousand rows at a time: the whole batch's feature rows would
        # take hundreds of MB, and fresh memory of that size costs more than the products on it
        P = np.concatenate([self._variant_scores(chunk) for chunk in _chunks(todo, [1 + len(p.starts) for p in todo], 4096)])
        out: list[list[tuple[Evidence, float]]] = []
        first = 0
        for entry in plan:
            if entry is None:
                out.append([])
                continue
            _, act, j, starts, words, span = entry
            base = P[first, j]
            after = P[first + 1:first + 1 + len(starts), j]
            first += 1 + len(starts)
            drops = base - after
            found = []
            bounds: list[tuple[int, int]] = []
            for o in np.argsort(-drops, kind="stable")[:top]:
                if drops[o] <= 0.01:
                    break
                bounds = bounds or [m.span() for m in _WORD.finditer(act)]
                start, end = bounds[starts[o]][0], bounds[min(starts[o] + span, len(bounds)) - 1][1]
                found.append((Evidence.trusted(text=act[start:end], start=start, end=end, field="action"), float(after[o])))
            out.append(found)
        return out

    def _variant_scores(self, todo: list[_Span]) -> np.ndarray:
        """Principle scores of each planned case and of its variants (the case minus one span), row per variant."""
        if self._additive is not None:
            F = self._occlusion_variants(todo)
        else:
            variants: list[tuple[str, str]] = []
            for ctx, act, _, starts, words, span in todo:
                variants.append((ctx, act))
                variants.extend((ctx, " ".join(words[:s] + words[s + span:])) for s in starts)
            F = self._feats(variants)
        # each variant (the case minus a few words) keeps its case's neighbours, re-scored: the
        # neighbour search over the whole memory runs once per case (and is usually cached already)
        sizes = [1 + len(p.starts) for p in todo]
        owner = np.repeat(np.arange(len(todo)), sizes)
        first_rows = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        base_idx, _ = self._neighbours(F.joint[first_rows], [(p.ctx, p.act) for p in todo])
        nn = None
        if base_idx.shape[1]:
            idx = base_idx[owner]
            M = self._memory_arrays()[0]
            sims = np.einsum("nd,nkd->nk", F.joint, M[idx], optimize=False).astype(np.float32)
            order = np.argsort(-sims, axis=1, kind="stable")
            nn = (np.take_along_axis(idx, order, axis=1), np.take_along_axis(sims, order, axis=1))
        return self._principle_scores(F, nn=nn)[0]

    def _occlusion_variants(self, plan: list[_Span]) -> Feats:
        """Features of each case and of the case minus each span, by token-vector subtraction.

        Rows come per case: the case itself, then one row per span. A span's token vectors are
        summed once (one pass for all spans of all cases) and subtracted from the case's sum; the
        lexical block of a variant keeps every unigram and bigram that does not touch the span,
        plus the bigram that bridges it, as re-tokenising the shortened text would give (see
        :class:`_VariantLex`). Token ids come from the encoder's cache (the scoring pass put them
        there); no Python loop runs per case or per token.
        """
        enc = self._additive_enc()
        acts = list(dict.fromkeys(p.act for p in plan))
        ctxs = list(dict.fromkeys(p.ctx for p in plan if p.ctx))
        Sa, act_ids = enc.pool(acts)  # the scoring pass has usually cached both
        where = {t: i for i, t in enumerate(acts)}
        Sc = np.vstack([np.zeros((1, enc.dim), np.float32), enc.pool(ctxs)[0]]) if ctxs else np.zeros((1, enc.dim), np.float32)
        c_of = {t: i + 1 for i, t in enumerate(ctxs)}  # row 0 of ``Sc``: no context
        k_of = np.fromiter((where[p.act] for p in plan), np.int64, len(plan))
        n_groups = np.fromiter((len(p.starts) for p in plan), np.int64, len(plan))
        n_words = np.fromiter((len(p.words) for p in plan), np.int64, len(plan))
        span = np.fromiter((p.span for p in plan), np.int64, len(plan))
        sizes = 1 + n_groups
        n_rows = int(sizes.sum())
        firsts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        owner_rows = np.repeat(np.arange(len(plan)), sizes)
        sa = Sa[k_of][owner_rows]  # every variant row starts as its case's sum
        sc = Sc[np.fromiter((c_of.get(p.ctx, 0) for p in plan), np.int64, len(plan))][owner_rows]
        # every token of every case, with its case and the row of the span holding it
        lens = np.fromiter((len(act_ids[i]) for i in k_of), np.int64, len(plan))
        ids_all = np.concatenate([act_ids[i] for i in k_of]).astype(np.int64) if lens.sum() else np.zeros(0, np.int64)
        case_all = np.repeat(np.arange(len(plan)), lens)
        tok0 = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
        word = self._token_words(plan, ids_all, tok0, case_all, lens, n_words)
        group = np.clip(word // span[case_all], 0, n_groups[case_all] - 1)
        row_all = firsts[case_all] + 1 + group
        # the bigram bridging each removed span: the tokens just before and after the span's tokens
        rows_u, first_at, count = np.unique(row_all, return_index=True, return_counts=True)
        last_at = first_at + count - 1
        c = case_all[first_at]
        ok = (first_at > tok0[c]) & (last_at < tok0[c] + lens[c] - 1)
        bridge = np.stack([rows_u[ok], ids_all[first_at[ok] - 1], ids_all[last_at[ok] + 1]], axis=1)
        if len(ids_all):
            sa -= enc.sum_ids_by_row(row_all, ids_all, n_rows)  # rows ascend: cases in order, spans in order
        ea, ec, ej = normalize_rows(sa), normalize_rows(sc), normalize_rows(sa + sc)
        dense = dense_block(ea, ec, ej)
        lex = self._variant_lex(len(plan), owner_rows, ids_all, case_all, row_all, bridge) if self.lexical else None
        return Feats(dense, lex, precedent_key(ea, ec))

    def _token_words(self, plan: list[_Span], ids: np.ndarray, tok0: np.ndarray,
                     case: np.ndarray, lens: np.ndarray, n_words: np.ndarray) -> np.ndarray:
        """Per token (all cases' tokens concatenated): the index of the ``_WORD`` word holding its last character.

        The encoder reads it off its token pieces where it can (:meth:`WordLlamaEncoder.word_index`);
        a case whose word count comes out different from the text's, and every case of an encoder
        without that shortcut, is tokenised again with character offsets.
        """
        enc = self._additive_enc()
        word = np.full(len(ids), -1, np.int64)
        redo = np.arange(len(plan))
        word_index = word_index_of(enc)
        if word_index is not None and len(ids):
            first = np.zeros(len(ids), bool)
            first[tok0[lens > 0]] = True
            word = word_index(ids, first)
            counted = np.zeros(len(plan), np.int64)
            np.maximum.at(counted, case, word + 1)
            redo = np.flatnonzero(counted != n_words)
        if len(redo):
            for k, (_, offsets) in zip(redo.tolist(), enc.token_offsets([plan[k].act for k in redo]), strict=True):
                starts = np.array([m.start() for m in _WORD.finditer(plan[k].act)], dtype=np.int64)
                ends = np.fromiter((e - 1 for _, e in offsets), np.int64, len(offsets))
                word[tok0[k]:tok0[k] + lens[k]] = np.searchsorted(starts, ends, side="right") - 1
        return word

    def _variant_lex(self, n_cases: int, owner_rows: np.ndarray, ids: np.ndarray, case: np.ndarray, row: np.ndarray,
                     bridge: np.ndarray) -> _VariantLex:
        """The factored lexical block of :meth:`_occlusion_variants`.

        An n-gram vanishes from a variant when every occurrence of it in the case touches the
        removed span; the bridging bigram is new unless the variant still has it.
        """
        nl = self._lexical_dim
        n_rows = len(owner_rows)
        same = case[1:] == case[:-1]
        ba, bb, bcase = ids[:-1][same], ids[1:][same], case[:-1][same]
        brow1, brow2 = row[:-1][same], row[1:][same]
        cu, cb = self._lexical_cols(ids, ba, bb)
        # occurrences per (case, column), and occurrences touching each span's row per (row, column)
        occ, n_occ = np.unique(np.concatenate([case * nl + cu, bcase * nl + cb]), return_counts=True)
        two = brow2 != brow1
        touch, n_touch = np.unique(np.concatenate([row * nl + cu, brow1 * nl + cb, brow2[two] * nl + cb[two]]), return_counts=True)
        t_row, t_col = touch // nl, touch % nl
        gone = n_touch == n_occ[np.searchsorted(occ, owner_rows[t_row] * nl + t_col)]
        g_row, g_col = t_row[gone], t_col[gone]
        gone_keys = touch[gone]  # sorted, as ``touch`` is
        n_row = n_col = np.zeros(0, np.int64)
        if len(bridge):
            br = bridge
            _, bcol = self._lexical_cols(br[:0, 1], br[:, 1], br[:, 2])
            in_case = _member(occ, owner_rows[br[:, 0]] * nl + bcol)
            vanished = _member(gone_keys, br[:, 0] * nl + bcol)
            new = ~in_case | vanished
            n_row, n_col = br[new, 0], bcol[new]
        base_case, base_col = occ // nl, occ % nl
        nnz = (np.bincount(base_case, minlength=n_cases)[owner_rows] - np.bincount(g_row, minlength=n_rows)
               + np.bincount(n_row, minlength=n_rows))
        scale = (self.lexical_scale / np.sqrt(np.maximum(nnz, 1))).astype(np.float64)
        return _VariantLex(n_cases, base_case, base_col, owner_rows, g_row, g_col, n_row, n_col, scale)
