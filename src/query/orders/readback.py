"""Finding ended orders the live book no longer keeps: fold the session again.

The live book (:class:`~src.query.orders.book.OrderBook`) keeps every open order but only
the newest ended ones. A page that reaches further back, or the chain of an order dropped
from memory, folds the session's files from the start once more, up to where the book has
read, keeping only what was asked for: memory stays bounded by the open orders and the
page, time follows the session (only such deep pages pay it).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

from src.query.files import SessionFiles
from src.query.lines import ReadError, iter_lines_at
from src.query.orders.decode import decode_line
from src.query.orders.fold import OrderFold
from src.query.orders.positions import key_of
from src.query.orders.state import OrderState

__all__ = ["collect_ended", "find_order", "iter_session"]


def iter_session(
    session: SessionFiles, stop: tuple[Path | None, int] = (None, 0)
) -> Iterator[tuple[int, bytes]]:
    """``(key, line)`` for every complete line of the session in file order; in the
    file ``stop[0]`` only lines that start before ``stop[1]``."""
    stop_path, stop_offset = stop
    for index, path in enumerate(session.files):
        try:
            with closing(iter_lines_at(path)) as lines:
                for start, line, complete in lines:
                    if path == stop_path and start >= stop_offset:
                        break
                    if complete:
                        yield key_of(index, start), line
        except ReadError:
            continue


def _fold(
    session: SessionFiles, stop: tuple[Path | None, int], on_end: Callable[[OrderState], None]
) -> OrderFold:
    fold = OrderFold(max_ended=0, on_end=on_end)
    for key, line in iter_session(session, stop):
        rec = decode_line(line)
        if rec is not None:
            fold.feed(key, rec)
    return fold


def collect_ended(
    session: SessionFiles,
    stop: tuple[Path | None, int],
    want: Callable[[OrderState], bool],
    below: int,
    limit: int,
) -> list[OrderState]:
    """The newest ``limit`` ended orders with keys below ``below`` that ``want``, newest
    first."""
    heap: list[tuple[int, OrderState]] = []

    def keep(st: OrderState) -> None:
        if st.key < below and want(st):
            if len(heap) < limit:
                heapq.heappush(heap, (st.key, st))
            elif st.key > heap[0][0]:
                heapq.heapreplace(heap, (st.key, st))

    _fold(session, stop, keep)
    return [st for _, st in sorted(heap, key=lambda item: -item[0])]


def find_order(
    session: SessionFiles, stop: tuple[Path | None, int], order_id: str
) -> OrderState | None:
    """The ended order with this id, as a fold of the session finds it."""
    found: list[OrderState] = []

    def keep(st: OrderState) -> None:
        if st.id == order_id:
            found.append(st)

    _fold(session, stop, keep)
    return found[-1] if found else None
