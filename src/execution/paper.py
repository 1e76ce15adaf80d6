"""A simulated executor for paper trading and tests.

Market orders fill at once at the reference price moved against the trader by
``slippage_bps``. Limit orders fill at once only if the market allows (a buy at or below
its limit, a sell at or above); otherwise they rest until :meth:`on_price` sees a price
that crosses them. Fees are ``fee_bps`` of the fill notional.
"""

from __future__ import annotations

import math
import threading

from src.execution.models import Fill, Order

__all__ = ["PaperExecutor"]


class PaperExecutor:
    def __init__(self, slippage_bps: float = 2.0, fee_bps: float = 1.0) -> None:
        for name, value in (("slippage_bps", slippage_bps), ("fee_bps", fee_bps)):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not (math.isfinite(value) and value >= 0)
            ):
                raise ValueError(f"invalid {name} {value!r}: must be a finite number >= 0")
        self.slippage_bps = float(slippage_bps)
        self.fee_bps = float(fee_bps)
        self._resting: dict[str, Order] = {}
        self._lock = threading.Lock()

    def execute(self, order: Order, market_price: float | None) -> Fill | None:
        """Fill ``order`` now if it can be filled at ``market_price``; else rest it (limits)."""
        if market_price is None or not (math.isfinite(market_price) and market_price > 0):
            raise ValueError(f"no usable market price for {order.symbol}: {market_price!r}")
        fill = self._try_fill(order, market_price)
        if fill is None:
            with self._lock:
                self._resting[order.client_id] = order
        return fill

    def on_price(self, symbol: str, price: float) -> list[Fill]:
        """Fill resting limit orders of ``symbol`` that ``price`` crosses."""
        fills: list[Fill] = []
        with self._lock:
            for client_id, order in list(self._resting.items()):
                if order.symbol != symbol:
                    continue
                fill = self._try_fill(order, price)
                if fill is not None:
                    del self._resting[client_id]
                    fills.append(fill)
        return fills

    def cancel(self, client_id: str) -> bool:
        with self._lock:
            return self._resting.pop(client_id, None) is not None

    @property
    def open_orders(self) -> list[Order]:
        with self._lock:
            return list(self._resting.values())

    def _try_fill(self, order: Order, market_price: float) -> Fill | None:
        slip = self.slippage_bps / 10_000
        if order.side == "buy":
            price = market_price * (1 + slip)
            if order.order_type == "limit":
                assert order.limit_price is not None
                if market_price > order.limit_price:
                    return None
                price = min(price, order.limit_price)
        else:
            price = market_price * (1 - slip)
            if order.order_type == "limit":
                assert order.limit_price is not None
                if market_price < order.limit_price:
                    return None
                price = max(price, order.limit_price)
        fee = order.quantity * price * self.fee_bps / 10_000
        return Fill(
            client_id=order.client_id,
            intent_id=order.intent_id,
            symbol=order.symbol,
            side=order.side,
            filled_quantity=order.quantity,
            fill_price=price,
            fee=fee,
            reference_price=market_price,
        )
