"""One order while its events are folded in, and the row it shows as."""

from __future__ import annotations

from datetime import UTC, datetime

from src.query.orders.latency import Mark, between_ms
from src.query.orders.model import OPEN, GateStep, OrderLatency, OrderRow, Stage

__all__ = ["OrderState", "to_row"]


class OrderState:
    """What is known of one order so far. ``key`` is where its first event is in the
    session (see :mod:`src.query.orders.positions`): rows are ordered by it; ``positions``
    are the keys of all its events (its chain)."""

    __slots__ = (
        "ack_at",
        "avg_price",
        "client_id",
        "created",
        "end_at",
        "fees",
        "filled",
        "first_fill_at",
        "gates",
        "intent_at",
        "intent_id",
        "key",
        "limit_price",
        "notional",
        "order_at",
        "order_type",
        "positions",
        "quantity",
        "reason",
        "reference",
        "side",
        "stage",
        "status",
        "symbol",
        "time_in_force",
        "updated",
    )

    def __init__(self, key: int, symbol: str, created: datetime) -> None:
        self.key = key
        self.symbol = symbol
        self.created = created
        self.updated = created
        self.client_id: str | None = None
        self.intent_id: str | None = None
        self.side: str | None = None
        self.order_type: str | None = None
        self.limit_price: float | None = None
        self.time_in_force: str | None = None
        self.quantity: float | None = None
        self.filled = 0.0
        self.notional = 0.0
        self.fees = 0.0
        self.avg_price: float | None = None
        self.reference: float | None = None  # the intent's quote, else a fill's reference
        self.status = OPEN
        self.stage: Stage | None = None
        self.reason: str | None = None
        self.gates: list[tuple[str, bool]] = []
        self.intent_at: Mark | None = None
        self.order_at: Mark | None = None
        self.ack_at: Mark | None = None
        self.first_fill_at: Mark | None = None
        self.end_at: Mark | None = None
        self.positions: list[int] = [key]

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
