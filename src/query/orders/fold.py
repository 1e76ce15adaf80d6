"""Folding a session's events into orders, in file order, one event at a time.

Each event finds its order by the ids that pair it (``docs/events.md``): an ``order`` its
intent by ``intent_id``; an ``ack``, ``partial_fill``, ``fill``, ``cancel``, ``expire``,
``reject`` or ``error`` its order by ``client_id`` (or ``order_id``), else by
``intent_id`` (a fill logged without its order still pairs with its intent), as the
latency analytics pair (:class:`~src.query.analytics.pairing.Pairer`). Logs without ids
fall back to arrival order the same way: an order takes the oldest intent of the same
symbol and side still waiting for one; a fill without any id the oldest open order of the
symbol. A ``gate`` that does not pass blocks its intent. The rules of an order's life are
:mod:`src.query.lifecycle`'s, as the summary's: an event ends its order with the status
:func:`~src.query.lifecycle.status_after` gives (the schema's ``STATUS_AFTER`` kinds and
an ``error`` at the ``execute`` stage); a working order's stage is
:data:`~src.query.lifecycle.STAGE_AFTER` of its latest event. An event for an order that
was never seen (its order not logged) starts a row of its own when it carries an id.

Memory: every open order is kept; of the ended ones the newest ``max_ended`` by creation
(:mod:`src.query.orders.kept`). ``counts`` always cover the whole session. A late event
for a dropped order (a duplicate fill, say) starts a row of its own. What the fold reads of
a line, and how it reads each scalar, is :mod:`src.query.orders.decode`.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable, Iterator
from typing import Final

from src.execution.schema import ORDER_STATUSES
from src.query.lifecycle import LIFECYCLE_KINDS, STAGE_AFTER, status_after
from src.query.orders.decode import name_of, number, side_of, symbol_of, text_of
from src.query.orders.fills import add_fill, add_late_fill, add_piece, mark
from src.query.orders.kept import DEFAULT_MAX_ENDED, EndedOrders
from src.query.orders.model import OPEN
from src.query.orders.state import OrderState
from src.query.records import EMPTY_PAYLOAD, ScanPayload, ScanRecord

__all__ = ["OrderFold"]


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
        self.kept = EndedOrders(max_ended, self._forget)
        self.counts: dict[str, int] = dict.fromkeys(ORDER_STATUSES, 0)
        self.events = 0
        self._names: dict[str | None, str | None] = {}  # None: None, for setdefault
        # The handler of each kind that changes orders (one dict lookup per event).
        self._handlers: dict[str, Callable[[int, ScanRecord, ScanPayload, str], None]] = {
            "gate": self._gate,
            "intent": self._intent,
            "order": self._order,
            **dict.fromkeys(_LIFECYCLE, self._lifecycle),
        }

    # -- reading ------------------------------------------------------------------------
    @property
    def ended(self) -> dict[str, tuple[list[int], list[OrderState]]]:
        """Ended orders kept, per status: keys (sorted) and states, side by side."""
        return self.kept.by_status

    @property
    def ended_kept(self) -> int:
        return self.kept.kept

    @property
    def dropped_upto(self) -> int | None:
        """Every ended order with a key up to this one is no longer kept (None: none)."""
        return self.kept.dropped_upto

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
        yield from self.kept.newest_first(status, below)

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
        """Fold one event. ``rec``: a :class:`~src.query.records.ScanRecord`, or a lean
        record of :mod:`src.query.scan_events` (its payload has only its kind's keys)."""
        self.events += 1
        kind = rec.kind
        handle = self._handlers.get(kind)
        if handle is not None:
            handle(key, rec, rec.payload or EMPTY_PAYLOAD, kind)

    def _new(self, key: int, rec: ScanRecord) -> OrderState:
        symbol = self._shared(symbol_of(rec.symbol)) or ""
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

    def _shared(self, value: str | None) -> str | None:
        """One copy of a name many orders share (side, order type, gate, symbol)."""
        return self._names.setdefault(value, value)

    @staticmethod
    def _touch(st: OrderState, key: int, rec: ScanRecord) -> None:
        if key != st.key:
            st.positions.append(key)
        if rec.ts > st.updated:
            st.updated = rec.ts

    def _intent(self, key: int, rec: ScanRecord, p: ScanPayload, kind: str) -> None:
        # A sixth of all events: names shared through one dict's setdefault, inlined
        # (setdefault(None, None) is None, so absent names need no test).
        iid = name_of(p.intent_id)
        names = self._names.setdefault
        side = side_of(p.side)
        symbol = symbol_of(rec.symbol)
        order_type = text_of(p.order_type)
        tif = text_of(p.time_in_force)
        ts = rec.ts
        st = OrderState(
            key,
            names(symbol, symbol) or "",
            ts,
            ts,
            [key],
            intent_id=iid,
            side=names(side, side),
            quantity=number(p.quantity),
            order_type=names(order_type, order_type),
            limit_price=number(p.limit_price),
            time_in_force=names(tif, tif),
            reference=number(p.current_price) or None,
            intent_at=(ts, rec.mono_ns, rec.event_id),
        )
        side = st.side
        self._opened(st)
        if iid is not None:
            self.by_intent[iid] = st
        else:
            fifo = self._intent_fifo.setdefault((st.symbol, side), deque())
            fifo.append(st)
            self.by_line[key] = st

    def _gate(self, key: int, rec: ScanRecord, p: ScanPayload, kind: str) -> None:
        iid = p.intent_id
        if iid is None:
            return
        st = self.by_intent.get(iid if isinstance(iid, str) else str(iid))
        if st is None:
            return
        st.positions.append(key)
        if rec.ts > st.updated:
            st.updated = rec.ts
        name = p.gate_name
        if name.__class__ is not str:
            name = "?" if name is None else str(name)
        name = self._names.setdefault(name, name) or "?"
        passed = p.passed is True
        st.gates.append((name, passed))
        if not passed and st.status == OPEN and st.order_at is None:
            reason = text_of(p.reason)
            self._end(st, "blocked", rec, f"{name}: {reason}" if reason else f"{name}: blocked")

    def _order(self, key: int, rec: ScanRecord, p: ScanPayload, kind: str) -> None:
        cid = name_of(p.client_id if p.client_id is not None else p.order_id)
        iid = name_of(p.intent_id)
        side = side_of(p.side)
        st: OrderState | None = None
        if iid is not None:
            found = self.by_intent.get(iid)
            if found is not None and found.status == OPEN and found.order_at is None:
                st = found
        else:
            fifo = self._intent_fifo.get((symbol_of(rec.symbol), side))
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
        names = self._names.setdefault
        st.side = names(side, side) or st.side
        quantity = number(p.quantity)
        if quantity is not None:
            st.quantity = quantity
        text = text_of(p.order_type)
        st.order_type = names(text, text) or st.order_type
        limit = number(p.limit_price)
        if limit is not None:
            st.limit_price = limit
        text = text_of(p.time_in_force)
        st.time_in_force = names(text, text) or st.time_in_force
        st.order_at = (rec.ts, rec.mono_ns, rec.event_id)
        st.stage = _SENT
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
            fifo = self._order_fifo.get(symbol_of(rec.symbol))
            while fifo and fifo[0].status != OPEN:
                fifo.popleft()
            return fifo[0] if fifo else None
        return None

    def _lifecycle(self, key: int, rec: ScanRecord, p: ScanPayload, kind: str) -> None:
        # A lean record's payload has only its kind's keys (an error's no order_id or
        # side, a reject's no filled_quantity): those are read with getattr.
        cid = p.client_id
        if cid is None:
            cid = getattr(p, "order_id", None)
        cid = name_of(cid)
        iid = name_of(p.intent_id)
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
            st.side = self._shared(side_of(getattr(p, "side", None)))
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
            st.side = self._shared(side_of(getattr(p, "side", None)))
        if kind == "ack":
            if st.status == OPEN:
                if st.ack_at is None:
                    st.ack_at = mark(rec)
                if st.stage != _PARTIALLY_FILLED:
                    st.stage = _ACKNOWLEDGED
        elif kind == "partial_fill":
            if st.status == OPEN:
                add_piece(st, rec, p)
                cumulative = number(p.cumulative_quantity)
                if cumulative is not None:
                    st.filled = cumulative
                st.stage = _PARTIALLY_FILLED
        elif kind == "fill":
            if st.status == OPEN:
                add_fill(st, rec, p)
                self._end(st, "filled", rec, None)
            else:
                add_late_fill(st, rec, p)
        else:
            status = status_after(kind, "execute")  # (a non-execute error returned above)
            if status is None:
                return
            if kind == "error":
                self._end(st, status, rec, text_of(p.error))
                return
            done = number(getattr(p, "filled_quantity", None))
            if st.status == OPEN and done is not None and done > st.filled:
                st.filled = done
            self._end(st, status, rec, text_of(p.reason))

    def _end(self, st: OrderState, status: str, rec: ScanRecord, reason: str | None) -> None:
        if st.status != OPEN:
            return
        self._open.pop(st.key, None)
        st.status = status
        st.stage = None
        st.reason = reason
        st.end_at = (rec.ts, rec.mono_ns, rec.event_id)
        counts = self.counts
        counts[OPEN] -= 1
        counts[status] += 1
        st.positions = array("q", st.positions)  # compact: ints of 8 bytes, not objects
        if self.on_end is not None:
            self.on_end(st)
        self.kept.add(st)

    def _forget(self, st: OrderState) -> None:
        if st.client_id is not None and self.by_client.get(st.client_id) is st:
            del self.by_client[st.client_id]
        if st.intent_id is not None and self.by_intent.get(st.intent_id) is st:
            del self.by_intent[st.intent_id]
        self.by_line.pop(st.key, None)


# The kinds that change an order after its ``order`` (and ``fill``, ``error``), and the
# stages they leave a working order in: the rules of :mod:`src.query.lifecycle`.
_LIFECYCLE = frozenset({*LIFECYCLE_KINDS, "fill", "error"})
_SENT: Final = STAGE_AFTER["order"]
_ACKNOWLEDGED: Final = STAGE_AFTER["ack"]
_PARTIALLY_FILLED: Final = STAGE_AFTER["partial_fill"]
