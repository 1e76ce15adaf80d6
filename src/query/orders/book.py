"""One session's orders, kept up to date by reading only what was appended.

:class:`OrderBook` follows the session with the query layer's one follower
(:class:`~src.query.follow.SessionFollower`): every refresh folds only the complete lines
appended since the last one (:mod:`src.query.orders.fold`); a follower reset (a file
replaced, compressed, shrunk or rewritten in place, or a new file sorting before a known
one) folds the session again from the start. So a page of open orders costs the appended
bytes plus the page, whatever the session's size.

Memory: every open order, and the newest ``max_ended`` ended orders (by creation; default
:data:`~src.query.orders.kept.DEFAULT_MAX_ENDED`); a page or a chain that needs an older
ended order reads the session back (:mod:`src.query.orders.readback`).
"""

from __future__ import annotations

import heapq
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from src.query.files import SessionFiles
from src.query.follow import Reset, SessionFollower
from src.query.orders.chain import build_chain
from src.query.orders.criteria import OrderQuery
from src.query.orders.decode import LEAN_DECODE, LEAN_REJECTED, decode_line
from src.query.orders.fold import OrderFold
from src.query.orders.kept import DEFAULT_MAX_ENDED
from src.query.orders.model import ENDED_STATUSES, OPEN, OrderChain, OrderPage
from src.query.orders.positions import decode_cursor, encode_cursor, key_of
from src.query.orders.readback import collect_ended, find_order
from src.query.orders.state import OrderState, to_row
from src.query.records import EARLIEST, LATEST

__all__ = ["OrderBook"]


class OrderBook:
    """The orders of ``session_id`` under ``base``. Thread-safe; call :meth:`page` or
    :meth:`chain` (each refreshes first)."""

    def __init__(
        self,
        base: str | os.PathLike[str],
        session_id: str,
        *,
        max_ended: int = DEFAULT_MAX_ENDED,
    ) -> None:
        self.base = Path(base)
        self.session_id = session_id
        self.max_ended = max_ended
        self._lock = threading.Lock()
        self._follower = SessionFollower(self.base, session_id)
        self._fold = OrderFold(max_ended)
        self.rebuilds = 0  # folds from the start after a reset (the first one included)
        self.readbacks = 0  # pages and chains that read the session back
        self.invalid_lines = 0

    @property
    def fold(self) -> OrderFold:
        return self._fold

    def refresh(self) -> SessionFiles | None:
        """Fold what was appended; the session's files (None: it has none)."""
        with self._lock:
            return self._refresh()

    def _refresh(self) -> SessionFiles | None:
        # The loop of a cold fold (a million lines): the current file's index shifted
        # once, the fold's feed and the decoder bound to locals.
        index: dict[Path, int] = {}
        fold = self._fold
        feed, decode = fold.feed, decode_line
        lean, rejected, earliest, latest = LEAN_DECODE, LEAN_REJECTED, EARLIEST, LATEST
        current: Path | None = None
        high = 0  # the current file's index << OFFSET_BITS
        invalid = 0
        for item in self._follower.poll():
            if item.__class__ is tuple:
                path, start, line = item
                if path is not current:
                    i = index.get(path)
                    if i is None:
                        session = self._follower.session
                        index = {p: n for n, p in enumerate(session.files)} if session else {}
                        i = index.get(path)
                        if i is None:
                            continue
                    current, high = path, key_of(i, 0)
                # decode_line, its common case inlined: an ASCII line the lean decoders
                # take, at an instant a valid line may have.
                rec = None
                if line.isascii():
                    try:
                        rec = lean(line)
                    except rejected:
                        rec = decode(line)
                    else:
                        if not earliest <= rec.ts < latest:
                            rec = None
                else:
                    rec = decode(line)
                if rec is None:
                    invalid += 1
                    continue
                feed(high | start, rec)
            elif isinstance(item, Reset):
                self._fold = fold = OrderFold(self.max_ended)
                feed = fold.feed
                self.rebuilds += 1
                self.invalid_lines = invalid = 0
                index, current = {}, None
            # Unreadable: what decoded before the damage was folded
        self.invalid_lines += invalid
        return self._follower.session

    def page(
        self, query: OrderQuery, before: str | None = None, *, now: float | None = None
    ) -> OrderPage:
        """The ``query.limit`` newest matching orders older than the cursor ``before``
        (``ValueError`` naming a cursor that is not one of this session)."""
        now = time.time() if now is None else now
        with self._lock:
            session = self._refresh()
            counts = dict(self._fold.counts)
            if session is None:
                if before:
                    raise ValueError(f"invalid cursor {before!r}: not a position in this session")
                return OrderPage(self.session_id, [], None, counts)
            below = decode_cursor(self.base, session, before) if before else None
            states = self._select(session, query, below)
            cursor = None
            if len(states) >= query.limit:
                cursor = encode_cursor(self.base, session, states[-1].key)
            rows = [to_row(st, now) for st in states]
        return OrderPage(self.session_id, rows, cursor, counts)

    def _select(
        self, session: SessionFiles, query: OrderQuery, below: int | None
    ) -> list[OrderState]:
        fold = self._fold
        limit = query.limit
        ended = [s for s in ENDED_STATUSES if query.wants(s)]
        floor = fold.dropped_upto if ended else None  # kept ended orders are above it
        streams: list[Iterator[OrderState]] = [fold.newest_first(s, below) for s in ended]
        opened = fold.newest_first(OPEN, below) if query.wants(OPEN) else iter(())
        out: list[OrderState] = []
        rest: list[OrderState] = []  # open orders at or below the floor, newest first
        for st in heapq.merge(opened, *streams, key=lambda s: -s.key):
            if floor is not None and st.key <= floor:
                rest.append(st)  # only open ones are there: kept for the second part
                break
            if query.matches(st):
                out.append(st)
                if len(out) >= limit:
                    return out
        if floor is None:
            return out
        rest.extend(opened)
        need = limit - len(out)
        top = floor + 1 if below is None else min(below, floor + 1)
        self.readbacks += 1
        older = collect_ended(
            session,
            self._follower.position,
            lambda st: st.status in ended and query.matches(st),
            top,
            need,
        )
        wanted_open = [st for st in rest if query.matches(st)]
        merged = heapq.merge(wanted_open, older, key=lambda s: -s.key)
        out.extend(st for _, st in zip(range(need), merged, strict=False))
        return out

    def chain(self, order_id: str, *, now: float | None = None) -> OrderChain | None:
        """The order with this id and its events, oldest first (None: no such order)."""
        now = time.time() if now is None else now
        with self._lock:
            session = self._refresh()
            if session is None:
                return None
            st = self._fold.find(order_id)
            if st is None and self._fold.dropped_upto is not None:
                self.readbacks += 1
                st = find_order(session, self._follower.position, order_id)
            if st is None:
                return None
            return build_chain(self.session_id, session, st, now)
