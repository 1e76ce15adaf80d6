"""The last known price per symbol, shared by gates and the paper executor."""

from __future__ import annotations

import math

__all__ = ["MarketState"]


class MarketState:
    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def update(self, symbol: str, price: float) -> None:
        if not (isinstance(price, (int, float)) and math.isfinite(price) and price > 0):
            raise ValueError(f"invalid price {price!r} for {symbol!r}: must be a finite number > 0")
        self._last[symbol] = float(price)

    def last_price(self, symbol: str) -> float | None:
        return self._last.get(symbol)
