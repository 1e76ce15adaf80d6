"""The pairing part of a summary: latency and slippage distributions, fill bookkeeping."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from src.execution.schema import ORDER_STATUSES
from src.query.analytics.pairing_model import Order
from src.query.analytics.sorted_samples import SortedSamples
from src.query.analytics.summary_model import (
    OPEN_ORDER_LIST_MAX,
    FillReport,
    LatencyReport,
    LatencyStats,
    OpenOrder,
    OrderClock,
    OrderReport,
    SlippageReport,
    SlippageStats,
    latency_stats,
    open_order_times,
    slippage_stats,
)
from src.query.lifecycle import deadline
from src.query.records import EMPTY_PAYLOAD

if TYPE_CHECKING:
    from src.query.analytics.pairing import Pairer

__all__ = ["PairingReport", "report"]

_OPEN_ORDER_LIST_MAX = OPEN_ORDER_LIST_MAX
_LATENCY_LEGS = (
    "intent_to_order",
    "order_to_fill",
    "intent_to_fill",
    "order_to_ack",
    "order_to_cancel",
)


class PairingReport(NamedTuple):
    latency: LatencyReport
    slippage: SlippageReport
    fills: FillReport
    orders: OrderReport
    clock: OrderClock


def report(
    pairer: Pairer, as_of: float, keep: SortedSamples | None = None, *, blocked: int = 0
) -> PairingReport:
    """The pairing part of a summary. ``keep``: sorted copies of the samples kept from the
    previous report of this pairer (see :mod:`~src.query.analytics.sorted_samples`);
    ``blocked``: intents a gate stopped (counted by the gate statistics)."""
    open_orders = _open_orders(pairer)
    times = [_times(o) for o in open_orders[:_OPEN_ORDER_LIST_MAX]]
    shown = [_open_order(o, p, d, as_of) for o, (p, d) in zip(open_orders, times, strict=False)]
    clock = _clock(open_orders, times, shown, as_of)
    overall, by_symbol = _slippage(pairer, keep)
    legs = dict(zip(_LATENCY_LEGS, _latency(pairer, keep), strict=True))
    return PairingReport(
        latency=LatencyReport(
            intent_to_order=legs["intent_to_order"],
            order_to_fill=legs["order_to_fill"],
            intent_to_fill=legs["intent_to_fill"],
            negative_intervals=pairer.negative_intervals,
            order_to_ack=legs["order_to_ack"],
            order_to_cancel=legs["order_to_cancel"],
        ),
        slippage=SlippageReport(overall, by_symbol),
        fills=FillReport(
            orders=pairer.orders,
            fills=pairer.fills,
            filled_orders=pairer.filled_orders,
            fill_rate=pairer.filled_orders / pairer.orders if pairer.orders else None,
            orders_without_fills=len(open_orders),
            open_orders=shown,
            fills_without_orders=pairer.fills_without_orders,
            duplicate_fills=pairer.duplicate_fills,
        ),
        orders=_orders(pairer, open_orders, shown, clock, as_of, blocked),
        clock=clock,
    )


def _open_orders(pairer: Pairer) -> list[Order]:
    """The orders still open, oldest first (ties in file order)."""
    orders = [o for m in pairer._orders.values() for o in m.values() if o.__class__ is Order]
    for queue in pairer._order_fifo.values():
        orders.extend(queue)
    orders.sort(key=lambda o: (o.ts, o.seq))
    return orders


def _times(o: Order) -> tuple[float, float | None]:
    """(placed, deadline) of an open order, in POSIX seconds (deadline None: none)."""
    terms = o.terms or EMPTY_PAYLOAD
    placed = o.ts.timestamp()
    due = deadline(
        placed, terms.order_type, terms.limit_price, terms.time_in_force, terms.expire_after_s
    )
    return placed, due


def _clock(
    open_orders: list[Order],
    times: list[tuple[float, float | None]],
    shown: list[OpenOrder],
    as_of: float,
) -> OrderClock:
    """The listed open orders' times, and every open order that can become overdue."""
    due: list[tuple[float, int, float, OpenOrder]] = []
    for pos, o in enumerate(open_orders):
        placed, d = times[pos] if pos < len(times) else _times(o)
        if d is not None and d == d:  # NaN: never overdue
            row = shown[pos] if pos < len(shown) else _open_order(o, placed, d, as_of)
            due.append((d, pos, placed, row))
    due.sort(key=lambda e: (e[0], e[1]))
    return OrderClock(times, due)


def _open_order(o: Order, placed: float, due: float | None, as_of: float) -> OpenOrder:
    terms = o.terms or EMPTY_PAYLOAD
    age, late = open_order_times(placed, due, as_of)
    return OpenOrder(
        client_id=o.client_id,
        symbol=o.symbol,
        ts=o.ts.isoformat(),
        age_s=age,
        filled_quantity=o.filled or o.partial_qty,
        quantity=o.quantity,
        order_type=_scalar(terms.order_type),
        time_in_force=_scalar(terms.time_in_force),
        stage=o.stage,
        deadline=None if due is None else _iso(due),
        overdue_s=late,
    )


def _iso(t: float) -> str:
    try:
        return datetime.fromtimestamp(t, UTC).isoformat()
    except (OverflowError, ValueError, OSError):  # expire_after_s beyond the calendar
        return datetime.max.replace(tzinfo=UTC).isoformat()


def _scalar(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int, float, bool)) else None


def _orders(
    pairer: Pairer,
    open_orders: list[Order],
    shown: list[OpenOrder],
    clock: OrderClock,
    as_of: float,
    blocked: int,
) -> OrderReport:
    sent = pairer.orders
    by_status = dict.fromkeys(ORDER_STATUSES, 0)
    by_status.update(pairer.outcomes)
    by_status["open"] = len(open_orders)
    by_status["blocked"] = blocked
    # Open orders past their deadline, most overdue first: measured as any later reader
    # measures them (OrderClock.age), so a summary answered later equals a fresh one.
    overdue, overdue_orders = clock.overdue(as_of)
    oldest = shown[0] if shown else None
    return OrderReport(
        sent=sent,
        by_status=by_status,
        partly_filled_then_ended=pairer.ended_partly_filled,
        acknowledged=pairer.acknowledged,
        partial_fills=pairer.partial_fills,
        partially_filled_orders=pairer.partially_filled_orders,
        cancel_rate=by_status["cancelled"] / sent if sent else None,
        reject_rate=by_status["rejected"] / sent if sent else None,
        open=len(open_orders),
        oldest_open_ts=None if oldest is None else oldest.ts,
        oldest_open_age_s=None if oldest is None else oldest.age_s,
        overdue=overdue,
        overdue_orders=overdue_orders,
        unmatched=pairer.unmatched,
    )


def _latency(pairer: Pairer, keep: SortedSamples | None) -> list[LatencyStats]:
    """Every leg of :data:`_LATENCY_LEGS`, in that order (one machinery for all)."""
    if keep is None:
        return [latency_stats(getattr(pairer, leg)) for leg in _LATENCY_LEGS]
    return [
        latency_stats(keep.sorted(leg, getattr(pairer, leg)), presorted=True)
        for leg in _LATENCY_LEGS
    ]


def _slippage(
    pairer: Pairer, keep: SortedSamples | None
) -> tuple[SlippageStats, dict[str, SlippageStats]]:
    """Overall and per-symbol slippage; raw symbols are grouped by their text."""
    groups: dict[str, list[Any]] = {}
    for symbol in pairer.slippage:
        groups.setdefault(str(symbol), []).append(symbol)
    if keep is None:
        by_symbol: dict[str, Sequence[float]] = {}
        for text, symbols in groups.items():
            values = by_symbol[text] = array("d")
            for symbol in symbols:
                values.extend(pairer.slippage[symbol])
        collected = array("d")
        for part in by_symbol.values():
            collected.extend(part)
        everything: Sequence[float] = collected
        presorted = False
    else:
        everything = keep.sorted_union("slippage", pairer.slippage)
        by_symbol = {}
        for text, symbols in groups.items():
            members = [keep.sorted_member("slippage", s) for s in symbols]
            by_symbol[text] = members[0] if len(members) == 1 else sorted(_chain(members))
        presorted = True
    overall = slippage_stats(everything, presorted=presorted)
    return overall, {
        text: slippage_stats(values, presorted=presorted)
        for text, values in sorted(by_symbol.items())
    }


def _chain(lists: list[Sequence[float]]) -> list[float]:
    out: list[float] = []
    for values in lists:
        out.extend(values)
    return out
