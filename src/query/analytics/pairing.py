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
"""

from __future__ import annotations

from array import array
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from src.query.analytics.stats import distribution
from src.query.records import ScanRecord

__all__ = ["Pairer"]

_OPEN_ORDER_LIST_MAX = 50


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


class _Intent:
    __slots__ = ("mono", "price", "side", "ts")

    def __init__(self, ts: datetime, mono: Any, price: float | None, side: str | None) -> None:
        self.ts, self.mono, self.price, self.side = ts, mono, price, side


class _Order:
    __slots__ = ("client_id", "filled", "intent", "mono", "quantity", "side", "symbol", "t", "ts")

    def __init__(self, rec: ScanRecord, intent: _Intent | None, client_id: Any) -> None:
        p = rec.payload
        self.t, self.mono, self.ts = rec.t, rec.mono_ns, rec.ts  # ts: aware datetime
        self.intent = intent
        self.quantity = _num(p.quantity)
        self.side = _side(p.side) or (intent.side if intent else None)
        self.symbol = rec.symbol
        self.client_id = client_id
        self.filled = 0.0


_MS = timedelta(milliseconds=1)


def _interval_ms(ts1: datetime, m1: Any, ts2: datetime, m2: Any) -> float | None:
    if m1.__class__ is int and m2.__class__ is int:
        delta = (m2 - m1) / 1e6
        if delta >= 0:
            return delta
    delta = (ts2 - ts1) / _MS  # exact to the microsecond, unlike float epoch seconds
    return delta if delta >= 0 else None


class Pairer:
    """Feed intent/gate/order/fill records in file order; read :meth:`result` at the end."""

    def __init__(self) -> None:
        self._intents: dict[tuple[Any, Any], _Intent] = {}
        self._intent_fifo: dict[tuple[Any, Any, Any], deque[_Intent]] = {}
        self._orders: dict[tuple[Any, Any], _Order] = {}
        self._order_fifo: dict[tuple[Any, Any], deque[_Order]] = {}
        self._completed: set[tuple[Any, Any]] = set()
        self._fill_ids: set[Any] = set()
        self.intent_to_order = array("d")
        self.order_to_fill = array("d")
        self.intent_to_fill = array("d")
        self.slippage: dict[str, array[float]] = {}
        self.negative_intervals = 0
        self.orders = 0
        self.fills = 0
        self.filled_orders = 0
        self.fills_without_orders = 0
        self.duplicate_fills = 0

    def intent(self, rec: ScanRecord) -> None:
        p = rec.payload
        info = _Intent(rec.ts, rec.mono_ns, _num(p.current_price), _side(p.side))
        if p.intent_id is not None:
            self._intents[(rec.session_id, p.intent_id)] = info
        else:
            key = (rec.session_id, rec.symbol, info.side)
            self._intent_fifo.setdefault(key, deque()).append(info)

    def blocked(self, rec: ScanRecord) -> None:
        """A blocking gate decision: its intent will never get an order."""
        iid = rec.payload.intent_id
        if iid is not None:
            self._intents.pop((rec.session_id, iid), None)

    def order(self, rec: ScanRecord) -> None:
        p = rec.payload
        self.orders += 1
        intent: _Intent | None = None
        if p.intent_id is not None:
            intent = self._intents.pop((rec.session_id, p.intent_id), None)
        else:
            queue = self._intent_fifo.get((rec.session_id, rec.symbol, _side(p.side)))
            if queue:
                intent = queue.popleft()
        if intent is not None:
            self._sample(self.intent_to_order, intent.ts, intent.mono, rec.ts, rec.mono_ns)
        client_id = p.client_id if p.client_id is not None else p.order_id
        order = _Order(rec, intent, client_id)
        if client_id is not None:
            self._orders[(rec.session_id, client_id)] = order
        else:
            self._order_fifo.setdefault((rec.session_id, rec.symbol), deque()).append(order)

    def fill(self, rec: ScanRecord) -> None:
        p = rec.payload
        if rec.event_id is not None:
            if rec.event_id in self._fill_ids:
                self.duplicate_fills += 1
                return
            self._fill_ids.add(rec.event_id)
        self.fills += 1
        client_id = p.client_id if p.client_id is not None else p.order_id
        order: _Order | None = None
        if client_id is not None:
            key = (rec.session_id, client_id)
            order = self._orders.get(key)
            if order is None and key in self._completed:
                self.duplicate_fills += 1
                return
        else:
            queue = self._order_fifo.get((rec.session_id, rec.symbol))
            if queue:
                order = queue[0]
        price = _num(p.fill_price)
        if order is None:
            self.fills_without_orders += 1
            self._slippage(rec.symbol, _side(p.side), _num(p.reference_price), price)
            return
        if order.filled == 0.0:
            self.filled_orders += 1
            self._sample(self.order_to_fill, order.ts, order.mono, rec.ts, rec.mono_ns)
            if order.intent is not None:
                intent = order.intent
                self._sample(self.intent_to_fill, intent.ts, intent.mono, rec.ts, rec.mono_ns)
        reference = order.intent.price if order.intent and order.intent.price else None
        if reference is None:
            reference = _num(p.reference_price)
        self._slippage(rec.symbol, order.side or _side(p.side), reference, price)
        order.filled += _num(p.filled_quantity) or 0.0
        if order.quantity is None or order.filled >= order.quantity * (1 - 1e-9):
            if client_id is not None:
                del self._orders[(rec.session_id, client_id)]
                self._completed.add((rec.session_id, client_id))
            else:
                self._order_fifo[(rec.session_id, rec.symbol)].popleft()

    def _sample(self, into: array[float], t1: datetime, m1: Any, t2: datetime, m2: Any) -> None:
        ms = _interval_ms(t1, m1, t2, m2)
        if ms is None:
            self.negative_intervals += 1
        else:
            into.append(ms)

    def _slippage(self, symbol: Any, side: str | None, ref: float | None, px: float | None) -> None:
        if ref is None or px is None or ref <= 0 or side not in ("buy", "sell"):
            return
        bps = (px - ref) / ref * 10_000 if side == "buy" else (ref - px) / ref * 10_000
        self.slippage.setdefault(str(symbol), array("d")).append(bps)

    def open_orders(self) -> list[_Order]:
        orders = list(self._orders.values())
        for queue in self._order_fifo.values():
            orders.extend(queue)
        orders.sort(key=lambda o: o.t)
        return orders

    def result(self, as_of: float) -> dict[str, Any]:
        open_orders = self.open_orders()
        all_slippage = array("d")
        for values in self.slippage.values():
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
                    sym: distribution(vals, "bps") for sym, vals in sorted(self.slippage.items())
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
                        "age_s": max(0.0, as_of - o.t),
                        "filled_quantity": o.filled,
                        "quantity": o.quantity,
                    }
                    for o in open_orders[:_OPEN_ORDER_LIST_MAX]
                ],
                "fills_without_orders": self.fills_without_orders,
                "duplicate_fills": self.duplicate_fills,
            },
        }
