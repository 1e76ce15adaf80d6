"""What flows through the pipeline: intents, orders, fills, gate decisions and results."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from src.execution.ids import new_id
from src.execution.session_ids import validate_session_id

__all__ = ["ExecutionResult", "Fill", "GateDecision", "Order", "OrderIntent", "Side"]

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit"]
Status = Literal["filled", "open", "blocked", "error"]


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"invalid {name} {value!r}: expected a number")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"invalid {name} {value!r}: must be a finite number > 0")
    return float(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderIntent:
    """A strategy's wish to trade; validated on construction."""

    symbol: str
    side: Side
    quantity: float
    current_price: float | None = None
    order_type: OrderType = "market"
    limit_price: float | None = None
    strategy_key: str | None = None
    session_id: str = "default"
    intent_id: str = field(default_factory=lambda: new_id("int"))

    def __post_init__(self) -> None:
        if not isinstance(self.symbol, str) or not self.symbol.strip():
            raise ValueError(f"invalid symbol {self.symbol!r}: must be a non-empty string")
        side = self.side.lower() if isinstance(self.side, str) else self.side
        if side not in ("buy", "sell"):
            raise ValueError(f"invalid side {self.side!r}: expected 'buy' or 'sell'")
        object.__setattr__(self, "side", side)
        object.__setattr__(self, "quantity", _positive("quantity", self.quantity))
        if self.current_price is not None:
            object.__setattr__(
                self, "current_price", _positive("current_price", self.current_price)
            )
        order_type = self.order_type.lower() if isinstance(self.order_type, str) else None
        if order_type not in ("market", "limit"):
            raise ValueError(
                f"invalid order_type {self.order_type!r}: expected 'market' or 'limit'"
            )
        object.__setattr__(self, "order_type", order_type)
        if order_type == "limit":
            if self.limit_price is None:
                raise ValueError("invalid limit_price None: a limit order needs a limit_price")
            object.__setattr__(self, "limit_price", _positive("limit_price", self.limit_price))
        elif self.limit_price is not None:
            raise ValueError(f"invalid limit_price {self.limit_price!r}: only for limit orders")
        validate_session_id(self.session_id)

    @property
    def reference_price(self) -> float | None:
        """The price the notional is judged at: the limit for limits, else the quoted price."""
        return self.limit_price if self.order_type == "limit" else self.current_price


@dataclass(frozen=True, slots=True)
class GateDecision:
    passed: bool
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    client_id: str
    intent_id: str
    session_id: str
    symbol: str
    side: Side
    quantity: float
    order_type: OrderType
    limit_price: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    client_id: str
    intent_id: str
    symbol: str
    side: Side
    filled_quantity: float
    fill_price: float
    fee: float
    reference_price: float | None = None

    @property
    def notional(self) -> float:
        return self.filled_quantity * self.fill_price


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionResult:
    """What ``submit_order`` returns.

    ``status`` is ``filled``, ``open`` (a resting limit order), ``blocked`` (a gate said no;
    see ``blocked_by`` and ``reason``) or ``error`` (the executor failed; see ``error``).
    """

    status: Status
    intent: OrderIntent
    order: Order | None = None
    fill: Fill | None = None
    blocked_by: str | None = None
    reason: str | None = None
    error: str | None = None
    gate_decisions: tuple[tuple[str, GateDecision], ...] = ()

    @property
    def filled(self) -> bool:
        return self.status == "filled"

    @property
    def blocked(self) -> bool:
        return self.status == "blocked"
