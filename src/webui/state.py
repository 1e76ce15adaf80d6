"""Per-app state: incremental summaries (a bounded cache) and the live feed hub."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import orjson

from src.query.analytics.summary_model import Summary
from src.query.filters import EventFilter
from src.query.head import LiveHead
from src.query.incremental import IncrementalSummary
from src.query.paging import page_back
from src.query.records import Record
from src.query.timeline import ExecutionTimelineRow, row_from_record
from src.webui.settings import WebSettings

__all__ = ["HeadCache", "SummaryCache", "TimelineRow", "render_row"]

# A timeline row and its JSON (the API's encoding), rendered once per event and page.
TimelineRow = tuple[ExecutionTimelineRow, bytes]


def render_row(rec: Record) -> TimelineRow:
    row = row_from_record(rec)
    return row, orjson.dumps(row.to_dict(), default=str, option=orjson.OPT_NON_STR_KEYS)


class SummaryCache:
    """At most ``size`` sessions' incremental summaries, least recently used evicted."""

    def __init__(self, settings: WebSettings) -> None:
        self._settings = settings
        self._items: OrderedDict[str, IncrementalSummary] = OrderedDict()
        self._lock = threading.Lock()

    def summary(self, session_id: str) -> Summary:
        return self.get(session_id).refresh()

    def get(self, session_id: str) -> IncrementalSummary:
        with self._lock:
            item = self._items.get(session_id)
            if item is None:
                item = IncrementalSummary(
                    self._settings.base_path,
                    session_id,
                    max_age_s=self._settings.summary_max_age_s,
                )
                self._items[session_id] = item
            self._items.move_to_end(session_id)
            while len(self._items) > self._settings.max_cached_sessions:
                self._items.popitem(last=False)
        return item


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
