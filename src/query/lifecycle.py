"""An order's life as readers judge it: the status an event leaves its order in, the stage
of a working order, and the instant by which an order should have ended.

One rule for every reader (the summary's order outcomes, ``--check`` and the alert rules'
``missing_fills``, the order blotter), next to the schema's :data:`~src.execution.schema.
STATUS_AFTER` that it extends with the execute-stage ``error``.

Deadline (when an order that is still open stops being "working" and becomes "missing"):

* ``IOC`` orders and market orders (``order_type`` "market", or no ``order_type`` and no
  ``limit_price``, as older logs write them) should end at once: the deadline is when the
  order was placed;
* ``expire_after_s`` ends any order that long after it was placed;
* ``DAY`` orders end at the end of the UTC day they were placed on;
* a ``GTC`` limit order (or a limit order without a time in force) works until cancelled:
  no deadline.

When several apply, the earliest wins. Callers add their own grace period.
"""

from __future__ import annotations

import math
from typing import Final

from src.execution.schema import STATUS_AFTER, TERMINAL_KINDS

__all__ = [
    "DAY_S",
    "LIFECYCLE_KINDS",
    "STAGE_AFTER",
    "deadline",
    "ends_order",
    "status_after",
]

DAY_S: Final = 86_400.0
# The kinds that change an order after its ``order`` event (and the execute-stage error).
LIFECYCLE_KINDS: tuple[str, ...] = ("ack", "partial_fill", "cancel", "expire", "reject")
# The stage of an order that is still open, after its latest event.
STAGE_AFTER: dict[str, str] = {
    "order": "sent",
    "ack": "acknowledged",
    "partial_fill": "partially_filled",
}


def ends_order(kind: str, stage: object = None) -> bool:
    """Does an event of ``kind`` (an error's ``stage``) end its order's life?"""
    return kind in TERMINAL_KINDS or (kind == "error" and stage == "execute")


def status_after(kind: str, stage: object = None) -> str | None:
    """The final status an event of ``kind`` gives its order (``filled``, ``cancelled``,
    ``expired``, ``rejected``; ``error`` for an execute-stage error); None when the order
    stays open (or the event is not about an order)."""
    status = STATUS_AFTER.get(kind)
    if status is not None:
        return status
    return "error" if kind == "error" and stage == "execute" else None


def _number(value: object) -> float | None:
    if value.__class__ is float or value.__class__ is int:
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def deadline(
    placed: float,
    order_type: object = None,
    limit_price: object = None,
    time_in_force: object = None,
    expire_after_s: object = None,
) -> float | None:
    """The instant (POSIX seconds) by which an order placed at ``placed`` should have ended
    (see the module's rule); None for an order that works until cancelled."""
    tif = time_in_force.upper() if isinstance(time_in_force, str) else None
    kind = order_type.lower() if isinstance(order_type, str) else None
    if tif == "IOC":
        return placed
    if kind == "market" or (kind is None and limit_price is None):
        return placed
    out: float | None = None
    after = _number(expire_after_s)
    if after is not None and after >= 0:
        out = placed + after
    if tif == "DAY":
        end_of_day = (math.floor(placed / DAY_S) + 1) * DAY_S
        out = end_of_day if out is None else min(out, end_of_day)
    return out
