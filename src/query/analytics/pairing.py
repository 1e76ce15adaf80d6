"""Pairing intents, orders and fills: latencies, slippage, fill bookkeeping.

Pairing uses the correlation ids: an order's ``intent_id`` names its intent, a fill's
``client_id`` (or ``order_id``) names its order. Logs without ids fall back to arrival
order: an order takes the oldest unpaired intent of the same session, symbol and side; a
fill without an order id takes the oldest open order of the same session and symbol.
A fill that finds no order (orders not logged, as with a sink filter keeping only intents,
fills and errors) still counts as a fill without an order, and pairs with its intent by
its own ``intent_id``: the first such fill gives the intent->fill latency, and the intent's
quote is its slippage reference.

A latency is measured by the rule of :mod:`src.query.intervals` (the order blotter's
as well): the difference of the two events' ``mono_ns`` readings when both have one and
come from the same producer (immune to wall-clock steps), otherwise of their ``ts``; a
negative difference is not a latency and is counted in ``negative_intervals`` instead.
Intents and orders keep their event id's producer (its :func:`~src.query.intervals.
producer_of`), cut once per event. The common case of the rule, two ``mono_ns`` readings
of one producer, is inlined where intents, orders and fills are paired (the calls cost a
sixth of the pairing); :func:`~src.query.intervals.interval_ms_of` decides every other
case, and tests/query/test_intervals.py runs each case of the rule through the summary.

Slippage is the fill price against the intent's quoted price (the fill's
``reference_price`` when the intent has none), in basis points, signed so that positive
is worse for the trader: a buy filled above, or a sell below, the quote.

Open orders are listed oldest first (ties in file order). :class:`Pairer` is fed every
record of a read in file order; :mod:`src.query.analytics.pairing_ranges` pairs a later
part of a file on its own and merges it in, for parallel scans.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Hashable, Iterable
from typing import Any, cast

from src.query.analytics import pairing_ids, pairing_state
from src.query.analytics.pairing_model import (
    COMPLETED,
    MISSING,
    TAINTED,
    Intent,
    Order,
    Samples,
    as_number,
    as_side,
)
from src.query.intervals import interval_ms_of, producer_of
from src.query.lifecycle import status_after
from src.query.records import EMPTY_PAYLOAD, ScanRecord

__all__ = ["Pairer"]

_NAN = float("nan")
_SCALARS = (str, int, float, bool)


class Pairer:
    """Feed intent/gate/order/fill records in file order; at the end, its report is
    :func:`~src.query.analytics.pairing_report.report`'s.

    Pending intents and orders are kept per session, in maps keyed by id: no key tuple
    to build, hash and free per event. ``sid`` arguments pass the record's session id as
    an object the caller holds across records (equal to the record's, hash computed), so
    the session's maps are found by identity.

    The ``ranged`` branches serve :class:`~src.query.analytics.pairing_ranges.RangePairer`
    (a later part of a read, paired on its own): they only run for it, and are inlined
    here because these methods run for half of all events.
    """

    def __init__(self, seq_base: int = 0) -> None:
        self.ranged = False
        self.last_merged = False  # only its report may follow (see RangePairer.merge_into)
        self.open_keys: list[tuple[Any, Any]] | None = None  # set by finish_part()
        self._packed: bytes | None = None  # see pairing_state
        self._unpacked: Any = None
        self.next_seq = seq_base  # numbers orders in file order (for ties among open ones)
        # session -> intent id -> pending intent (ranged: None once removed, or TAINTED)
        self._intents: dict[Any, dict[Any, Any]] = {}
        # session -> order id -> Order, COMPLETED (or TAINTED)
        self._orders: dict[Any, dict[Any, Any]] = {}
        self._intent_fifo: dict[tuple[Any, Any, Any], Any] = {}
        self._order_fifo: dict[tuple[Any, Any], Any] = {}
        self._fill_ids: set[Any] = set()  # an IndexedSet beside _fill_index, when there is one
        # A resumed state's fill ids and completed order ids (by session), looked up where
        # they are (see pairing_ids): the sets and maps hold only what came since.
        self._fill_index: pairing_ids.IdIndex | None = None
        self._done_index: dict[Any, pairing_ids.IdIndex] = {}
        self._sid: Any = MISSING  # the session of the maps below
        self._sid_intents: dict[Any, Any] = {}
        self._sid_orders: dict[Any, Any] = {}
        # Samples: lists while scanning (list.append is several times cheaper than
        # array.append), packed into arrays by finish_part() before a part is sent.
        self.intent_to_order: Samples = []
        self.order_to_fill: Samples = []
        self.intent_to_fill: Samples = []
        self.order_to_ack: Samples = []
        self.order_to_cancel: Samples = []
        self.slippage: dict[Any, Samples] = {}  # by raw symbol; grouped by str() later
        self.negative_intervals = 0
        self.orders = 0
        self.fills = 0
        self.filled_orders = 0
        self.fills_without_orders = 0
        self.duplicate_fills = 0
        # The order lifecycle (src.query.lifecycle): orders by how they ended, and events
        # along the way. Only logged orders are counted by outcome; an ending event whose
        # order is not in the read is ``unmatched``.
        self.outcomes: dict[str, int] = {}  # filled, cancelled, expired, rejected, error
        self.ended_partly_filled = 0  # cancelled or expired after partial fills
        self.acknowledged = 0
        self.partial_fills = 0
        self.partially_filled_orders = 0
        self.unmatched = 0

    def __getstate__(self) -> dict[str, object]:
        return pairing_state.pack(self)

    def __setstate__(self, state: dict[str, object]) -> None:
        pairing_state.restore(self, state)

    def unpack(
        self,
        fill_ids: set[Hashable] | None = None,
        order_keys: Iterable[tuple[Hashable, Hashable]] = (),
    ) -> None:
        """Restore state packed for sending (:mod:`~src.query.analytics.pairing_state`),
        and indexed ids into the set and maps (:mod:`~src.query.analytics.pairing_ids`)."""
        if self._packed is not None:
            pairing_state.unpack(self, fill_ids, order_keys)
        if self._fill_index is not None or self._done_index:
            pairing_ids.materialize(self)

    def index_ids(self) -> None:
        """Keep fill ids and completed order ids as indexes (before the state is saved)."""
        pairing_ids.index_ids(self)

    def packed_fill_ids(self) -> Collection[Hashable]:
        """Every fill id seen, for membership scans (a list while still packed)."""
        if self._fill_index is not None:
            return [*self._fill_index.ids(), *self._fill_ids]
        if self._packed is None:
            return self._fill_ids
        return pairing_state.packed_fill_ids(self)

    def session_maps(self, sid: Hashable) -> tuple[dict[Hashable, object], dict[Hashable, object]]:
        """The intent and order maps of session ``sid`` (created empty), now current."""
        intents = self._intents.get(sid)
        if intents is None:
            intents = self._intents[sid] = {}
        orders = self._orders.get(sid)
        if orders is None:
            orders = self._orders[sid] = {}
        self._sid, self._sid_intents, self._sid_orders = sid, intents, orders
        return intents, orders

    def forget_session(self) -> None:
        """Drop the current-session shortcut (after the maps were changed from outside)."""
        self._sid = MISSING

    def _defer(
        self,
        op: tuple[Any, ...],
        *,
        intent: tuple[Any, Any] | None = None,
        intent_queue: tuple[Any, Any, Any] | None = None,
        order: tuple[Any, Any] | None = None,
        order_queue: tuple[Any, Any] | None = None,
        event_id: Any = None,
    ) -> None:
        raise NotImplementedError  # only a RangePairer defers

    # Only a RangePairer (self.ranged) calls these: see pairing_ranges.
    def _settled_here(self, intents: Any, orders: Any, rec: Any, iid: Any, cid: Any) -> bool:
        raise NotImplementedError

    def _order_keys(self, rec: ScanRecord, client_id: Any, side: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _defer_fill(self, rec: ScanRecord, sid: Any, iid: Any, **keys: Any) -> None:
        raise NotImplementedError

    def start_changes(self) -> None:
        """Called before anything is added: refuses after a last merge; forgets open_keys."""
        if self.last_merged:
            raise RuntimeError("this pairer was merged as the last part: only its report is left")
        if self._packed is not None:
            pairing_state.unpack(self, None, ())  # indexed ids stay indexed
        self.open_keys = None
        self.forget_session()

    def intent(self, rec: ScanRecord, sid: Hashable = MISSING) -> None:
        if sid is MISSING:
            sid = rec.session_id
        p = rec.payload or EMPTY_PAYLOAD
        price = p.current_price
        if price.__class__ is not float:
            price = as_number(price)
        side = p.side
        side = side.lower() if side.__class__ is str else None
        eid = rec.event_id  # its producer: producer_of, inlined (see the module's docstring)
        producer = (eid.rpartition("-")[0] or None) if eid.__class__ is str else None
        info = (rec.ts, rec.mono_ns, price, side, producer)
        iid = p.intent_id
        if iid is not None:
            intents = self._sid_intents if sid is self._sid else self.session_maps(sid)[0]
            if self.ranged:
                old = intents.setdefault(iid, info)
                if old is not info:
                    if old is TAINTED:
                        self._defer(("intent", rec))
                        return
                    intents[iid] = info
                return
            intents[iid] = info
        else:
            key = (sid, rec.symbol, side)
            queue = self._intent_fifo.get(key)
            if queue is None:
                queue = self._intent_fifo[key] = deque()
            elif queue is TAINTED:
                self._defer(("intent", rec))
                return
            queue.append(info)

    def blocked(self, rec: ScanRecord) -> None:
        """A blocking gate decision: its intent will never get an order."""
        iid = (rec.payload or EMPTY_PAYLOAD).intent_id
        if iid is None:
            return
        sid = rec.session_id
        intents = self._sid_intents if sid is self._sid else self.session_maps(sid)[0]
        if not self.ranged:
            intents.pop(iid, None)
        elif intents.get(iid, MISSING) in (MISSING, TAINTED):
            self._defer(("blocked", rec), intent=(sid, iid))  # may be in an earlier part
        else:
            intents[iid] = None

    def order(self, rec: ScanRecord, sid: Hashable = MISSING, seq: int | None = None) -> None:
        if sid is MISSING:
            sid = rec.session_id
        if seq is None:
            seq = self.next_seq
            self.next_seq = seq + 1
        p = rec.payload or EMPTY_PAYLOAD
        side = p.side
        side = side.lower() if side.__class__ is str else None
        client_id = p.client_id if p.client_id is not None else p.order_id
        iid = p.intent_id
        if sid is self._sid:
            intents, orders = self._sid_intents, self._sid_orders
        else:
            intents, orders = self.session_maps(sid)
        intent: Intent | None = None
        if self.ranged:
            if not self._settled_here(intents, orders, rec, iid, client_id):
                self._defer(("order", rec, seq), **self._order_keys(rec, client_id, side))
                return
            intent = intents[iid]
            intents[iid] = None
        elif iid is not None:
            intent = intents.pop(iid, None)
        else:
            queue = self._intent_fifo.get((sid, rec.symbol, side))
            if queue:
                intent = queue.popleft()
        self.orders += 1
        ts, mono, eid = rec.ts, rec.mono_ns, rec.event_id
        producer = (eid.rpartition("-")[0] or None) if eid.__class__ is str else None
        if intent is not None:
            m1, p1 = intent[1], intent[4]
            if (
                m1.__class__ is int
                and mono.__class__ is int
                and mono >= m1
                and (p1 is None or producer is None or p1 == producer)
            ):
                self.intent_to_order.append((mono - m1) / 1e6)
            else:
                ms = interval_ms_of(intent[0], m1, p1, ts, mono, producer)
                if ms is not None:
                    self.intent_to_order.append(ms)
                else:
                    self.negative_intervals += 1
        if not side:
            side = intent[3] if intent is not None else None
        quantity = p.quantity
        if quantity.__class__ is not float:
            quantity = as_number(quantity)
        order = Order(
            ts, mono, intent, quantity, side, rec.symbol, client_id, seq, 0.0, p, producer
        )
        if client_id is not None:
            orders[client_id] = order
        else:
            key = (sid, rec.symbol)
            queue = self._order_fifo.get(key)
            if queue is None:
                queue = self._order_fifo[key] = deque()
            queue.append(order)

    def fill(self, rec: ScanRecord, sid: Hashable = MISSING) -> None:
        if sid is MISSING:
            sid = rec.session_id
        p = rec.payload or EMPTY_PAYLOAD
        event_id = rec.event_id
        if event_id is not None and event_id in self._fill_ids:
            self.duplicate_fills += 1
            return
        client_id = p.client_id if p.client_id is not None else p.order_id
        if client_id is not None:
            orders = self._sid_orders if sid is self._sid else self.session_maps(sid)[1]
            order = orders.get(client_id)
            if order is None:
                if self.ranged:
                    self._defer_fill(rec, sid, p.intent_id, order=(sid, client_id))
                    return
                if self._done_index and self._completed_before(sid, client_id):
                    self._fill_of_filled(event_id)
                    return
            elif order.__class__ is not Order:
                if order is TAINTED:
                    self._defer_fill(rec, sid, p.intent_id, order=(sid, client_id))
                    return
                self._fill_of_filled(event_id)  # COMPLETED
                return
        elif self.ranged:
            self._defer_fill(rec, sid, p.intent_id, order_queue=(sid, rec.symbol))
            return
        else:
            queue = self._order_fifo.get((sid, rec.symbol))
            order = queue[0] if queue else None
        if event_id is not None:
            self._fill_ids.add(event_id)
        self.fills += 1
        price = p.fill_price
        if price.__class__ is not float:
            price = as_number(price)
        if order is None:
            self.fills_without_orders += 1
            self._unordered_fill(rec, sid, p, price)
            return
        ts, mono = rec.ts, rec.mono_ns
        intent = order.intent
        if order.filled == 0.0:
            self.filled_orders += 1
            producer = (event_id.rpartition("-")[0] or None) if event_id.__class__ is str else None
            m1, p1 = order.mono, order.producer
            if (
                mono.__class__ is int
                and m1.__class__ is int
                and mono >= m1
                and (p1 is None or producer is None or p1 == producer)
            ):
                self.order_to_fill.append((mono - m1) / 1e6)
            else:
                ms = interval_ms_of(order.ts, m1, p1, ts, mono, producer)
                if ms is not None:
                    self.order_to_fill.append(ms)
                else:
                    self.negative_intervals += 1
            if intent is not None:
                m1, p1 = intent[1], intent[4]
                if (
                    mono.__class__ is int
                    and m1.__class__ is int
                    and mono >= m1
                    and (p1 is None or producer is None or p1 == producer)
                ):
                    self.intent_to_fill.append((mono - m1) / 1e6)
                else:
                    ms = interval_ms_of(intent[0], m1, p1, ts, mono, producer)
                    if ms is not None:
                        self.intent_to_fill.append(ms)
                    else:
                        self.negative_intervals += 1
        reference = intent[2] if intent is not None and intent[2] else None
        if reference is None:
            reference = as_number(p.reference_price)
        side = order.side or as_side(p.side)
        if reference is not None and price is not None and reference > 0:
            # Inlined _slippage (the common case, a fill of a known order).
            if side == "buy":
                bps = (price - reference) / reference * 10_000
            elif side == "sell":
                bps = (reference - price) / reference * 10_000
            else:
                bps = _NAN
            if bps == bps:
                values = self.slippage.get(rec.symbol)
                if values is None:
                    values = self.slippage[rec.symbol] = []
                values.append(bps)
        quantity = p.filled_quantity
        if quantity.__class__ is not float:
            quantity = as_number(quantity)
        order.filled += quantity or 0.0
        if order.quantity is None or order.filled >= order.quantity * (1 - 1e-9):
            outcomes = self.outcomes
            outcomes["filled"] = outcomes.get("filled", 0) + 1
            if client_id is not None:
                orders[client_id] = COMPLETED
            elif queue is not None:  # always: without a client id the order came from it
                queue.popleft()

    def _completed_before(self, sid: Any, client_id: Any) -> bool:
        """The order was filled completely before the resumed state was saved."""
        index = self._done_index.get(sid)
        return index is not None and client_id in index

    def _fill_of_filled(self, event_id: Any) -> None:
        """A fill for an order filled completely: a duplicate."""
        if event_id is not None:
            self._fill_ids.add(event_id)
        self.fills += 1
        self.duplicate_fills += 1

    def lifecycle(self, rec: ScanRecord) -> None:
        """An ``ack``, ``partial_fill``, ``cancel``, ``expire`` or ``reject``, or an
        execute-stage ``error`` (the caller checks the stage): pairs with its order by
        ``client_id`` only (a venue's ``order_id`` is its own name for the order). Each
        kind's record has only its own payload keys."""
        p = rec.payload or EMPTY_PAYLOAD
        kind = rec.kind
        ends = kind != "ack" and kind != "partial_fill"
        client_id = p.client_id
        if client_id is None or client_id.__class__ not in _SCALARS:
            if ends:
                self.unmatched += 1
            return
        sid = rec.session_id
        orders = self._sid_orders if sid is self._sid else self.session_maps(sid)[1]
        order = orders.get(client_id)
        if order.__class__ is not Order:
            if self.ranged and order is not COMPLETED:  # the order may be in an earlier part
                self._defer(("lifecycle", rec), order=(sid, client_id))
            elif (
                order is None
                and ends
                and not (self._done_index and self._completed_before(sid, client_id))
            ):
                self.unmatched += 1
            return  # an event after the order ended changes nothing
        if kind == "ack":
            if order.stage == "sent":
                order.stage = "acknowledged"
                self.acknowledged += 1
                self._sample(self.order_to_ack, order, rec)
            return
        if kind == "partial_fill":
            if order.stage == "sent":
                self.acknowledged += 1  # the venue took it: a fill says so
            order.stage = "partially_filled"
            self.partial_fills += 1
            order.partials += 1
            if order.partials == 1:
                self.partially_filled_orders += 1
            quantity, price = as_number(p.filled_quantity), as_number(p.fill_price)
            if quantity is not None and quantity > 0 and price is not None and price == price:
                order.partial_qty += quantity
                order.partial_notional += quantity * price
            reference = as_number(p.reference_price)
            if reference is not None:
                order.partial_ref = reference
            return
        status = status_after(kind, "execute") or "error"
        self.outcomes[status] = self.outcomes.get(status, 0) + 1
        if kind == "cancel":
            self._sample(self.order_to_cancel, order, rec)
        if (kind == "cancel" or kind == "expire") and (
            order.partials or order.filled > 0 or (as_number(p.filled_quantity) or 0.0) > 0
        ):
            self.ended_partly_filled += 1
        if order.partial_qty > 0:
            # No fill will carry this order's average price: its partial fills' is its
            # slippage sample (one per order, as for a filled order).
            intent = order.intent
            reference = intent[2] if intent is not None and intent[2] else order.partial_ref
            side = order.side or as_side(getattr(p, "side", None))
            self._slippage(rec.symbol, side, reference, order.partial_notional / order.partial_qty)
        orders[client_id] = COMPLETED

    def _unordered_fill(self, rec: ScanRecord, sid: Any, p: Any, price: Any) -> None:
        """A fill without an order (never ranged: those are deferred): pair it with its
        intent by the fill's own intent_id, if that intent is still pending."""
        intent = None
        iid = p.intent_id
        if iid is not None:
            intents = self._sid_intents if sid is self._sid else self.session_maps(sid)[0]
            # Never ranged here (those fills are deferred): a pending intent, not a mark.
            intent = cast("Intent | None", intents.pop(iid, None))
        reference = None
        side = as_side(p.side)
        if intent is not None:
            ms = interval_ms_of(
                intent[0], intent[1], intent[4], rec.ts, rec.mono_ns, producer_of(rec.event_id)
            )
            if ms is not None:
                self.intent_to_fill.append(ms)
            else:
                self.negative_intervals += 1
            reference = intent[2] or None
            side = side or intent[3]
        if reference is None:
            reference = as_number(p.reference_price)
        self._slippage(rec.symbol, side, reference, price)

    def _sample(self, into: Samples, order: Order, rec: ScanRecord) -> None:
        """The latency from ``order`` to ``rec`` into ``into`` (or a negative interval)."""
        ms = interval_ms_of(
            order.ts, order.mono, order.producer, rec.ts, rec.mono_ns, producer_of(rec.event_id)
        )
        if ms is not None:
            into.append(ms)
        else:
            self.negative_intervals += 1

    def _slippage(self, symbol: Any, side: str | None, ref: float | None, px: float | None) -> None:
        if ref is None or px is None or ref <= 0 or (side != "buy" and side != "sell"):
            return
        bps = (px - ref) / ref * 10_000 if side == "buy" else (ref - px) / ref * 10_000
        if bps != bps:
            return  # a price of "nan" gives no sample (and NaN would make percentiles arbitrary)
        values = self.slippage.get(symbol)
        if values is None:
            values = self.slippage[symbol] = []
        values.append(bps)

    def finish_part(self) -> None:
        """Prepare a part summarised on its own for merging, in its worker (see
        :func:`~src.query.analytics.pairing_state.finish_part`)."""
        pairing_state.finish_part(self)
