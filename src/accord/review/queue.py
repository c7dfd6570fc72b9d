"""The review queue: escalations in, the next case for a given person out.

* Every verdict is recorded; every ``escalate`` becomes a review item with priority
  uncertainty × severity (:func:`escalation_recorder`).
* A reviewer sees items of their communities (and items with no community); a reviewer with no
  communities sees everything.
* A configurable share of items is sent to two reviewers so agreement can be measured; which
  items is decided by a hash of the item id, so the choice is stable, needs no extra column,
  and raising the share only adds items.
* The order is ``priority`` (uncertainty × severity, the default), ``active`` (expected model
  improvement, re-ranked with the current model), ``oldest`` or ``random``.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from accord.errors import InputError
from accord.judges.value_model import ValueModel
from accord.review.audit import StoreSinks, recorder
from accord.review.priority import expected_improvement
from accord.store import ReviewItem, Store
from accord.types import Case, Verdict

Order = Literal["priority", "active", "oldest", "random"]
ORDERS: tuple[Order, ...] = ("priority", "active", "oldest", "random")


def escalation_recorder(store: Store, source: str) -> Callable[[Case, Verdict], None]:
    """A gate recorder that records every verdict and queues every escalation for review.

    Use it as ``Gate(..., recorder=escalation_recorder(store, "cli"))``: the audit seam's
    :func:`~accord.review.audit.recorder` over the store. The review item's priority is
    :func:`~accord.review.priority.review_priority` (uncertainty × severity). A failed write raises
    :class:`~accord.errors.StoreError`: a decision that cannot be audited, or an escalation that
    would silently never reach a person, is not dropped.
    """
    record = recorder(StoreSinks(store), source)
    record.__qualname__ = f"escalation_recorder({source!r})"
    return record


def needs_two(item_id: int, share: float) -> bool:
    """Whether an item is one of the ``share`` sent to two reviewers (stable per item id)."""
    if share <= 0:
        return False
    if share >= 1:
        return True
    h = hashlib.sha256(f"accord-review-double:{item_id}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64 < share


def reviewers_needed(item: ReviewItem, share: float) -> int:
    """How many distinct reviewers the item needs before it leaves the queue (1 or 2)."""
    return 2 if needs_two(item.id, share) else 1


def visible_to(item: ReviewItem, communities: Sequence[str]) -> bool:
    """Routing: items of the reviewer's communities and items of none; no communities sees all."""
    return not communities or item.community is None or item.community in communities


@dataclass
class QueueConfig:
    """How the queue hands out work.

    Args:
        double_share: share of items sent to two reviewers (0..1).
        order: ``priority``, ``active``, ``oldest`` or ``random``.
        scan: how many open items are considered per request (the highest-priority ones).
        seed: seed of the ``random`` order.
    """

    double_share: float = 0.1
    order: Order = "priority"
    scan: int = 500
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.double_share <= 1.0:
            raise InputError(f"the double-review share must be between 0 and 1 (got {self.double_share})")
        if self.order not in ORDERS:
            raise InputError(f"unknown queue order {self.order!r}; expected one of: {', '.join(ORDERS)}")


def open_items(store: Store, config: QueueConfig, *, reviewer: str | None = None,
               communities: Sequence[str] = (), model: ValueModel | None = None,
               limit: int | None = 50) -> list[ReviewItem]:
    """The open items a reviewer may take next, in the configured order.

    Open means fewer distinct reviewers than the item needs (one, or two for the double-review
    share); items this reviewer already reviewed are left out.
    """
    items = store.review_items("open", min_reviews=2 if config.double_share > 0 else 1,
                               exclude_reviewer=reviewer, limit=config.scan)
    items = [it for it in items if it.reviewers < reviewers_needed(it, config.double_share)
             and visible_to(it, communities)]
    items = rank(items, config.order, model=model, seed=config.seed)
    return items if limit is None else items[:limit]


def next_item(store: Store, config: QueueConfig, *, reviewer: str, communities: Sequence[str] = (),
              model: ValueModel | None = None, skip: Sequence[int] = ()) -> ReviewItem | None:
    """The next item for this reviewer (``skip``: ids they passed over this session)."""
    for it in open_items(store, config, reviewer=reviewer, communities=communities, model=model, limit=None):
        if it.id not in skip:
            return it
    return None


def rank(items: list[ReviewItem], order: Order, *, model: ValueModel | None = None, seed: int = 0) -> list[ReviewItem]:
    """Order items: by stored priority, by expected model improvement, oldest first, or shuffled."""
    if order == "priority":
        return sorted(items, key=lambda it: (-it.priority, it.id))
    if order == "oldest":
        return sorted(items, key=lambda it: it.id)
    if order == "random":
        out = sorted(items, key=lambda it: it.id)
        random.Random(seed).shuffle(out)
        return out
    if model is None:
        raise InputError("the active-learning order needs a value model", hint="pass --model or use --order priority")
    scores = expected_improvement(model, [it.case for it in items])
    return [it for _, it in sorted(zip(scores.tolist(), items, strict=True), key=lambda t: (-t[0], t[1].id))]
