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
    FillReport,
    LatencyReport,
    LatencyStats,
    OpenOrder,
    OrderReport,
    SlippageReport,
    SlippageStats,
    latency_stats,
    slippage_stats,
)
from src.query.lifecycle import deadline
from src.query.records import EMPTY_PAYLOAD

if TYPE_CHECKING:
    from src.query.analytics.pairing import Pairer

__all__ = ["PairingReport", "report"]

_OPEN_ORDER_LIST_MAX = 50
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


def report(
    pairer: Pairer, as_of: float, keep: SortedSamples | None = None, *, blocked: int = 0
) -> PairingReport:
    """The pairing part of a summary. ``keep``: sorted copies of the samples kept from the
    previous report of this pairer (see :mod:`~src.query.analytics.sorted_samples`);
    ``blocked``: intents a gate stopped (counted by the gate statistics)."""
    open_orders = pairer.open_orders()
    shown = [_open_order(o, as_of) for o in open_orders[:_OPEN_ORDER_LIST_MAX]]
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
        orders=_orders(pairer, open_orders, shown, as_of, blocked),
    )


def _open_order(o: Order, as_of: float) -> OpenOrder:
    terms = o.terms or EMPTY_PAYLOAD
    placed = o.ts.timestamp()
    due = deadline(
        placed, terms.order_type, terms.limit_price, terms.time_in_force, terms.expire_after_s
    )
    late = None if due is None else as_of - due
    return OpenOrder(
        client_id=o.client_id,
        symbol=o.symbol,
        ts=o.ts.isoformat(),
        age_s=max(0.0, as_of - placed),
        filled_quantity=o.filled or o.partial_qty,
        quantity=o.quantity,
        order_type=_scalar(terms.order_type),
        time_in_force=_scalar(terms.time_in_force),
        stage=o.stage,
        deadline=None if due is None else _iso(due),
        overdue_s=late if late is not None and late >= 0 else None,
    )


def _iso(t: float) -> str:
    try:
        return datetime.fromtimestamp(t, UTC).isoformat()
    except (OverflowError, ValueError, OSError):  # expire_after_s beyond the calendar
        return datetime.max.replace(tzinfo=UTC).isoformat()


def _scalar(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int, float, bool)) else None


def _orders(
    pairer: Pairer, open_orders: list[Order], shown: list[OpenOrder], as_of: float, blocked: int
) -> OrderReport:
    sent = pairer.orders
    by_status = dict.fromkeys(ORDER_STATUSES, 0)
    by_status.update(pairer.outcomes)
    by_status["open"] = len(open_orders)
    by_status["blocked"] = blocked
    # Open orders past their deadline, most overdue first: those in the listed oldest
    # orders are already built; the rest only when they are overdue.
    overdue: list[OpenOrder] = [o for o in shown if o.overdue_s is not None]
    for o in open_orders[_OPEN_ORDER_LIST_MAX:]:
        row = _open_order(o, as_of)
        if row.overdue_s is not None:
            overdue.append(row)
    overdue.sort(key=lambda o: -(o.overdue_s or 0.0))
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
        overdue=len(overdue),
        overdue_orders=overdue[:_OPEN_ORDER_LIST_MAX],
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


def _chain(lists: list[list[float]]) -> list[float]:
    out: list[float] = []
    for values in lists:
        out.extend(values)
    return out
