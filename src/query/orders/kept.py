"""The ended orders a fold keeps in memory: at most ``max_ended`` of them, the newest by
creation. Past that (plus some slack) the oldest are dropped in one batch and
:attr:`EndedOrders.dropped_upto` says up to where; a reader finds them again by folding the
session once more (:mod:`src.query.orders.readback`). An order that ends at or below that
mark is dropped at once."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from itertools import chain

from src.query.orders.model import ENDED_STATUSES
from src.query.orders.state import OrderState

__all__ = ["DEFAULT_MAX_ENDED", "EndedOrders"]

DEFAULT_MAX_ENDED = 10_000


class EndedOrders:
    """Ended orders by status: keys (sorted) and states side by side. ``forget(state)`` is
    told of every order dropped (the fold unlinks it from its indexes)."""

    def __init__(self, max_ended: int, forget: Callable[[OrderState], None]) -> None:
        self.max_ended = max_ended
        self.forget = forget
        self.by_status: dict[str, tuple[list[int], list[OrderState]]] = {
            s: ([], []) for s in ENDED_STATUSES
        }
        self.kept = 0
        self.dropped_upto: int | None = None  # every ended order with key <= this is dropped

    def add(self, st: OrderState) -> None:
        """Keep ``st``, which has just ended (its ``status`` set), or drop it."""
        if self.max_ended <= 0 or (self.dropped_upto is not None and st.key <= self.dropped_upto):
            self.forget(st)
            return
        keys, states = self.by_status[st.status]
        if not keys or st.key > keys[-1]:
            keys.append(st.key)
            states.append(st)
        else:
            i = bisect_right(keys, st.key)
            keys.insert(i, st.key)
            states.insert(i, st)
        self.kept += 1
        if self.kept > self.max_ended + max(64, self.max_ended // 4):
            self._trim()

    def newest_first(self, status: str, below: int | None) -> Iterator[OrderState]:
        """The kept orders of ``status`` with keys below ``below``, newest first."""
        keys, states = self.by_status[status]
        i = len(keys) if below is None else bisect_left(keys, below)
        while i > 0:
            i -= 1
            yield states[i]

    def _trim(self) -> None:
        """Drop the oldest ended orders (by creation) down to ``max_ended``."""
        excess = self.kept - self.max_ended
        groups = self.by_status.values()
        threshold = sorted(chain.from_iterable(keys for keys, _ in groups))[excess - 1]
        for keys, states in groups:
            n = bisect_right(keys, threshold)
            for st in states[:n]:
                self.forget(st)
            del keys[:n], states[:n]
            self.kept -= n
        if self.dropped_upto is None or threshold > self.dropped_upto:
            self.dropped_upto = threshold
