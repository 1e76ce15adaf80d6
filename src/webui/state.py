"""Per-app state: incremental summaries (a bounded cache) and the live feed hub."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from src.query.files import session_files
from src.query.incremental import IncrementalSummary
from src.webui.settings import WebSettings

__all__ = ["PageCache", "SummaryCache"]


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


class PageCache:
    """Encoded API pages, valid while the session's files are unchanged (and for at most
    the current second, so open-order ages stay fresh). Clients watching one session all
    ask for the same page; this serves them without re-reading and re-encoding it."""

    def __init__(self, settings: WebSettings, size: int = 256) -> None:
        self._base = settings.base_path
        self._size = size
        self._items: OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], bytes]] = OrderedDict()
        self._lock = threading.Lock()

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
