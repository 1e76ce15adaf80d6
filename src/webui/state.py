"""Per-app state: incremental summaries (a bounded cache) and the live feed hub."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from src.query.incremental import IncrementalSummary
from src.webui.settings import WebSettings

__all__ = ["SummaryCache"]


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
