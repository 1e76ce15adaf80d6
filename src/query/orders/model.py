"""The order blotter's values: one row per order, a page of rows, one order's chain.

Standard dataclasses, like the summary's: the dashboard declares them as response models
(pydantic derives the schema) and ``orjson`` encodes them directly. Field order is the order
of the keys in the JSON (see ``ORDERS_API.md`` in the issue's contract). Not frozen: a
frozen dataclass sets each field through ``object.__setattr__``, and a page builds dozens
of 21-field rows per request (5x the cost); treat them as read-only all the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from src.execution.schema import ORDER_STATUSES

__all__ = [
    "ENDED_STATUSES",
    "OPEN",
    "ChainStep",
    "GateStep",
    "OrderChain",
    "OrderLatency",
    "OrderPage",
    "OrderRow",
    "Stage",
]

OPEN = "open"
ENDED_STATUSES: tuple[str, ...] = tuple(s for s in ORDER_STATUSES if s != OPEN)
# Where an open order stands (None: an intent still waiting for its order).
Stage = Literal["sent", "acknowledged", "partially_filled"]

_FROZEN = {"slots": True}  # see the module docstring


@dataclass(**_FROZEN)
class GateStep:
    """One gate decision on the order's intent."""

    name: str
    passed: bool


@dataclass(**_FROZEN)
class OrderLatency:
    """Milliseconds between steps of the order's life (None: a step not reached)."""

    intent_to_order: float | None
    order_to_ack: float | None
    order_to_first_fill: float | None
    order_to_complete: float | None


@dataclass(**_FROZEN)
class OrderRow:
    """One order as the blotter shows it (an intent blocked by a gate is one too)."""

    id: str
    client_id: str | None
    intent_id: str | None
    symbol: str
    side: str | None
    order_type: str | None
    limit_price: float | None
    time_in_force: str | None
    quantity: float | None
    filled_quantity: float
    avg_fill_price: float | None
    fees: float
    slippage_bps: float | None  # signed: positive is worse than the reference price
    status: str  # one of ORDER_STATUSES
    stage: Stage | None  # open orders only
    reason: str | None
    gates: list[GateStep]
    created_ts: str
    updated_ts: str
    age_s: float  # open: now - created; ended: end - created
    latency_ms: OrderLatency


@dataclass(**_FROZEN)
class OrderPage:
    """A page of rows, newest first; ``next_before`` asks for the older page; ``counts``
    are over the whole session (every status), not the page."""

    session_id: str
    orders: list[OrderRow]
    next_before: str | None
    counts: dict[str, int]


@dataclass(**_FROZEN)
class ChainStep:
    """One event of an order's life: ``since_previous_ms`` from the step before (None for
    the first, or when the clocks say it came earlier)."""

    ts: str
    kind: str
    description: str
    since_previous_ms: float | None
    event: dict[str, object]


@dataclass(**_FROZEN)
class OrderChain:
    """An order and every event of its life, oldest first."""

    session_id: str
    order: OrderRow
    chain: list[ChainStep]
