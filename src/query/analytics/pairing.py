"""Pairing intents, orders and fills: latencies, slippage, fill bookkeeping.

Pairing uses the correlation ids: an order's ``intent_id`` names its intent, a fill's
``client_id`` (or ``order_id``) names its order. Logs without ids fall back to arrival
order: an order takes the oldest unpaired intent of the same session, symbol and side; a
fill without an order id takes the oldest open order of the same session and symbol.

A latency is the difference of the two events' ``mono_ns`` readings when both have one
(immune to wall-clock steps), otherwise of their ``ts``; a negative difference is not a
latency and is counted in ``negative_intervals`` instead.

Slippage is the fill price against the intent's quoted price (the fill's
``reference_price`` when the intent has none), in basis points, signed so that positive
is worse for the trader: a buy filled above, or a sell below, the quote.

Open orders are listed oldest first (ties in file order). :class:`Pairer` is fed every
record of a read in file order; :mod:`src.query.analytics.pairing_ranges` pairs a later
part of a file on its own and merges it in, for parallel scans.
"""

from __future__ import annotations

import itertools
from array import array
from collections import deque
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, TypeAlias

import msgspec

from src.query.analytics.stats import distribution
from src.query.records import EMPTY_PAYLOAD, ScanRecord

__all__ = ["COMPLETED", "TAINTED", "Intent", "Order", "Pairer"]

_OPEN_ORDER_LIST_MAX = 50
_MS = timedelta(milliseconds=1)
_pack = msgspec.msgpack.Encoder().encode
_NAN = float("nan")

# An intent waiting for its order: (ts, mono_ns, quoted price, side). A tuple is by far
# the cheapest object to build, and intents are a sixth of all events.
Intent = tuple[datetime, Any, "float | None", "str | None"]
Samples: TypeAlias = "list[float] | array[float]"


class Order(msgspec.Struct, gc=False):
    """An order waiting for (more) fills. ``seq`` orders events in file order."""

    ts: datetime
    mono: Any
    intent: Intent | None
    quantity: float | None
    side: str | None
    symbol: Any
    client_id: Any
    seq: int
    filled: float = 0.0


def _num(value: Any) -> float | None:
    if value.__class__ is float or value.__class__ is int:
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _side(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) else None


class _Mark(Enum):
    COMPLETED = "completed"
    TAINTED = "tainted"


# Values in the order map besides open orders (enum members pickle as themselves):
# an order id whose order was completely filled (a later fill for it is a duplicate),
# and in a RangePairer a key whose operations are replayed on the earlier part.
COMPLETED = _Mark.COMPLETED
TAINTED = _Mark.TAINTED
_MISSING: Any = object()


class Pairer:
    """Feed intent/gate/order/fill records in file order; read :meth:`result` at the end.

    ``sid`` arguments pass the record's session id as an object the caller already
    holds (equal, and with its hash computed): keys then share one string.

    The ``ranged`` branches serve :class:`~src.query.analytics.pairing_ranges.RangePairer`
    (a later part of a read, paired on its own): they only run for it, and are inlined
    here because these methods run for half of all events.
    """

    def __init__(self, seq_base: int = 0) -> None:
        self.ranged = False
        self.last_merged = False  # only result() may follow (see RangePairer.merge_into)
        self.open_keys: list[tuple[Any, Any]] | None = None  # set by finish_part()
        self._packed: bytes | None = None  # see __getstate__
        self._unpacked: Any = None
        self.next_seq = seq_base  # numbers orders in file order (for ties among open ones)
        # Intent ids -> pending intent (ranged: None once removed here, or TAINTED).
        self._intents: dict[tuple[Any, Any], Any] = {}
        self._intent_fifo: dict[tuple[Any, Any, Any], Any] = {}
        self._orders: dict[tuple[Any, Any], Any] = {}  # -> Order, COMPLETED or TAINTED
        self._order_fifo: dict[tuple[Any, Any], Any] = {}
        self._fill_ids: set[Any] = set()
        # Samples: lists while scanning (list.append is several times cheaper than
        # array.append), packed into arrays by finish_part() before a part is sent.
        self.intent_to_order: Samples = []
        self.order_to_fill: Samples = []
        self.intent_to_fill: Samples = []
        self.slippage: dict[Any, Samples] = {}  # by raw symbol; grouped by str() later
        self.negative_intervals = 0
        self.orders = 0
        self.fills = 0
        self.filled_orders = 0
        self.fills_without_orders = 0
        self.duplicate_fills = 0

    # -- sending a part to another process ---------------------------------------------
    #
    # Fill ids and completed order ids are most of what a worker sends, and pickle spends
    # its time memoising their strings: msgpack packs them several times faster (exactly:
    # JSON values round-trip; anything else is pickled as usual). The receiver unpacks
    # them only as far as it needs: a last merge only asks about the ids it replays.

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_unpacked"] = None
        if self._packed is not None:
            return state
        completed: dict[Any, list[Any]] = {}
        others = {}
        for key, value in self._orders.items():
            if value is COMPLETED:
                completed.setdefault(key[0], []).append(key[1])
            else:
                others[key] = value
        try:
            packed = _pack((list(self._fill_ids), list(completed.items())))
        except (TypeError, ValueError, OverflowError):
            return state
        state.update(_orders=others, _fill_ids=set(), _packed=packed)
        return state

    def packed_fill_ids(self) -> Any:
        """Every fill id seen, for membership scans (a list while still packed)."""
        return self._fill_ids if self._packed is None else self._unpack_lists()[0]

    def _unpack_lists(self) -> tuple[list[Any], list[tuple[Any, list[Any]]]]:
        if self._unpacked is None:
            self._unpacked = msgspec.msgpack.decode(self._packed)
        return self._unpacked

    def unpack(self, fill_ids: set[Any] | None = None, order_keys: Any = None) -> None:
        """Restore packed state: all of it, or (a last merge) only the given fill ids and
        order ids (those its replay asks about)."""
        if self._packed is None:
            return
        packed_ids, completed = self._unpack_lists()
        wanted: dict[Any, set[Any]] | None = None
        if fill_ids is None:
            self._fill_ids = set(packed_ids)
        else:
            self._fill_ids = fill_ids.intersection(packed_ids)
            wanted = {}
            for sid, client_id in order_keys:
                wanted.setdefault(sid, set()).add(client_id)
        for sid, client_ids in completed:
            if wanted is not None:
                client_ids = wanted.get(sid, set()).intersection(client_ids)
            keys = zip(itertools.repeat(sid), client_ids)
            self._orders.update(zip(keys, itertools.repeat(COMPLETED)))
        self._packed = self._unpacked = None
        if wanted is not None:
            self.last_merged = True  # partly unpacked: good for nothing but the result

    def _defer(self, op: tuple[Any, ...], **keys: Any) -> None:
        raise NotImplementedError  # only a RangePairer defers

    def start_changes(self) -> None:
        """Called before anything is added: refuses after a last merge; forgets open_keys."""
        if self.last_merged:
            raise RuntimeError("this pairer was merged as the last part: only result() is left")
        self.unpack()
        self.open_keys = None

    def intent(self, rec: ScanRecord, sid: Any = _MISSING) -> None:
        if sid is _MISSING:
            sid = rec.session_id
        p = rec.payload or EMPTY_PAYLOAD
        price = p.current_price
        if price.__class__ is not float:
            price = _num(price)
        side = p.side
        side = side.lower() if side.__class__ is str else None
        info = (rec.ts, rec.mono_ns, price, side)
        if p.intent_id is not None:
            key = (sid, p.intent_id)
            if self.ranged:
                old = self._intents.setdefault(key, info)
                if old is not info:
                    if old is TAINTED:
                        self._defer(("intent", rec))
                        return
                    self._intents[key] = info
                return
            self._intents[key] = info
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
        key = (rec.session_id, iid)
        if not self.ranged:
            self._intents.pop(key, None)
        elif self._intents.get(key, _MISSING) in (_MISSING, TAINTED):
            self._defer(("blocked", rec), intent=key)  # the intent may be in an earlier part
        else:
            self._intents[key] = None

    def order(self, rec: ScanRecord, sid: Any = _MISSING, seq: int | None = None) -> None:
        if sid is _MISSING:
            sid = rec.session_id
        if seq is None:
            seq = self.next_seq
            self.next_seq = seq + 1
        p = rec.payload or EMPTY_PAYLOAD
        side = p.side
        side = side.lower() if side.__class__ is str else None
        client_id = p.client_id if p.client_id is not None else p.order_id
        intent: Intent | None = None
        if self.ranged:
            if not self._settled_here(sid, rec.symbol, p.intent_id, client_id):
                self._defer(("order", rec, seq), **self._order_keys(rec, client_id, side))
                return
            key = (sid, p.intent_id)
            intent = self._intents[key]
            self._intents[key] = None
        elif p.intent_id is not None:
            intent = self._intents.pop((sid, p.intent_id), None)
        else:
            queue = self._intent_fifo.get((sid, rec.symbol, side))
            if queue:
                intent = queue.popleft()
        self.orders += 1
        ts, mono = rec.ts, rec.mono_ns
        if intent is not None:
            m1 = intent[1]
            if m1.__class__ is int and mono.__class__ is int and mono >= m1:
                self.intent_to_order.append((mono - m1) / 1e6)
            else:
                self._sample(self.intent_to_order, intent[0], m1, ts, mono)
        if not side:
            side = intent[3] if intent is not None else None
        quantity = p.quantity
        if quantity.__class__ is not float:
            quantity = _num(quantity)
        order = Order(ts, mono, intent, quantity, side, rec.symbol, client_id, seq)
        if client_id is not None:
            self._orders[(sid, client_id)] = order
        else:
            key = (sid, rec.symbol)
            queue = self._order_fifo.get(key)
            if queue is None:
                queue = self._order_fifo[key] = deque()
            queue.append(order)

    def _settled_here(self, sid: Any, symbol: Any, intent_id: Any, client_id: Any) -> bool:
        """Ranged: can this order be paired from this part's state alone?"""
        if intent_id is None:
            return False  # an intent queue may hold older intents from an earlier part
        if self._intents.get((sid, intent_id), _MISSING) in (_MISSING, TAINTED):
            return False
        if client_id is not None:
            return self._orders.get((sid, client_id)) is not TAINTED
        return self._order_fifo.get((sid, symbol)) is not TAINTED

    def _order_keys(self, rec: ScanRecord, client_id: Any, side: Any) -> dict[str, Any]:
        p = rec.payload or EMPTY_PAYLOAD
        sid = rec.session_id
        keys: dict[str, Any] = {}
        if p.intent_id is not None:
            keys["intent"] = (sid, p.intent_id)
        else:
            keys["intent_queue"] = (sid, rec.symbol, side)
        if client_id is not None:
            keys["order"] = (sid, client_id)
        else:
            keys["order_queue"] = (sid, rec.symbol)
        return keys

    def fill(self, rec: ScanRecord, sid: Any = _MISSING) -> None:
        if sid is _MISSING:
            sid = rec.session_id
        p = rec.payload or EMPTY_PAYLOAD
        event_id = rec.event_id
        if event_id is not None and event_id in self._fill_ids:
            self.duplicate_fills += 1
            return
        client_id = p.client_id if p.client_id is not None else p.order_id
        if client_id is not None:
            key = (sid, client_id)
            order = self._orders.get(key)
            if order is None:
                if self.ranged:
                    self._defer(("fill", rec), order=key, event_id=event_id)
                    return
            elif order.__class__ is not Order:
                if order is TAINTED:
                    self._defer(("fill", rec), order=key, event_id=event_id)
                    return
                if event_id is not None:  # COMPLETED: a fill for a filled order
                    self._fill_ids.add(event_id)
                self.fills += 1
                self.duplicate_fills += 1
                return
        elif self.ranged:
            self._defer(("fill", rec), order_queue=(sid, rec.symbol), event_id=event_id)
            return
        else:
            queue = self._order_fifo.get((sid, rec.symbol))
            order = queue[0] if queue else None
        if event_id is not None:
            self._fill_ids.add(event_id)
        self.fills += 1
        price = p.fill_price
        if price.__class__ is not float:
            price = _num(price)
        if order is None:
            self.fills_without_orders += 1
            self._slippage(rec.symbol, _side(p.side), _num(p.reference_price), price)
            return
        ts, mono = rec.ts, rec.mono_ns
        intent = order.intent
        if order.filled == 0.0:
            self.filled_orders += 1
            m1 = order.mono
            if m1.__class__ is int and mono.__class__ is int and mono >= m1:
                self.order_to_fill.append((mono - m1) / 1e6)
            else:
                self._sample(self.order_to_fill, order.ts, m1, ts, mono)
            if intent is not None:
                m1 = intent[1]
                if m1.__class__ is int and mono.__class__ is int and mono >= m1:
                    self.intent_to_fill.append((mono - m1) / 1e6)
                else:
                    self._sample(self.intent_to_fill, intent[0], m1, ts, mono)
        reference = intent[2] if intent is not None and intent[2] else None
        if reference is None:
            reference = _num(p.reference_price)
        side = order.side or _side(p.side)
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
            quantity = _num(quantity)
        order.filled += quantity or 0.0
        if order.quantity is None or order.filled >= order.quantity * (1 - 1e-9):
            if client_id is not None:
                self._orders[key] = COMPLETED
            else:
                queue.popleft()

    def _sample(self, into: Samples, t1: datetime, m1: Any, t2: datetime, m2: Any) -> None:
        if m1.__class__ is int and m2.__class__ is int and m2 >= m1:
            into.append((m2 - m1) / 1e6)
            return
        delta = (t2 - t1) / _MS  # exact to the microsecond, unlike float epoch seconds
        if delta >= 0:
            into.append(delta)
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
        """Prepare a part summarised on its own for merging, in its worker: sort the
        samples, packed as arrays (merging sorted runs later is linear, where sorting
        everything in one process is not), and note which orders are open."""
        self.open_keys = [k for k, v in self._orders.items() if v.__class__ is Order]
        self.intent_to_order = array("d", sorted(self.intent_to_order))
        self.order_to_fill = array("d", sorted(self.order_to_fill))
        self.intent_to_fill = array("d", sorted(self.intent_to_fill))
        for symbol, values in self.slippage.items():
            self.slippage[symbol] = array("d", sorted(values))

    def open_orders(self) -> list[Order]:
        orders = [o for o in self._orders.values() if o.__class__ is Order]
        for queue in self._order_fifo.values():
            orders.extend(queue)
        orders.sort(key=lambda o: (o.ts, o.seq))
        return orders

    def result(self, as_of: float) -> dict[str, Any]:
        open_orders = self.open_orders()
        by_symbol: dict[str, array[float]] = {}
        for symbol, values in self.slippage.items():
            by_symbol.setdefault(str(symbol), array("d")).extend(values)
        all_slippage = array("d")
        for values in by_symbol.values():
            all_slippage.extend(values)
        return {
            "latency": {
                "intent_to_order": distribution(self.intent_to_order, "ms"),
                "order_to_fill": distribution(self.order_to_fill, "ms"),
                "intent_to_fill": distribution(self.intent_to_fill, "ms"),
                "negative_intervals": self.negative_intervals,
            },
            "slippage": {
                "overall": distribution(all_slippage, "bps"),
                "by_symbol": {
                    sym: distribution(vals, "bps") for sym, vals in sorted(by_symbol.items())
                },
            },
            "fills": {
                "orders": self.orders,
                "fills": self.fills,
                "filled_orders": self.filled_orders,
                "fill_rate": self.filled_orders / self.orders if self.orders else None,
                "orders_without_fills": len(open_orders),
                "open_orders": [
                    {
                        "client_id": o.client_id,
                        "symbol": o.symbol,
                        "ts": o.ts.isoformat(),
                        "age_s": max(0.0, as_of - o.ts.timestamp()),
                        "filled_quantity": o.filled,
                        "quantity": o.quantity,
                    }
                    for o in open_orders[:_OPEN_ORDER_LIST_MAX]
                ],
                "fills_without_orders": self.fills_without_orders,
                "duplicate_fills": self.duplicate_fills,
            },
        }
