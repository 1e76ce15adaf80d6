"""The order blotter: a session's events folded into one row per order.

``fold`` pairs the events of each order (by id, as the analytics pair them), reading
lines through ``decode``, adding fills up with ``fills`` and keeping the newest ended
orders in ``kept``; ``state`` holds one order and turns it into an :class:`OrderRow`,
``criteria`` selects, ``positions`` keys events by where they are and makes page
cursors, ``book`` keeps a session's orders up to date through the one follower,
``readback`` finds ended orders the book no longer keeps, ``chain`` reads one order's
events back. :func:`query_orders` and
:func:`order_chain` are the one-shot entry points (the CLI's); the dashboard keeps an
:class:`OrderBook` per session.
"""

from __future__ import annotations

import os

from src.query.orders.book import OrderBook
from src.query.orders.criteria import DEFAULT_LIMIT, MAX_LIMIT, OrderQuery
from src.query.orders.model import (
    ENDED_STATUSES,
    ChainStep,
    GateStep,
    OrderChain,
    OrderLatency,
    OrderPage,
    OrderRow,
)

__all__ = [
    "DEFAULT_LIMIT",
    "ENDED_STATUSES",
    "MAX_LIMIT",
    "ChainStep",
    "GateStep",
    "OrderBook",
    "OrderChain",
    "OrderLatency",
    "OrderPage",
    "OrderQuery",
    "OrderRow",
    "order_chain",
    "query_orders",
]


def query_orders(
    base: str | os.PathLike[str],
    session_id: str,
    query: OrderQuery | None = None,
    before: str | None = None,
    *,
    now: float | None = None,
) -> OrderPage:
    """One page of a session's orders, newest first (a fresh fold of the session)."""
    return OrderBook(base, session_id).page(query or OrderQuery(), before, now=now)


def order_chain(
    base: str | os.PathLike[str], session_id: str, order_id: str, *, now: float | None = None
) -> OrderChain | None:
    """The whole chain of one order, oldest first (None: no such order)."""
    return OrderBook(base, session_id).chain(order_id, now=now)
