"""What flows through the pipeline: intents, orders, gate decisions, results, and the reports
a venue sends back about an order (:class:`Ack`, :class:`Reject`, :class:`Fill`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from src.execution.ids import new_id
from src.execution.schema import TIMES_IN_FORCE, TimeInForce
from src.execution.session_ids import validate_session_id

__all__ = [
    "Ack",
    "ExecutionReport",
    "ExecutionResult",
    "Fill",
    "GateDecision",
    "Order",
    "OrderIntent",
    "Reject",
    "Side",
    "TimeInForce",
]

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit"]
Status = Literal["filled", "open", "blocked", "error", "rejected", "expired"]


class _Invalid(ValueError):
    """One field of an intent that cannot become an order; the message names the value."""


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(f"invalid {name} {value!r}: expected a number")
    if not math.isfinite(value) or value <= 0:
        raise _Invalid(f"invalid {name} {value!r}: must be a finite number > 0")
    return float(value)


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderIntent:
    """A strategy's wish to trade.

    Building one never raises for the order's fields: a malformed intent (a side that is
    neither buy nor sell, a quantity that is not a finite number > 0, a limit order without
    a price, a time in force other than GTC, IOC or DAY, ...) is still an intent, and the
    pipeline's first gate,
    :class:`~src.execution.gates.IntentValidationGate`, blocks it with :attr:`problem` as the
    reason before any order exists. Valid values are normalised (``"BUY"`` -> ``"buy"``,
    ``"ioc"`` -> ``"IOC"``, ``3`` -> ``3.0``). :meth:`validate` raises the problem for callers
    outside a pipeline.

    ``time_in_force``: ``GTC`` (works until filled or cancelled), ``IOC`` (what does not fill
    at once expires at once) or ``DAY`` (expires at the end of the UTC day it was placed);
    ``expire_after_s`` (a finite number > 0) makes the order expire that long after it was
    placed, whichever comes first.
    """

    symbol: str
    side: Side
    quantity: float
    current_price: float | None = None
    order_type: OrderType = "market"
    limit_price: float | None = None
    time_in_force: TimeInForce = "GTC"
    expire_after_s: float | None = None
    strategy_key: str | None = None
    session_id: str = "default"
    intent_id: str = field(default_factory=lambda: new_id("int"))
    problem: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            self._normalise(object.__setattr__)
        except _Invalid as exc:
            object.__setattr__(self, "problem", str(exc))

    def current_problem(self) -> str | None:
        """The first problem of the values this intent holds now, normalised ones included:
        for an intent that may have skipped the checks when it was built (a subclass whose
        ``__post_init__`` does not call this one's)."""

        def unchanged(intent: OrderIntent, name: str, value: object) -> None:
            current = getattr(intent, name)
            if current != value:
                raise _Invalid(f"invalid {name} {current!r}: expected {value!r}")

        try:
            self._normalise(unchanged)
        except _Invalid as exc:
            return str(exc)
        return None

    def _normalise(self, setattr_: Callable[[OrderIntent, str, object], None]) -> None:
        # Checked in a fixed order; the first problem found is the reason given.
        if not isinstance(self.symbol, str) or not self.symbol.strip():
            raise _Invalid(f"invalid symbol {self.symbol!r}: must be a non-empty string")
        side = _lower(self.side)
        if side not in ("buy", "sell"):
            raise _Invalid(f"invalid side {self.side!r}: expected 'buy' or 'sell'")
        setattr_(self, "side", side)
        setattr_(self, "quantity", _positive("quantity", self.quantity))
        if self.current_price is not None:
            setattr_(self, "current_price", _positive("current_price", self.current_price))
        order_type = _lower(self.order_type)
        if order_type not in ("market", "limit"):
            raise _Invalid(f"invalid order_type {self.order_type!r}: expected 'market' or 'limit'")
        setattr_(self, "order_type", order_type)
        if order_type == "limit":
            if self.limit_price is None:
                raise _Invalid("invalid limit_price None: a limit order needs a limit_price")
            setattr_(self, "limit_price", _positive("limit_price", self.limit_price))
        elif self.limit_price is not None:
            raise _Invalid(f"invalid limit_price {self.limit_price!r}: only for limit orders")
        time_in_force = _upper(self.time_in_force)
        if time_in_force not in TIMES_IN_FORCE:
            expected = ", ".join(repr(t) for t in TIMES_IN_FORCE)
            raise _Invalid(f"invalid time_in_force {self.time_in_force!r}: expected {expected}")
        setattr_(self, "time_in_force", time_in_force)
        if self.expire_after_s is not None:
            setattr_(self, "expire_after_s", _positive("expire_after_s", self.expire_after_s))
        if self.strategy_key is not None and not isinstance(self.strategy_key, str):
            raise _Invalid(f"invalid strategy_key {self.strategy_key!r}: must be a string")
        if not isinstance(self.intent_id, str) or not self.intent_id:
            raise _Invalid(f"invalid intent_id {self.intent_id!r}: must be a non-empty string")
        try:
            validate_session_id(self.session_id)
        except ValueError as exc:
            raise _Invalid(str(exc)) from None

    @property
    def valid(self) -> bool:
        return self.problem is None

    def validate(self) -> OrderIntent:
        """Return the intent, or raise ``ValueError`` naming its first bad value."""
        if self.problem is not None:
            raise ValueError(self.problem)
        return self

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
    time_in_force: TimeInForce = "GTC"
    expire_after_s: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Ack:
    """The venue accepted the order: it is working there under ``order_id``."""

    client_id: str
    order_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Reject:
    """The venue refused the order; ``reason`` says why (naming the values)."""

    client_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """One execution of an order (the whole order when it fills in one piece).

    As a venue report it is a piece; the pipeline adds the pieces up and reports the whole
    order once it is complete (:attr:`ExecutionResult.fill`).
    """

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


#: What a venue reports about an order (see :class:`~src.execution.executor.LifecycleExecutor`).
ExecutionReport = Ack | Reject | Fill


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionResult:
    """What ``submit_order`` returns.

    ``status`` is ``filled`` (``fill`` has the whole order's totals), ``open`` (working: a
    resting limit, or partly filled; ``filled_quantity`` says how much), ``blocked`` (a gate
    said no; see ``blocked_by`` and ``reason``), ``rejected`` (the venue refused it; see
    ``reason``), ``expired`` (an IOC order's unfilled remainder; ``filled_quantity`` is what
    did fill) or ``error`` (the executor failed; see ``error``). ``order_id`` is the venue's
    id when it acknowledged the order.
    """

    status: Status
    intent: OrderIntent
    order: Order | None = None
    fill: Fill | None = None
    blocked_by: str | None = None
    reason: str | None = None
    error: str | None = None
    gate_decisions: tuple[tuple[str, GateDecision], ...] = ()
    order_id: str | None = None
    filled_quantity: float = 0.0

    @property
    def filled(self) -> bool:
        return self.status == "filled"

    @property
    def blocked(self) -> bool:
        return self.status == "blocked"
