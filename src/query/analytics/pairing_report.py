"""The pairing part of a summary: latency and slippage distributions, fill bookkeeping."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from src.query.analytics.sorted_samples import SortedSamples
from src.query.analytics.summary_model import (
    FillReport,
    LatencyReport,
    LatencyStats,
    OpenOrder,
    SlippageReport,
    SlippageStats,
    latency_stats,
    slippage_stats,
)

if TYPE_CHECKING:
    from src.query.analytics.pairing import Pairer

__all__ = ["PairingReport", "report"]

_OPEN_ORDER_LIST_MAX = 50
_LATENCY_LEGS = ("intent_to_order", "order_to_fill", "intent_to_fill")


class PairingReport(NamedTuple):
    latency: LatencyReport
    slippage: SlippageReport
    fills: FillReport


def report(pairer: Pairer, as_of: float, keep: SortedSamples | None = None) -> PairingReport:
    """The pairing part of a summary. ``keep``: sorted copies of the samples kept from the
    previous report of this pairer (see :mod:`~src.query.analytics.sorted_samples`)."""
    open_orders = pairer.open_orders()
    overall, by_symbol = _slippage(pairer, keep)
    return PairingReport(
        latency=LatencyReport(*_latency(pairer, keep), pairer.negative_intervals),
        slippage=SlippageReport(overall, by_symbol),
        fills=FillReport(
            orders=pairer.orders,
            fills=pairer.fills,
            filled_orders=pairer.filled_orders,
            fill_rate=pairer.filled_orders / pairer.orders if pairer.orders else None,
            orders_without_fills=len(open_orders),
            open_orders=[
                OpenOrder(
                    client_id=o.client_id,
                    symbol=o.symbol,
                    ts=o.ts.isoformat(),
                    age_s=max(0.0, as_of - o.ts.timestamp()),
                    filled_quantity=o.filled,
                    quantity=o.quantity,
                )
                for o in open_orders[:_OPEN_ORDER_LIST_MAX]
            ],
            fills_without_orders=pairer.fills_without_orders,
            duplicate_fills=pairer.duplicate_fills,
        ),
    )


def _latency(
    pairer: Pairer, keep: SortedSamples | None
) -> tuple[LatencyStats, LatencyStats, LatencyStats]:
    """intent->order, order->fill and intent->fill, in that order."""
    if keep is None:
        stats = [latency_stats(getattr(pairer, leg)) for leg in _LATENCY_LEGS]
    else:
        stats = [
            latency_stats(keep.sorted(leg, getattr(pairer, leg)), presorted=True)
            for leg in _LATENCY_LEGS
        ]
    intent_to_order, order_to_fill, intent_to_fill = stats
    return intent_to_order, order_to_fill, intent_to_fill


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
