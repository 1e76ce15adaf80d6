"""The numbers an order's fills add up to: quantity, notional, fees, average price and the
reference price, from ``partial_fill`` pieces and ``fill`` events, whichever way a log
wrote them (one ``fill`` with the whole order's totals, the last piece only, or several
``fill`` lines each a piece, as logs did before ``partial_fill``)."""

from __future__ import annotations

from src.query.orders.decode import number
from src.query.orders.latency import Mark
from src.query.orders.state import OrderState
from src.query.records import ScanPayload, ScanRecord

__all__ = ["add_fill", "add_late_fill", "add_piece", "mark"]

_EPS = 1e-9


def mark(rec: ScanRecord) -> Mark:
    """When ``rec`` happened, as the latencies measure it."""
    return (rec.ts, rec.mono_ns, rec.event_id)


def add_piece(st: OrderState, rec: ScanRecord, p: ScanPayload) -> None:
    """Add one execution's quantity, notional and fee."""
    qty, price = number(p.filled_quantity), number(p.fill_price)
    notional = number(p.fill_notional)
    if notional is None and qty is not None and price is not None:
        notional = qty * price
    if st.first_fill_at is None:
        st.first_fill_at = mark(rec)
    if st.reference is None:
        st.reference = number(p.reference_price) or None
    st.filled += qty or 0.0
    st.notional += notional or 0.0
    st.fees += number(p.fill_fee) or 0.0
    if st.filled > 0 and st.notional:
        st.avg_price = st.notional / st.filled
    elif price is not None:
        st.avg_price = price


def add_fill(st: OrderState, rec: ScanRecord, p: ScanPayload) -> None:
    """The ``fill`` that completes an open order: its totals, or (after pieces) its last
    piece only. The caller ends the order."""
    qty = number(p.filled_quantity)
    if st.filled > 0 and qty is not None and qty < st.filled * (1 - _EPS):
        add_piece(st, rec, p)  # only the last piece, not the order's totals
    elif st.filled > 0 and qty is None:
        add_piece(st, rec, p)
    else:  # the whole order's numbers
        if st.first_fill_at is None:
            st.first_fill_at = mark(rec)
        if st.reference is None:
            st.reference = number(p.reference_price) or None
        price = number(p.fill_price)
        notional = number(p.fill_notional)
        st.filled = qty or 0.0
        st.avg_price = price
        if notional is None and qty is not None and price is not None:
            notional = qty * price
        st.notional = notional or 0.0
        st.fees = number(p.fill_fee) or 0.0


def add_late_fill(st: OrderState, rec: ScanRecord, p: ScanPayload) -> None:
    """A ``fill`` after the order ended: a duplicate (ignored), unless the log is of the
    kind that filled an order in several ``fill`` lines and this one still fits in it."""
    qty = number(p.filled_quantity)
    total = st.quantity
    if (
        st.status == "filled"
        and qty is not None
        and total is not None
        and st.filled < total * (1 - _EPS)
        and st.filled + qty <= total * (1 + _EPS)
    ):
        add_piece(st, rec, p)
