"""One order while its events are folded in, and the row it shows as."""

from __future__ import annotations

from array import array
from datetime import UTC, datetime

import msgspec

from src.query.orders.latency import Mark, between_ms
from src.query.orders.model import OPEN, GateStep, OrderLatency, OrderRow, Stage

__all__ = ["OrderState", "to_row"]


class OrderState(msgspec.Struct, gc=False):
    """What is known of one order so far. ``key`` is where its first event is in the
    session (see :mod:`src.query.orders.positions`): rows are ordered by it; ``positions``
    are the keys of all its events (its chain). A Struct without garbage collector
    tracking: cheap to build, and a session's many ended orders cost the collector
    nothing (it holds no reference back to anything that refers to it)."""

    key: int
    symbol: str
    created: datetime
    updated: datetime
    positions: list[int] | array[int]  # an array once the order ended (compact)
    client_id: str | None = None
    intent_id: str | None = None
    side: str | None = None
    order_type: str | None = None
    limit_price: float | None = None
    time_in_force: str | None = None
    quantity: float | None = None
    filled: float = 0.0
    notional: float = 0.0
    fees: float = 0.0
    avg_price: float | None = None
    reference: float | None = None  # the intent's quote, else a fill's reference
    status: str = OPEN
    stage: Stage | None = None
    reason: str | None = None
    gates: list[tuple[str, bool]] = msgspec.field(default_factory=list)
    intent_at: Mark | None = None
    order_at: Mark | None = None
    ack_at: Mark | None = None
    first_fill_at: Mark | None = None
    end_at: Mark | None = None

    @property
    def id(self) -> str:
        """The client id, else the intent id, else a name for its first line."""
        if self.client_id is not None:
            return self.client_id
        if self.intent_id is not None:
            return self.intent_id
        return line_id(self.key)

    def slippage_bps(self) -> float | None:
        """The average fill price against the reference, signed: positive is worse."""
        ref, px = self.reference, self.avg_price
        if ref is None or px is None or ref <= 0 or not self.filled:
            return None
        if self.side == "buy":
            return (px - ref) / ref * 10_000
        if self.side == "sell":
            return (ref - px) / ref * 10_000
        return None


def line_id(key: int) -> str:
    """The id of an order whose events carry no ids (named after its first line)."""
    return f"line-{key:x}"


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


def to_row(st: OrderState, now: float) -> OrderRow:
    """The row of ``st``; ``now`` (POSIX seconds) gives an open order's age."""
    created = st.created.timestamp()
    if st.status == OPEN:
        age = max(0.0, now - created)
    else:
        end = st.end_at[0] if st.end_at is not None else st.updated
        age = max(0.0, end.timestamp() - created)
    order_at = st.order_at
    return OrderRow(
        id=st.id,
        client_id=st.client_id,
        intent_id=st.intent_id,
        symbol=st.symbol,
        side=st.side,
        order_type=st.order_type,
        limit_price=st.limit_price,
        time_in_force=st.time_in_force,
        quantity=st.quantity,
        filled_quantity=st.filled,
        avg_fill_price=st.avg_price,
        fees=st.fees,
        slippage_bps=st.slippage_bps(),
        status=st.status,
        stage=st.stage if st.status == OPEN else None,
        reason=st.reason,
        gates=[GateStep(name, passed) for name, passed in st.gates],
        created_ts=_iso(st.created),
        updated_ts=_iso(st.updated),
        age_s=age,
        latency_ms=OrderLatency(
            intent_to_order=between_ms(st.intent_at, order_at),
            order_to_ack=between_ms(order_at, st.ack_at),
            order_to_first_fill=between_ms(order_at, st.first_fill_at),
            order_to_complete=between_ms(order_at, st.end_at),
        ),
    )
