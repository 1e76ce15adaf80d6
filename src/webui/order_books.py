"""Per-app order books: one incremental :class:`~src.query.orders.OrderBook` per session,
at most :data:`MAX_BOOKS` of them (and no more than ``max_cached_sessions``), least recently
used evicted. A book keeps every open order and the newest 10,000 ended ones (~1.6 KB
each): some 16 MB per busy session, so a few are kept, not one per session ever viewed; an
evicted session's next orders request folds its log again."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from fastapi import Request

from src.query.orders import OrderBook

__all__ = ["MAX_BOOKS", "OrderBooks", "books_of"]

MAX_BOOKS = 8
_CREATE = threading.Lock()


class OrderBooks:
    def __init__(self, base: Path, size: int) -> None:
        self._base = base
        self._size = max(1, size)
        self._items: OrderedDict[str, OrderBook] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session_id: str) -> OrderBook:
        with self._lock:
            book = self._items.get(session_id)
            if book is None:
                book = self._items[session_id] = OrderBook(self._base, session_id)
            self._items.move_to_end(session_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return book

    def __len__(self) -> int:
        return len(self._items)


def books_of(request: Request) -> OrderBooks:
    """The app's order books (made on first use, so the app factory needs no change)."""
    state = request.app.state
    books: OrderBooks | None = getattr(state, "order_books", None)
    if books is None:
        with _CREATE:
            books = getattr(state, "order_books", None)
            if books is None:
                settings = state.settings
                size = min(MAX_BOOKS, settings.max_cached_sessions)
                books = OrderBooks(settings.base_path, size)
                state.order_books = books
    return books
