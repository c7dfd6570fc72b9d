"""Pairs for the pairwise page: two responses to one context, of which a person picks the better.

Pairs come from what reviewers already wrote and saw:

* ``corr:<review id>``: a case's original response against a reviewer's corrected response;
* ``ctx:<item a>:<item b>``: two review items with the same context and different responses.

A pair is named by its id and rebuilt from the store when the choice comes back, so the browser
never sends the texts that become training data. Which response is shown as A is fixed per pair
(a hash of its id), so neither side is always first.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass

from accord.errors import InputError
from accord.store import ReviewItem, Store
from accord.types import Preference

SOURCE_PREFIX = "pairwise:"


@dataclass(frozen=True)
class Pair:
    """Two responses to one context, in display order (``a`` first)."""

    id: str
    item_id: int
    trace_id: str | None
    context: str
    a: str
    b: str

    def preference(self, choice: str, reviewer: str) -> Preference:
        """The preference a choice of ``a`` or ``b`` makes."""
        if choice not in ("a", "b"):
            raise InputError(f"choose 'a' or 'b' (got {choice!r})")
        chosen, rejected = (self.a, self.b) if choice == "a" else (self.b, self.a)
        return Preference(context=self.context, chosen=chosen, rejected=rejected, source=f"{SOURCE_PREFIX}{self.id}")


def _ordered(pid: str, first: str, second: str) -> tuple[str, str]:
    flip = hashlib.sha256(pid.encode()).digest()[0] & 1
    return (second, first) if flip else (first, second)


def _make(pid: str, item: ReviewItem, x: str, y: str) -> Pair:
    a, b = _ordered(pid, x, y)
    return Pair(pid, item.id, item.trace_id, item.case.context_text, a, b)


def judged_pairs(store: Store, reviewer: str) -> set[str]:
    """Pair ids this reviewer already judged."""
    return {e.record.source[len(SOURCE_PREFIX):] for e in store.feedback_log(["preference"])
            if e.author == reviewer and e.record.source and e.record.source.startswith(SOURCE_PREFIX)}


def candidate_pairs(store: Store, *, limit_items: int = 2000) -> list[Pair]:
    """Every pair the store offers, newest first."""
    items = {it.id: it for it in store.review_items("all", limit=limit_items)}
    out: list[Pair] = []
    for r in reversed(store.reviews()):
        it = items.get(r.item_id)
        if it is None or not r.correction or not r.correction.strip():
            continue
        if r.correction.strip() != it.case.action_text:
            out.append(_make(f"corr:{r.id}", it, it.case.action_text, r.correction.strip()))
    by_ctx: dict[str, list[ReviewItem]] = defaultdict(list)
    for it in sorted(items.values(), key=lambda i: -i.id):
        if it.case.context_text.strip():
            by_ctx[it.case.context_text].append(it)
    for group in by_ctx.values():
        seen: set[str] = set()
        uniq = [it for it in group if not (it.case.action_text in seen or seen.add(it.case.action_text))]  # type: ignore[func-returns-value]
        for i in range(len(uniq) - 1):
            x, y = uniq[i + 1], uniq[i]
            out.append(_make(f"ctx:{x.id}:{y.id}", x, x.case.action_text, y.case.action_text))
    return out


def next_pair(store: Store, reviewer: str) -> Pair | None:
    """The next pair this reviewer has not judged, or ``None``."""
    done = judged_pairs(store, reviewer)
    return next((p for p in candidate_pairs(store) if p.id not in done), None)


def get_pair(store: Store, pid: str) -> Pair:
    """Rebuild a pair from its id (an unknown or stale id is an :class:`InputError`)."""
    parts = pid.split(":")
    try:
        if parts[0] == "corr" and len(parts) == 2:
            rid = int(parts[1])
            r = next((x for x in store.reviews(current=False) if x.id == rid), None)
            it = store.review_item(r.item_id) if r else None
            if r and it and r.correction and r.correction.strip():
                return _make(pid, it, it.case.action_text, r.correction.strip())
        elif parts[0] == "ctx" and len(parts) == 3:
            x, y = store.review_item(int(parts[1])), store.review_item(int(parts[2]))
            if x and y and x.case.context_text == y.case.context_text and x.case.action_text != y.case.action_text:
                return _make(pid, x, x.case.action_text, y.case.action_text)
    except ValueError:
        pass
    raise InputError(f"no such pair {pid!r}")


def record_preference(store: Store, pair: Pair, choice: str, reviewer: str) -> int:
    """Store the reviewer's choice as a preference (feedback row with author, time and trace id)."""
    pref = pair.preference(choice, reviewer)
    return store.add_feedback([pref], source="review", author=reviewer, trace_id=pair.trace_id)
