"""The demo's strategy: a seeded random walk and a small mean-reversion trader on top.

Each tick moves every symbol's price; when one has strayed from its moving anchor the
strategy trades back towards it, with the mix of orders a real desk sends, so every path
of an order's life shows up in the telemetry:

* market orders (large ones fill in pieces at the paper venue: ``partial_fill`` ... ``fill``),
  now and then IOC (what does not fill at once expires);
* passive limit orders: GTC ones the strategy cancels after a while, ``DAY`` ones, and ones
  with ``expire_after_s`` (expired by the pipeline on the session's clock);
* marketable and passive IOC limits (filled, partly filled then expired, or expired);
* a few limits priced far from the market (the venue's price band rejects them), stale
  quotes and fat fingers (blocked by the gates); buys beyond the venue's cash are rejected.

Everything is drawn from one ``random.Random(seed)`` and the session runs on its own clock
(:class:`SessionClock`), so a seed gives the same session whatever the machine's speed.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from src.execution import OrderIntent

__all__ = ["SYMBOLS", "MeanReversion", "SessionClock", "Tick"]

SYMBOLS = {"BTC-USD": 100_000.0, "ETH-USD": 3_500.0, "SOL-USD": 150.0}
STRATEGY_KEY = "mean_revert_v1"


class SessionClock:
    """Simulated time: starts at the real time and moves only when told (one step per tick),
    so orders expire after the same number of ticks however fast the session runs."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else float(start)

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


@dataclass(frozen=True, slots=True)
class Tick:
    """What the strategy decided on one tick: an intent (or none) and, for a GTC limit, how
    many ticks it may rest before the strategy cancels it."""

    intent: OrderIntent | None
    cancel_after_ticks: int | None = None


@dataclass
class MeanReversion:
    session_id: str
    rng: random.Random
    prices: dict[str, float] = field(default_factory=lambda: dict(SYMBOLS))
    anchors: dict[str, float] = field(default_factory=lambda: dict(SYMBOLS))

    def move_prices(self) -> dict[str, float]:
        for symbol in self.prices:
            self.prices[symbol] *= 1 + self.rng.gauss(0, 0.0015)
        return self.prices

    def decide(self) -> Tick:
        rng = self.rng
        symbol = rng.choice(list(self.prices))
        price = self.prices[symbol]
        deviation = price / self.anchors[symbol] - 1
        self.anchors[symbol] = 0.98 * self.anchors[symbol] + 0.02 * price
        if abs(deviation) < 0.001 and rng.random() > 0.15:
            return Tick(None)
        side = "sell" if deviation > 0 else "buy"
        against = -1.0 if side == "buy" else 1.0  # a passive limit sits on this side
        notional = rng.choice([5_000, 10_000, 25_000, 50_000])
        quoted = price
        roll = rng.random()
        if roll < 0.03:
            quoted = price * (1.08 if rng.random() < 0.5 else 0.92)  # a stale quote
        elif roll < 0.06:
            notional = 400_000  # fat finger
        quantity = round(notional / price, 6)
        fields: dict[str, object] = {
            "symbol": symbol,
            "side": side,
            "quantity": quantity,
            "current_price": quoted,
            "strategy_key": STRATEGY_KEY,
            "session_id": self.session_id,
        }
        kind = rng.random()
        cancel_after: int | None = None
        if kind < 0.20:  # a passive limit: GTC (cancelled later), DAY, or expiring
            fields |= {
                "order_type": "limit",
                "limit_price": round(price * (1 + against * 0.0005), 2),
            }
            lifetime = rng.random()
            if lifetime < 0.4:
                cancel_after = rng.randint(30, 150)
            elif lifetime < 0.7:
                fields["time_in_force"] = "DAY"
                cancel_after = rng.randint(60, 200)
            else:
                fields["expire_after_s"] = float(rng.choice([2, 3, 5, 8]))
        elif kind < 0.30:  # IOC limit: marketable or just passive
            offset = -0.0005 if rng.random() < 0.6 else 0.0003
            fields |= {
                "order_type": "limit",
                "limit_price": round(price * (1 + against * offset), 2),
                "time_in_force": "IOC",
            }
        elif kind < 0.33:  # a limit far from the market: the venue's price band says no
            fields |= {"order_type": "limit", "limit_price": round(price * (1 + against * 0.02), 2)}
        elif kind < 0.40:
            fields["time_in_force"] = "IOC"  # a market IOC: big ones fill partly, then expire
        return Tick(OrderIntent(**fields), cancel_after)  # type: ignore[arg-type]
