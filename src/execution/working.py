"""A working order's state inside the pipeline: what has filled so far and when its time
in force runs out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from src.execution.models import Fill, Order

__all__ = ["Ended", "Working", "order_deadline"]

DAY = timedelta(days=1)


Ended = Literal["filled", "cancelled", "expired", "rejected"]


@dataclass(slots=True)
class Working:
    """A working order's state: what has filled so far and when it runs out."""

    order: Order
    placed: float  # POSIX seconds
    deadline: float | None  # POSIX seconds its time in force ends (None: GTC)
    order_id: str | None = None
    filled: float = 0.0
    notional: float = 0.0
    fees: float = 0.0
    ref_weighted: float = 0.0  # sum of piece quantity x reference price
    ref_missing: bool = False
    pieces: int = 0
    ended: Ended | None = None  # how it ended (None: working)
    reason: str | None = None
    whole: Fill | None = None  # the whole order's fill, once complete
    error: str | None = None  # why it could not be sent (then it never worked)

    @property
    def remaining(self) -> float:
        return max(self.order.quantity - self.filled, 0.0)


def order_deadline(order: Order, placed: float) -> float | None:
    """When ``order``, placed at ``placed`` (POSIX s), runs out: the end of its UTC day (DAY)
    or ``expire_after_s`` after placing, whichever is first; None when neither applies."""
    ends: list[float] = []
    if order.time_in_force == "DAY":
        day = datetime.fromtimestamp(placed, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        ends.append((day + DAY).timestamp())
    if order.expire_after_s is not None:
        ends.append(placed + order.expire_after_s)
    return min(ends) if ends else None
