"""Per-app state: incremental summaries (a bounded cache) and the live feed hub."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from src.query.files import session_files
from src.query.filters import EventFilter
from src.query.head import LiveHead
from src.query.incremental import IncrementalSummary
from src.query.records import Record
from src.webui.settings import WebSettings

__all__ = ["HeadCache", "PageCache", "SummaryCache"]


class SummaryCache:
    """At most ``size`` sessions' incremental summaries, least recently used evicted."""

    def __init__(self, settings: WebSettings) -> None:
        self._settings = settings
        self._items: OrderedDict[str, IncrementalSummary] = OrderedDict()
        self._lock = threading.Lock()

    def summary(self, session_id: str) -> dict[str, Any]:
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
    """At most ``size`` live newest pages (session, kind, limit), least recently used
    evicted; rows are rendered by ``render``."""

    def __init__(self, settings: WebSettings, render: Callable[[Record], bytes], size: int = 64):
        self._base = settings.base_path
        self._render = render
        self._size = size
        self._items: OrderedDict[tuple[str, str | None, int], LiveHead[bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session_id: str, kind: str | None, limit: int) -> LiveHead[bytes]:
        key = (session_id, kind, limit)
        with self._lock:
            head = self._items.get(key)
            if head is None:
                flt = EventFilter.build(session_id=session_id, kind=kind)
                head = self._items[key] = LiveHead(self._base, flt, limit, self._render)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return head


class PageCache:
    """Encoded API pages, valid while the session's files are unchanged (and for at most
    the current second, so open-order ages stay fresh). Clients watching one session all
    ask for the same page; this serves them without re-reading and re-encoding it.

    On a growing session every append makes the page stale for all of them at once; one
    request (per page) builds the new one while the others with the same fingerprint wait
    for it, instead of all building the same page side by side."""

    def __init__(self, settings: WebSettings, size: int = 256) -> None:
        self._base = settings.base_path
        self._size = size
        self._items: OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[tuple[Any, ...], threading.Lock] = {}

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
            building = self._building.setdefault(key, threading.Lock())
        with building:
            body = self.get(key, fingerprint)  # built while this thread waited
            if body is None:
                body = self.put(key, fingerprint, build())
        with self._lock:
            if not building.locked() and self._building.get(key) is building:
                del self._building[key]
        return body

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
