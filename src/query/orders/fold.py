"""Folding a session's events into orders, in file order, one event at a time.

Each event finds its order by the ids that pair it (``docs/events.md``): an ``order`` its
intent by ``intent_id``; an ``ack``, ``partial_fill``, ``fill``, ``cancel``, ``expire``,
``reject`` or ``error`` its order by ``client_id`` (or ``order_id``), else by
``intent_id`` (a fill logged without its order still pairs with its intent), as the
latency analytics pair (:class:`~src.query.analytics.pairing.Pairer`). Logs without ids
fall back to arrival order the same way: an order takes the oldest intent of the same
symbol and side still waiting for one; a fill without any id the oldest open order of the
symbol. A ``gate`` that does not pass blocks its intent; the kinds of
:data:`~src.execution.schema.STATUS_AFTER` and an ``error`` at the ``execute`` stage end
an order. An event for an order that was never seen (its order not logged) starts a row
of its own when it carries an id.

Memory: every open order is kept; of the ended ones at most ``max_ended`` (the newest by
creation) stay, the older ones are dropped in batches and :attr:`OrderFold.dropped_upto`
says up to where (a reader finds them again by folding the session once more, see
:mod:`src.query.orders.readback`). ``counts`` always cover the whole session. A late
event for a dropped order (a duplicate fill, say) starts a row of its own.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable, Iterator
from itertools import chain

from src.execution.schema import ORDER_STATUSES, STATUS_AFTER
from src.query.analytics.pairing_model import as_number
from src.query.orders.latency import Mark, producer_of
from src.query.orders.model import ENDED_STATUSES, OPEN
from src.query.orders.state import OrderState
from src.query.records import EMPTY_PAYLOAD, Scalar, ScanPayload, ScanRecord

__all__ = ["DEFAULT_MAX_ENDED", "OrderFold"]

DEFAULT_MAX_ENDED = 10_000
_EPS = 1e-9


def _name(value: Scalar) -> str | None:
    if value.__class__ is str or value is None:
        return value
    return str(value)


def _num(value: Scalar) -> float | None:
    if value.__class__ is float:
        return value if value - value == 0.0 else None
    if value is None:
        return None
    n = as_number(value)
    return n if n is not None and math.isfinite(n) else None


def _text(value: Scalar) -> str | None:
    if value.__class__ is str:
        return value or None
    return None if value is None else str(value)


def _symbol(value: Scalar) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None else str(value)


def _side(value: Scalar) -> str | None:
    return value.lower() if isinstance(value, str) else None


class OrderFold:
    """Feed ``(key, record)`` in file order (keys increase with it, see
    :mod:`src.query.orders.positions`); read :attr:`open`, :attr:`ended`, :attr:`counts`.

    ``on_end(state)`` is told of every order that ends (a read-back collects from it).
    """

    def __init__(
        self,
        max_ended: int = DEFAULT_MAX_ENDED,
        on_end: Callable[[OrderState], None] | None = None,
    ) -> None:
        self.max_ended = max_ended
        self.on_end = on_end
        self.by_client: dict[str, OrderState] = {}
        self.by_intent: dict[str, OrderState] = {}
        self.by_line: dict[int, OrderState] = {}  # orders without any id, by key
        self._intent_fifo: dict[tuple[str, str | None], deque[OrderState]] = {}
        self._order_fifo: dict[str, deque[OrderState]] = {}
        # open orders by key, in key order (unless _unsorted: re-sorted before reading)
        self._open: dict[int, OrderState] = {}
        self._unsorted = False
        self._last_key = -1
        # ended orders kept, per status: keys (sorted) and states, side by side
        self.ended: dict[str, tuple[list[int], list[OrderState]]] = {
            s: ([], []) for s in ENDED_STATUSES
        }
        self.ended_kept = 0
        self.dropped_upto: int | None = None  # every ended order with key <= this is dropped
        self.counts: dict[str, int] = dict.fromkeys(ORDER_STATUSES, 0)
        self.events = 0
        self._names: dict[str, str] = {}

    # -- reading ------------------------------------------------------------------------
    @property
    def open(self) -> dict[int, OrderState]:
        """Open orders by key, oldest first."""
        if self._unsorted:
            self._open = dict(sorted(self._open.items()))
            self._unsorted = False
        return self._open

    def newest_first(self, status: str, below: int | None) -> Iterator[OrderState]:
        """The orders of ``status`` kept in memory with keys below ``below``, newest first."""
        if status == OPEN:
            for st in reversed(self.open.values()):
                if below is None or st.key < below:
                    yield st
            return
        keys, states = self.ended[status]
        i = len(keys) if below is None else bisect_left(keys, below)
        while i > 0:
            i -= 1
            yield states[i]

    def find(self, order_id: str) -> OrderState | None:
        """The order with this id (client id, intent id or line id) kept in memory."""
        st = self.by_client.get(order_id) or self.by_intent.get(order_id)
        if st is not None:
            return st
        if order_id.startswith("line-"):
            try:
                return self.by_line.get(int(order_id[5:], 16))
            except ValueError:
                return None
        return None

    # -- feeding ------------------------------------------------------------------------
    def feed(self, key: int, rec: ScanRecord) -> None:
        self.events += 1
        kind = rec.kind
        p = rec.payload or EMPTY_PAYLOAD
        if kind == "gate":
            self._gate(key, rec, p)
        elif kind == "intent":
            self._intent(key, rec, p)
        elif kind == "order":
            self._order(key, rec, p)
        elif kind in _LIFECYCLE:
            self._lifecycle(key, rec, p, kind)

    def _new(self, key: int, rec: ScanRecord) -> OrderState:
        symbol = self._name_of(_symbol(rec.symbol)) or ""
        return self._opened(OrderState(key, symbol, rec.ts, rec.ts, [key]))

    def _opened(self, st: OrderState) -> OrderState:
        key = st.key
        self.counts[OPEN] += 1
        self._open[key] = st
        if key < self._last_key:
            self._unsorted = True
        else:
            self._last_key = key
        return st

    def _mark(self, rec: ScanRecord) -> Mark:
        mono = rec.mono_ns
        if mono.__class__ is not int:
            return (rec.ts, mono, None)
        producer = producer_of(rec.event_id)
        if producer is not None:
            producer = self._names.setdefault(producer, producer)
        return (rec.ts, mono, producer)

    def _name_of(self, value: str | None) -> str | None:
        """One copy of a name many orders share (side, order type, gate, symbol)."""
        return None if value is None else self._names.setdefault(value, value)

    @staticmethod
    def _touch(st: OrderState, key: int, rec: ScanRecord) -> None:
        if key != st.key:
            st.positions.append(key)
        if rec.ts > st.updated:
            st.updated = rec.ts

    def _intent(self, key: int, rec: ScanRecord, p: ScanPayload) -> None:
        iid = _name(p.intent_id)
        names = self._name_of
        side = names(_side(p.side))
        ts = rec.ts
        st = OrderState(
            key,
            names(_symbol(rec.symbol)) or "",
            ts,
            ts,
            [key],
            intent_id=iid,
            side=side,
            quantity=_num(p.quantity),
            order_type=names(_text(p.order_type)),
            limit_price=_num(p.limit_price),
            time_in_force=names(_text(p.time_in_force)),
            reference=_num(p.current_price) or None,
            intent_at=self._mark(rec),
        )
        self._opened(st)
        if iid is not None:
            self.by_intent[iid] = st
        else:
            fifo = self._intent_fifo.setdefault((st.symbol, side), deque())
            fifo.append(st)
            self.by_line[key] = st

    def _gate(self, key: int, rec: ScanRecord, p: ScanPayload) -> None:
        iid = p.intent_id
        if iid is None:
            return
        st = self.by_intent.get(iid if isinstance(iid, str) else str(iid))
        if st is None:
            return
        st.positions.append(key)
        if rec.ts > st.updated:
            st.updated = rec.ts
        name = self._name_of(_name(p.gate_name)) or "?"
        passed = p.passed is True
        st.gates.append((name, passed))
        if not passed and st.status == OPEN and st.order_at is None:
            reason = _text(p.reason)
            self._end(st, "blocked", rec, f"{name}: {reason}" if reason else f"{name}: blocked")

    def _order(self, key: int, rec: ScanRecord, p: ScanPayload) -> None:
        cid = _name(p.client_id if p.client_id is not None else p.order_id)
        iid = _name(p.intent_id)
        side = _side(p.side)
        st: OrderState | None = None
        if iid is not None:
            found = self.by_intent.get(iid)
            if found is not None and found.status == OPEN and found.order_at is None:
                st = found
        else:
            fifo = self._intent_fifo.get((_symbol(rec.symbol), side))
            while fifo:
                found = fifo.popleft()
                if found.status == OPEN and found.order_at is None:
                    st = found
                    break
        if st is None and cid is not None:
            again = self.by_client.get(cid)
            if again is not None:  # the same order logged twice
                self._touch(again, key, rec)
                return
        if st is None:
            st = self._new(key, rec)
            st.intent_id = iid
            if iid is not None:
                self.by_intent.setdefault(iid, st)
        else:
            self._touch(st, key, rec)
            if st.intent_id is None:
                self.by_line.pop(st.key, None)
        st.client_id = cid
        names = self._name_of
        st.side = names(side) or st.side
        quantity = _num(p.quantity)
        st.quantity = quantity if quantity is not None else st.quantity
        st.order_type = names(_text(p.order_type)) or st.order_type
        limit = _num(p.limit_price)
        st.limit_price = limit if limit is not None else st.limit_price
        st.time_in_force = names(_text(p.time_in_force)) or st.time_in_force
        st.order_at = self._mark(rec)
        st.stage = "sent"
        if cid is not None:
            self.by_client[cid] = st
        else:
            self._order_fifo.setdefault(st.symbol, deque()).append(st)
            if iid is None:
                self.by_line[st.key] = st

    def _lookup(self, rec: ScanRecord, cid: str | None, iid: str | None) -> OrderState | None:
        if cid is not None:
            st = self.by_client.get(cid)
            if st is not None:
                return st
        if iid is not None:
            st = self.by_intent.get(iid)
            if st is not None and (cid is None or st.client_id in (None, cid)):
                if cid is not None and st.client_id is None:
                    st.client_id = cid
                    self.by_client[cid] = st
                return st
            return None
        if cid is None:
            fifo = self._order_fifo.get(_symbol(rec.symbol))
            while fifo and fifo[0].status != OPEN:
                fifo.popleft()
            return fifo[0] if fifo else None
        return None

    def _lifecycle(self, key: int, rec: ScanRecord, p: ScanPayload, kind: str) -> None:
        cid = _name(p.client_id if p.client_id is not None else p.order_id)
        iid = _name(p.intent_id)
        if kind == "error" and p.stage != "execute":
            st = self._lookup(rec, cid, iid) if cid is not None or iid is not None else None
            if st is not None:
                self._touch(st, key, rec)  # part of its chain; it does not end it
            return
        st = self.by_client.get(cid) if cid is not None else None
        if st is None:
            st = self._lookup(rec, cid, iid)
        if st is None:
            if cid is None and iid is None:
                return
            st = self._new(key, rec)  # its order was not logged
            st.client_id, st.intent_id = cid, iid
            st.side = self._name_of(_side(p.side))
            if cid is not None:
                self.by_client[cid] = st
            if iid is not None:
                self.by_intent.setdefault(iid, st)
        else:
            if key != st.key:
                st.positions.append(key)
            if rec.ts > st.updated:
                st.updated = rec.ts
        if st.side is None:
            st.side = self._name_of(_side(p.side))
        if kind == "ack":
            if st.status == OPEN:
                if st.ack_at is None:
                    st.ack_at = self._mark(rec)
                if st.stage != "partially_filled":
                    st.stage = "acknowledged"
        elif kind == "partial_fill":
            if st.status == OPEN:
                self._piece(st, rec, p)
                cumulative = _num(p.cumulative_quantity)
                if cumulative is not None:
                    st.filled = cumulative
                st.stage = "partially_filled"
        elif kind == "fill":
            self._fill(st, rec, p)
        elif kind == "error":
            self._end(st, "error", rec, _text(p.error))
        else:
            done = _num(p.filled_quantity)
            if st.status == OPEN and done is not None and done > st.filled:
                st.filled = done
            self._end(st, STATUS_AFTER[kind], rec, _text(p.reason))

    def _piece(self, st: OrderState, rec: ScanRecord, p: ScanPayload) -> None:
        """Add one execution's quantity, notional and fee."""
        qty, price = _num(p.filled_quantity), _num(p.fill_price)
        notional = _num(p.fill_notional)
        if notional is None and qty is not None and price is not None:
            notional = qty * price
        if st.first_fill_at is None:
            st.first_fill_at = self._mark(rec)
        if st.reference is None:
            st.reference = _num(p.reference_price) or None
        st.filled += qty or 0.0
        st.notional += notional or 0.0
        st.fees += _num(p.fill_fee) or 0.0
        if st.filled > 0 and st.notional:
            st.avg_price = st.notional / st.filled
        elif price is not None:
            st.avg_price = price

    def _fill(self, st: OrderState, rec: ScanRecord, p: ScanPayload) -> None:
        qty = _num(p.filled_quantity)
        if st.status != OPEN:
            # A fill after the order ended is a duplicate, unless the log is of the kind
            # that filled an order in several ``fill`` lines (before ``partial_fill``).
            total = st.quantity
            if (
                st.status == "filled"
                and qty is not None
                and total is not None
                and st.filled < total * (1 - _EPS)
                and st.filled + qty <= total * (1 + _EPS)
            ):
                self._piece(st, rec, p)
            return
        if st.filled > 0 and qty is not None and qty < st.filled * (1 - _EPS):
            self._piece(st, rec, p)  # only the last piece, not the order's totals
        elif st.filled > 0 and qty is None:
            self._piece(st, rec, p)
        else:  # the whole order's numbers
            if st.first_fill_at is None:
                st.first_fill_at = self._mark(rec)
            if st.reference is None:
                st.reference = _num(p.reference_price) or None
            price = _num(p.fill_price)
            notional = _num(p.fill_notional)
            st.filled = qty or 0.0
            st.avg_price = price
            if notional is None and qty is not None and price is not None:
                notional = qty * price
            st.notional = notional or 0.0
            st.fees = _num(p.fill_fee) or 0.0
        self._end(st, "filled", rec, None)

    def _end(self, st: OrderState, status: str, rec: ScanRecord, reason: str | None) -> None:
        if st.status != OPEN:
            return
        self._open.pop(st.key, None)
        st.status = status
        st.stage = None
        st.reason = reason
        st.end_at = self._mark(rec)
        self.counts[OPEN] -= 1
        self.counts[status] += 1
        st.positions = array("q", st.positions)  # compact: ints of 8 bytes, not objects
        if self.on_end is not None:
            self.on_end(st)
        if self.max_ended <= 0 or (self.dropped_upto is not None and st.key <= self.dropped_upto):
            self._forget(st)
            return
        keys, states = self.ended[status]
        if not keys or st.key > keys[-1]:
            keys.append(st.key)
            states.append(st)
        else:
            i = bisect_right(keys, st.key)
            keys.insert(i, st.key)
            states.insert(i, st)
        self.ended_kept += 1
        if self.ended_kept > self.max_ended + max(64, self.max_ended // 4):
            self._trim()

    def _trim(self) -> None:
        """Drop the oldest ended orders (by creation) down to ``max_ended``."""
        excess = self.ended_kept - self.max_ended
        threshold = sorted(chain.from_iterable(keys for keys, _ in self.ended.values()))[excess - 1]
        for keys, states in self.ended.values():
            n = bisect_right(keys, threshold)
            for st in states[:n]:
                self._forget(st)
            del keys[:n], states[:n]
            self.ended_kept -= n
        if self.dropped_upto is None or threshold > self.dropped_upto:
            self.dropped_upto = threshold

    def _forget(self, st: OrderState) -> None:
        if st.client_id is not None and self.by_client.get(st.client_id) is st:
            del self.by_client[st.client_id]
        if st.intent_id is not None and self.by_intent.get(st.intent_id) is st:
            del self.by_intent[st.intent_id]
        self.by_line.pop(st.key, None)


_LIFECYCLE = frozenset({"ack", "partial_fill", *STATUS_AFTER, "error"})
