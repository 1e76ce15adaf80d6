"""JSON routes of the order blotter: a session's orders (paged, filtered) and one order's
chain. The contract is ``ORDERS_API.md``; the query layer is :mod:`src.query.orders`.

Bad input (a status, symbol, limit, time, cursor or id that is not one) is a 400 whose
``detail`` is one line naming the value; an unknown session or order is a 404.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from src.query.orders import MAX_LIMIT, OrderQuery
from src.webui.deps import existing_session, settings_of
from src.webui.models import OrderChain, OrderPage, error_responses
from src.webui.order_books import books_of

__all__ = ["router"]

router = APIRouter()

_ERRORS = error_responses({400: "a parameter is not valid", 404: "no such session or order"})
_MAX_ID = 200

Text = Annotated[str | None, Query(max_length=2000)]


def _json(body: Any) -> bytes:
    return orjson.dumps(body, default=str, option=orjson.OPT_NON_STR_KEYS)


def _bad(message: str) -> HTTPException:
    return HTTPException(status_code=400, detail=message)


def _limit(text: str | None, cap: int) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise _bad(f"invalid limit {text!r}: expected 1..{cap}") from None


@router.get("/api/live/execution/{session_id}/orders", response_model=OrderPage, responses=_ERRORS)
def orders(
    request: Request,
    session_id: str,
    status: Text = None,
    symbol: Text = None,
    limit: Annotated[str | None, Query(max_length=20, description="1..500 (50)")] = None,
    before: Annotated[str | None, Query(max_length=400)] = None,
    since: Annotated[str | None, Query(max_length=64)] = None,
    until: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """A session's orders, newest first by creation: one row per order (an intent a gate
    blocked is one), with counts by status over the whole session."""
    existing_session(request, session_id)
    cap = min(MAX_LIMIT, settings_of(request).max_limit)
    try:
        query = OrderQuery.build(
            status=status,
            symbol=symbol,
            since=since,
            until=until,
            limit=_limit(limit, cap),
            max_limit=cap,
        )
    except ValueError as exc:
        raise _bad(str(exc)) from None

    def build() -> bytes:
        try:
            page: OrderPage = books_of(request).get(session_id).page(query, before or None)
        except ValueError as exc:
            raise _bad(str(exc)) from None
        return _json(page)

    # Clients watching a session ask for the same page: it is built once per change of the
    # session's files (and at most once a second, so open orders' ages stay fresh).
    cache = request.app.state.pages
    key = ("orders", session_id, query, before)
    body = cache.get_or_build(key, cache.fingerprint(session_id), build)
    return Response(body, media_type="application/json")


@router.get(
    # ``:path``: an id may hold ``/`` (sent URL-encoded, decoded before routing). It is
    # only compared with the ids in the session's events, never used as a file name.
    "/api/live/execution/{session_id}/orders/{order_id:path}",
    response_model=OrderChain,
    responses=_ERRORS,
)
def order(request: Request, session_id: str, order_id: str) -> Response:
    """One order and its whole chain (intent, gates, order, acks, fills, the end), oldest
    first, with the time since the previous step. The id is URL-encoded (it may hold ``/``);
    an id that is ``.`` or ``..`` cannot travel as a path part: ask ``/order?id=`` for it."""
    return _chain(request, session_id, order_id)


@router.get(
    # Browsers and HTTP clients drop or fold a path part that is ``.`` or ``..`` (also
    # written ``%2e``) before sending, so such an order id is only reachable as a query
    # parameter. The dashboard opens every order this way.
    "/api/live/execution/{session_id}/order",
    response_model=OrderChain,
    responses=_ERRORS,
)
def order_by_query(
    request: Request,
    session_id: str,
    order_id: Annotated[str | None, Query(alias="id", description="the order id")] = None,
) -> Response:
    """The same as ``/orders/{order_id}``, the id given as ``?id=`` (URL-encoded): every
    id, ``.`` and ``..`` included, reaches the server as it is."""
    return _chain(request, session_id, order_id or "")


def _chain(request: Request, session_id: str, order_id: str) -> Response:
    existing_session(request, session_id)
    if not order_id or len(order_id) > _MAX_ID or not order_id.isprintable():
        raise _bad(f"invalid order id {order_id[:_MAX_ID]!r}")
    chain = books_of(request).get(session_id).chain(order_id)
    if chain is None:
        raise HTTPException(
            status_code=404, detail=f"no order {order_id!r} in session {session_id!r}"
        )
    return Response(_json(chain), media_type="application/json")
