"""Per-app state: timeline pages (the live newest page, encoded API pages); the sessions'
summaries (:class:`SummaryCache`) live in :mod:`src.webui.summaries`."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson

from src.query.files import session_files
from src.query.filters import EventFilter
from src.query.head import LiveHead
from src.query.paging import page_back
from src.query.records import Record
from src.query.timeline import ExecutionTimelineRow, row_from_record
from src.webui.settings import WebSettings
from src.webui.summaries import SummaryCache

__all__ = ["HeadCache", "PageCache", "SummaryCache", "TimelineRow", "render_row"]

# A timeline row and its JSON (the API's encoding), rendered once per event and page.
TimelineRow = tuple[ExecutionTimelineRow, bytes]


def render_row(rec: Record) -> TimelineRow:
    row = row_from_record(rec)
    return row, orjson.dumps(row.to_dict(), default=str, option=orjson.OPT_NON_STR_KEYS)


class HeadCache:
    """The one path to a session's timeline pages, for the HTML page and the JSON API alike:
    the newest page from a :class:`~src.query.head.LiveHead` kept by (session, kind, limit),
    an older one (``before``, a cursor) read with :func:`~src.query.paging.page_back`. Rows
    are :data:`TimelineRow`s. The least recently used heads are evicted once their limits add
    up to more than ``max_rows`` (the newest one is always kept)."""

    def __init__(
        self,
        settings: WebSettings,
        render: Callable[[Record], TimelineRow] = render_row,
        max_rows: int = 20_000,
    ) -> None:
        self._base = settings.base_path
        self._render = render
        self.max_rows = max_rows
        self._items: OrderedDict[tuple[str, str | None, int], LiveHead[TimelineRow]] = OrderedDict()
        self._rows = 0
        self._lock = threading.Lock()

    def page(
        self, session_id: str, kind: str | None, limit: int, before: str | None = None
    ) -> tuple[list[TimelineRow], str | None]:
        """The rows (newest first) and the cursor of the next older page; raises
        ``ValueError`` for a cursor that is not a position in this session."""
        if before is None:
            return self.get(session_id, kind, limit).refresh()
        flt = EventFilter.build(session_id=session_id, kind=kind)
        page = page_back(self._base, flt, limit, before)
        return [self._render(r) for r in page.records], page.next_cursor

    def get(self, session_id: str, kind: str | None, limit: int) -> LiveHead[TimelineRow]:
        key = (session_id, kind, limit)
        with self._lock:
            head = self._items.get(key)
            if head is None:
                flt = EventFilter.build(session_id=session_id, kind=kind)
                head = self._items[key] = LiveHead(self._base, flt, limit, self._render)
                self._rows += limit
            self._items.move_to_end(key)
            while self._rows > self.max_rows and len(self._items) > 1:
                _, evicted = self._items.popitem(last=False)
                self._rows -= evicted.limit
        return head

    @property
    def rows(self) -> int:
        """The rows the cached pages can hold (the sum of their limits)."""
        return self._rows

    def __len__(self) -> int:
        return len(self._items)


class PageCache:
    """Encoded API pages, valid while the session's files are unchanged (and for at most
    the current second, so open-order ages stay fresh). The timeline no longer goes through
    it (its newest page and summary are cached; on top of them this did not pay, see
    docs/performance.md "Dashboard"); the order blotter's route uses it. Clients watching
    one session all ask for the same page; this serves them without re-reading and
    re-encoding it.

    On a growing session every append makes the page stale for all of them at once; one
    request (per page) builds the new one while the others with the same fingerprint wait
    for it, instead of all building the same page side by side."""

    def __init__(self, settings: WebSettings, size: int = 256) -> None:
        self._base = settings.base_path
        self._size = size
        self._items: OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], bytes]] = OrderedDict()
        self._lock = threading.Lock()
        # key -> [lock held by the thread building the page, threads using the lock]
        self._building: dict[tuple[Any, ...], list[Any]] = {}

    def fingerprint(self, session_id: str) -> tuple[Any, ...]:
        session = session_files(self._base, session_id)
        files = session.files if session else ()
        stats = []
        for path in files:
            try:
                st = path.stat()
            except OSError:
                continue
            stats.append((str(path), st.st_ino, st.st_size))
        return (int(time.time()), *stats)

    def get_or_build(
        self, key: tuple[Any, ...], fingerprint: tuple[Any, ...], build: Callable[[], bytes]
    ) -> bytes:
        """The page for ``key`` at ``fingerprint``, built by ``build()`` only when no other
        thread has just built it (a build that raises leaves nothing cached)."""
        body = self.get(key, fingerprint)
        if body is not None:
            return body
        with self._lock:
            entry = self._building.get(key)
            if entry is None:
                entry = self._building[key] = [threading.Lock(), 0]
            entry[1] += 1
        try:
            with entry[0]:
                body = self.get(key, fingerprint)  # built while this thread waited
                if body is None:
                    body = self.put(key, fingerprint, build())
        finally:
            with self._lock:
                entry[1] -= 1
                if not entry[1]:
                    del self._building[key]
        return body

    @property
    def building(self) -> int:
        """Pages being built or waited for right now."""
        with self._lock:
            return len(self._building)

    def get(self, key: tuple[Any, ...], fingerprint: tuple[Any, ...]) -> bytes | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] != fingerprint:
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: tuple[Any, ...], fingerprint: tuple[Any, ...], body: bytes) -> bytes:
        with self._lock:
            self._items[key] = (fingerprint, body)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return body
