"""The values pairing keeps: pending intents, open orders, marks; value normalisation."""

from __future__ import annotations

from array import array
from collections.abc import Hashable
from datetime import datetime
from enum import Enum
from typing import Final, TypeAlias

import msgspec

from src.query.records import Scalar, ScanPayload

__all__ = ["COMPLETED", "MISSING", "TAINTED", "Intent", "Order", "Samples", "as_number", "as_side"]

# An intent waiting for its order: (ts, mono_ns, quoted price, side, producer of its event
# id: src.query.intervals.producer_of). A tuple is by far the cheapest object to build, and
# intents are a sixth of all events.
Intent = tuple[datetime, "Scalar", "float | None", "str | None", "str | None"]
Samples: TypeAlias = "list[float] | array[float]"


class Order(msgspec.Struct, gc=False):
    """An order waiting for (more) fills or another end. ``seq`` orders events in file
    order."""

    ts: datetime
    mono: Scalar
    intent: Intent | None
    quantity: float | None
    side: str | None
    symbol: Scalar
    client_id: Scalar
    seq: int
    filled: float = 0.0
    # The order event's payload: its type, limit and time in force give its deadline
    # (src.query.lifecycle), worked out only for orders still open at a report.
    terms: ScanPayload | None = None
    producer: str | None = None  # of the order event's id (src.query.intervals.producer_of)
    stage: str = "sent"  # sent, acknowledged or partially_filled (src.query.lifecycle)
    partials: int = 0  # partial_fill events
    partial_qty: float = 0.0  # their quantity and notional (a fill carries the totals)
    partial_notional: float = 0.0
    partial_ref: float | None = None  # a partial fill's reference price


def as_number(value: object) -> float | None:
    if value.__class__ is float or value.__class__ is int:
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def as_side(value: object) -> str | None:
    return value.lower() if isinstance(value, str) else None


class _Mark(Enum):
    COMPLETED = "completed"
    TAINTED = "tainted"


# Values in the order maps besides open orders (enum members pickle as themselves):
# an order id whose order was completely filled (a later fill for it is a duplicate),
# and in a RangePairer an id whose operations are replayed on the earlier part.
COMPLETED = _Mark.COMPLETED
TAINTED = _Mark.TAINTED
MISSING: Final[Hashable] = object()  # a default no caller can pass
