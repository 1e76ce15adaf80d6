"""Pair intents with their orders and orders with their fills, in bounded memory.

The pipeline's payloads carry the correlation ids: an intent has ``intent_id``, its order
repeats it next to a new ``client_id``, and the fill repeats both. From the pairs come the
intent->order, order->fill and intent->fill latencies (``mono_ns`` differences when both
events have one, so a wall-clock step cannot distort them; ``ts`` differences otherwise)
and the slippage of the fill against the intent's ``current_price`` in basis points,
positive when the trader did worse (a buy paid more, a sell received less).

At most ``max_pending`` intents and as many orders wait for their partner; past that the
oldest is forgotten and counted in :attr:`PairTracker.evicted` (blocked intents never get
an order; a metrics process that starts mid-stream sees fills whose order it never saw).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from src.execution.events import ExecutionEvent
from src.execution.jsontypes import Payload
from src.execution.telemetry.metrics_snapshot import PendingEntry

__all__ = ["PairTracker", "Paired", "elapsed_seconds", "slippage_bps"]


@dataclass(frozen=True, slots=True)
class _Mark:
    mono_ns: int | None
    ts: datetime
    side: str | None
    price: float | None  # the intent's current_price
    # An order's intent, when it was seen: the start of the intent -> fill latency.
    intent_mono_ns: int | None = None
    intent_ts: datetime | None = None


@dataclass(frozen=True, slots=True)
class Paired:
    """What one event completed: a latency and, for a fill, the slippage."""

    intent_to_order_s: float | None = None
    order_to_fill_s: float | None = None
    slippage_bps: float | None = None
    intent_to_fill_s: float | None = None


def elapsed_seconds(
    start_mono: int | None, start_ts: datetime, end_mono: int | None, end_ts: datetime
) -> float | None:
    """Seconds from start to end: monotonic readings if both exist, else wall clock.

    ``None`` when the interval cannot be known or comes out negative (a clock step).
    """
    if start_mono is not None and end_mono is not None:
        seconds = (end_mono - start_mono) / 1e9
    else:
        try:
            seconds = (end_ts - start_ts).total_seconds()
        except TypeError:  # one naive, one aware timestamp
            return None
    return seconds if seconds >= 0 else None


def slippage_bps(side: object, reference: float | None, fill_price: object) -> float | None:
    """Fill price against the reference in basis points; positive = worse for the trader."""
    if reference is None or not reference > 0 or side not in ("buy", "sell"):
        return None
    if isinstance(fill_price, bool) or not isinstance(fill_price, (int, float)):
        return None
    diff = fill_price - reference if side == "buy" else reference - fill_price
    return diff / reference * 10_000.0


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


class PairTracker:
    """Feed it every event with :meth:`observe`; it returns what the event completed."""

    def __init__(self, max_pending: int = 10_000) -> None:
        if max_pending < 1:
            raise ValueError(f"invalid max_pending {max_pending!r}: must be >= 1")
        self.max_pending = max_pending
        self._intents: OrderedDict[str, _Mark] = OrderedDict()
        self._orders: OrderedDict[str, _Mark] = OrderedDict()
        self.evicted = 0

    @property
    def pending(self) -> int:
        return len(self._intents) + len(self._orders)

    def observe(self, event: ExecutionEvent) -> Paired | None:
        payload: Payload = event.payload
        kind = event.kind
        if kind == "intent":
            intent_id = payload.get("intent_id")
            if isinstance(intent_id, str):
                side = payload.get("side")
                mark = _Mark(
                    event.mono_ns,
                    event.ts,
                    side if isinstance(side, str) else None,
                    _number(payload.get("current_price")),
                )
                self._remember(self._intents, intent_id, mark)
            return None
        if kind == "order":
            return self._on_order(event, payload)
        if kind == "fill":
            return self._on_fill(event, payload)
        if kind == "gate" and payload.get("passed") is False:
            self._intents.pop(str(payload.get("intent_id")), None)  # no order will follow
        elif kind == "error":
            self._intents.pop(str(payload.get("intent_id")), None)
            self._orders.pop(str(payload.get("client_id")), None)
        elif kind in ("cancel", "expire", "reject"):  # the order ended without a fill
            self._orders.pop(str(payload.get("client_id")), None)
        return None

    def _on_order(self, event: ExecutionEvent, payload: Payload) -> Paired | None:
        intent = self._intents.pop(str(payload.get("intent_id")), None)
        client_id = payload.get("client_id")
        if isinstance(client_id, str):
            side = intent.side if intent is not None else payload.get("side")
            self._remember(
                self._orders,
                client_id,
                _Mark(
                    event.mono_ns,
                    event.ts,
                    side if isinstance(side, str) else None,
                    intent.price if intent is not None else None,
                    intent.mono_ns if intent is not None else None,
                    intent.ts if intent is not None else None,
                ),
            )
        if intent is None:
            return None
        return Paired(
            intent_to_order_s=elapsed_seconds(intent.mono_ns, intent.ts, event.mono_ns, event.ts)
        )

    def _on_fill(self, event: ExecutionEvent, payload: Payload) -> Paired | None:
        order = self._orders.pop(str(payload.get("client_id")), None)
        fill_price = payload.get("fill_price")
        if order is None:
            # An order we never saw (filtered, or before we started): the intent may still
            # give the reference price.
            intent = self._intents.pop(str(payload.get("intent_id")), None)
            if intent is None:
                return None
            side = intent.side or payload.get("side")
            return Paired(slippage_bps=slippage_bps(side, intent.price, fill_price))
        side = order.side or payload.get("side")
        intent_to_fill = None
        if order.intent_ts is not None:
            intent_to_fill = elapsed_seconds(
                order.intent_mono_ns, order.intent_ts, event.mono_ns, event.ts
            )
        return Paired(
            order_to_fill_s=elapsed_seconds(order.mono_ns, order.ts, event.mono_ns, event.ts),
            slippage_bps=slippage_bps(side, order.price, fill_price),
            intent_to_fill_s=intent_to_fill,
        )

    def pending_entries(self) -> tuple[list[PendingEntry], list[PendingEntry]]:
        """The waiting intents and orders, oldest first (for a snapshot)."""
        return [_entry(k, m) for k, m in self._intents.items()], [
            _entry(k, m) for k, m in self._orders.items()
        ]

    def restore(
        self, intents: Iterable[PendingEntry], orders: Iterable[PendingEntry], evicted: int
    ) -> None:
        """Take the state :meth:`pending_entries` gave (and the evicted count) as this
        tracker's own; ``ValueError`` for a time out of range."""
        self._intents = OrderedDict((e.key, _mark(e)) for e in intents)
        self._orders = OrderedDict((e.key, _mark(e)) for e in orders)
        self.evicted = evicted

    def _remember(self, table: OrderedDict[str, _Mark], key: str, mark: _Mark) -> None:
        table[key] = mark
        table.move_to_end(key)
        while len(table) > self.max_pending:
            table.popitem(last=False)
            self.evicted += 1


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _us(ts: datetime) -> int:
    return (ts - _EPOCH) // _US


def _ts(us: int) -> datetime:
    try:
        return _EPOCH + timedelta(microseconds=us)
    except OverflowError as exc:
        raise ValueError(f"invalid time {us!r} us") from exc


def _entry(key: str, m: _Mark) -> PendingEntry:
    return PendingEntry(
        key,
        m.mono_ns,
        _us(m.ts),
        m.side,
        m.price,
        m.intent_mono_ns,
        None if m.intent_ts is None else _us(m.intent_ts),
    )


def _mark(e: PendingEntry) -> _Mark:
    return _Mark(
        e.mono_ns,
        _ts(e.ts_us),
        e.side,
        e.price,
        e.intent_mono_ns,
        None if e.intent_ts_us is None else _ts(e.intent_ts_us),
    )
