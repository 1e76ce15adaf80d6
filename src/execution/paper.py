"""A simulated venue for paper trading and tests.

Market orders fill at once at the reference price moved against the trader by
``slippage_bps``. Limit orders fill at once only if the market allows (a buy at or below
its limit, a sell at or above); otherwise they rest until :meth:`PaperExecutor.on_price`
sees a price that crosses them. Fees are ``fee_bps`` of the fill notional.

It reports an order's life as a venue does (:meth:`PaperExecutor.submit`): an
:class:`~src.execution.models.Ack` with a venue order id for every order it accepts, or a
:class:`~src.execution.models.Reject` naming the rule and the values, then the execution
pieces (:class:`~src.execution.models.Fill`). The venue's rules, all off by default:

* ``balance``: quote cash available for buys. A buy reserves ``quantity x price x (1 +
  fee)`` (its limit, or the market price with slippage) while it works; a buy that needs more
  than what is free is rejected. Fills spend the cash, sells add their proceeds, a cancel
  releases what the order had reserved.
* ``price_band_bps``: a limit price farther than this from the market price is rejected.
* ``max_quantity``: an order for more is rejected.
* ``max_fill_quantity`` / ``max_fill_notional``: each execution opportunity (the submit,
  then each crossing price) fills at most this quantity / this notional (at the fill
  price), so larger orders fill in pieces.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from src.execution.ids import new_id
from src.execution.models import Ack, ExecutionReport, Fill, Order, Reject

__all__ = ["PaperExecutor"]

# A remainder this small (relative to the order) is float noise: the order is complete.
_DONE = 1e-9


@dataclass(slots=True)
class _Working:
    order: Order
    remaining: float
    reserved: float = 0.0  # cash held for a buy while it works (balance rule)


def _check(name: str, value: object, *, allow_zero: bool) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"invalid {name} {value!r}: must be a finite number {bound}")
    return float(value)


def _optional(name: str, value: object) -> float | None:
    return None if value is None else _check(name, value, allow_zero=False)


class PaperExecutor:
    """A simulated venue; see the module's docs for the rules. Thread-safe."""

    def __init__(
        self,
        slippage_bps: float = 2.0,
        fee_bps: float = 1.0,
        *,
        balance: float | None = None,
        price_band_bps: float | None = None,
        max_quantity: float | None = None,
        max_fill_quantity: float | None = None,
        max_fill_notional: float | None = None,
    ) -> None:
        self.slippage_bps = _check("slippage_bps", slippage_bps, allow_zero=True)
        self.fee_bps = _check("fee_bps", fee_bps, allow_zero=True)
        self.price_band_bps = _optional("price_band_bps", price_band_bps)
        self.max_quantity = _optional("max_quantity", max_quantity)
        self.max_fill_quantity = _optional("max_fill_quantity", max_fill_quantity)
        self.max_fill_notional = _optional("max_fill_notional", max_fill_notional)
        self._cash = None if balance is None else _check("balance", balance, allow_zero=True)
        self._working: dict[str, _Working] = {}
        self._lock = threading.Lock()
        self._refuses = (self.max_quantity, self.price_band_bps, self._cash) != (None,) * 3

    # -- the venue interface (what the pipeline uses) ------------------------------------
    def submit(self, order: Order, market_price: float | None) -> list[ExecutionReport]:
        """Accept (``Ack``, then whatever fills now) or refuse (``Reject``) ``order``.

        Raises ``ValueError`` without a usable market price (nothing is accepted then).
        """
        if market_price is None or not (math.isfinite(market_price) and market_price > 0):
            raise ValueError(f"no usable market price for {order.symbol}: {market_price!r}")
        with self._lock:
            reason = self._refusal(order, market_price) if self._refuses else None
            if reason is not None:
                return [Reject(client_id=order.client_id, reason=reason)]
            working = _Working(order, order.quantity)
            if order.side == "buy" and self._cash is not None:
                working.reserved = self._reserve(order, working.remaining, market_price)
            self._working[order.client_id] = working
            reports: list[ExecutionReport] = [
                Ack(client_id=order.client_id, order_id=new_id("pap"))
            ]
            piece = self._try_fill(working, market_price)
            if piece is not None:
                reports.append(piece)
            return reports

    def on_price(self, symbol: str, price: float) -> list[Fill]:
        """Fill (a piece of) the working orders of ``symbol`` that ``price`` crosses."""
        pieces: list[Fill] = []
        with self._lock:
            for working in list(self._working.values()):
                if working.order.symbol == symbol:
                    piece = self._try_fill(working, price)
                    if piece is not None:
                        pieces.append(piece)
        return pieces

    def cancel(self, client_id: str) -> bool:
        """Stop a working order (its reserved cash is free again); False if not working."""
        with self._lock:
            return self._working.pop(client_id, None) is not None

    # -- the original interface ----------------------------------------------------------
    def execute(self, order: Order, market_price: float | None) -> Fill | None:
        """:meth:`submit` for callers of the original interface: the first piece filled now,
        or ``None`` while the order works; a refused order raises ``ValueError(reason)``."""
        for report in self.submit(order, market_price):
            if isinstance(report, Reject):
                raise ValueError(f"rejected: {report.reason}")
            if isinstance(report, Fill):
                return report
        return None

    @property
    def open_orders(self) -> list[Order]:
        """The orders working here (accepted, not completely filled, not cancelled)."""
        with self._lock:
            return [w.order for w in self._working.values()]

    @property
    def available_balance(self) -> float | None:
        """Quote cash free for new buys (``None``: no balance rule)."""
        with self._lock:
            if self._cash is None:
                return None
            return self._cash - sum(w.reserved for w in self._working.values())

    # -- inside (under the lock) ---------------------------------------------------------
    def _refusal(self, order: Order, market_price: float) -> str | None:
        if self.max_quantity is not None and order.quantity > self.max_quantity:
            return (
                f"quantity {order.quantity:g} exceeds the venue's max_quantity "
                f"{self.max_quantity:g}"
            )
        if (
            self.price_band_bps is not None
            and order.order_type == "limit"
            and order.limit_price is not None
        ):
            away_bps = abs(order.limit_price - market_price) / market_price * 10_000
            if away_bps > self.price_band_bps:
                return (
                    f"limit price {order.limit_price:,.2f} is {away_bps:,.0f} bps from the "
                    f"market {market_price:,.2f} (price band {self.price_band_bps:g} bps)"
                )
        if order.side == "buy" and self._cash is not None:
            needed = self._reserve(order, order.quantity, market_price)
            free = self._cash - sum(w.reserved for w in self._working.values())
            if needed > free:
                return (
                    f"insufficient balance: buy {order.quantity:g} {order.symbol} needs "
                    f"{needed:,.2f}, {max(free, 0.0):,.2f} available"
                )
        return None

    def _reserve(self, order: Order, quantity: float, market_price: float) -> float:
        if order.order_type == "limit" and order.limit_price is not None:
            price = order.limit_price
        else:
            price = market_price * (1 + self.slippage_bps / 10_000)
        return quantity * price * (1 + self.fee_bps / 10_000)

    def _try_fill(self, working: _Working, market_price: float) -> Fill | None:
        order = working.order
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
        quantity = working.remaining
        if self.max_fill_quantity is not None and quantity > self.max_fill_quantity:
            quantity = self.max_fill_quantity
        if self.max_fill_notional is not None and quantity * price > self.max_fill_notional:
            quantity = self.max_fill_notional / price
        fee = quantity * price * self.fee_bps / 10_000
        working.remaining -= quantity
        done = working.remaining <= order.quantity * _DONE
        if self._cash is not None:
            if order.side == "buy":
                self._cash -= quantity * price + fee
                working.reserved = (
                    0.0
                    if done
                    else working.reserved * working.remaining / (working.remaining + quantity)
                )
            else:
                self._cash += quantity * price - fee
        if done:
            del self._working[order.client_id]
        return Fill(
            client_id=order.client_id,
            intent_id=order.intent_id,
            symbol=order.symbol,
            side=order.side,
            filled_quantity=quantity,
            fill_price=price,
            fee=fee,
            reference_price=market_price,
        )
