"""The pairing part of a summary: latency and slippage distributions, fill bookkeeping."""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Any

from src.query.analytics.stats import distribution

if TYPE_CHECKING:
    from src.query.analytics.pairing import Pairer

__all__ = ["report"]

_OPEN_ORDER_LIST_MAX = 50


def report(pairer: Pairer, as_of: float) -> dict[str, Any]:
    """The pairing part of a summary."""
    open_orders = pairer.open_orders()
    by_symbol: dict[str, array[float]] = {}
    for symbol, values in pairer.slippage.items():
        by_symbol.setdefault(str(symbol), array("d")).extend(values)
    all_slippage = array("d")
    for values in by_symbol.values():
        all_slippage.extend(values)
    return {
        "latency": {
            "intent_to_order": distribution(pairer.intent_to_order, "ms"),
            "order_to_fill": distribution(pairer.order_to_fill, "ms"),
            "intent_to_fill": distribution(pairer.intent_to_fill, "ms"),
            "negative_intervals": pairer.negative_intervals,
        },
        "slippage": {
            "overall": distribution(all_slippage, "bps"),
            "by_symbol": {
                sym: distribution(vals, "bps") for sym, vals in sorted(by_symbol.items())
            },
        },
        "fills": {
            "orders": pairer.orders,
            "fills": pairer.fills,
            "filled_orders": pairer.filled_orders,
            "fill_rate": pairer.filled_orders / pairer.orders if pairer.orders else None,
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
            "fills_without_orders": pairer.fills_without_orders,
            "duplicate_fills": pairer.duplicate_fills,
        },
    }
