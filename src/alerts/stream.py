"""The Redis stream as the engine's source (``telemetry-alerts run --redis``).

A :func:`~src.streaming.follow.follow_stream` follower (plain ``XREAD``: it disturbs neither
the collector nor other followers) runs in a thread and feeds each entry's JSONL line into
that session's :class:`~src.alerts.tracker.StreamTracker`. It starts ``horizon_s`` seconds
back (stream ids begin with the entry's time in milliseconds), so the windows are full from
the first evaluation after a restart, and keeps its place across Redis outages.

Whole-session numbers (fill rate, open orders) cover what the follower has seen since it
started. Stream entries carry no writer lock, so the stall rule treats a session as running
while it has logged within ``active_within_s`` (``active = "recent"``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from src.alerts.sources import describe_failure
from src.alerts.tracker import SessionView, StreamTracker
from src.execution.telemetry.redis_common import DEFAULT_STREAM

__all__ = ["StreamSource"]

log = logging.getLogger("src.alerts.stream")


class StreamSource:
    def __init__(
        self,
        url: str,
        *,
        stream: str = DEFAULT_STREAM,
        horizon_s: float,
        active_within_s: float,
        clock: Callable[[], float] = time.time,
        block_ms: int = 1000,
    ) -> None:
        from src.streaming.follow import follow_stream

        self.horizon_s = horizon_s
        self.active_within_s = active_within_s
        self.clock = clock
        self.entries = 0
        self.error: BaseException | None = None
        self._trackers: dict[str, StreamTracker] = {}
        # Sessions that could not be fed or judged, with why (the engine reports them).
        self.failed: dict[str, str] = {}
        self.failed_feeds: dict[str, str] = {}
        self._lock = threading.Lock()
        start = f"{max(0, int((clock() - horizon_s) * 1000))}-0"
        self._follower = follow_stream(url, stream=stream, last_id=start, block_ms=block_ms)
        self._thread = threading.Thread(target=self._consume, name="alerts-stream", daemon=True)
        self._thread.start()

    def _consume(self) -> None:
        try:
            for entry in self._follower:
                sid = entry.event.session_id
                with self._lock:
                    tracker = self._trackers.get(sid)
                    if tracker is None:
                        tracker = self._trackers[sid] = StreamTracker(sid, self.horizon_s)
                line = entry.line if entry.line.endswith(b"\n") else entry.line + b"\n"
                try:
                    tracker.feed([line], arrived=self.clock())
                except Exception as exc:  # this session only; views() reports it
                    with self._lock:
                        self.failed_feeds[sid] = describe_failure(exc)
                    log.exception("feeding session %s failed; other sessions go on", sid)
                self.entries += 1
        except Exception as exc:  # reported by views(); the engine logs it every evaluation
            self.error = exc
            log.exception("following the stream failed")

    def views(self, as_of: float, session: str | None = None) -> tuple[list[SessionView], set[str]]:
        if self.error is not None:
            raise RuntimeError(f"the stream follower stopped: {self.error}")
        with self._lock:
            trackers = list(self._trackers.items())
            self.failed, self.failed_feeds = self.failed_feeds, {}
        since = as_of - self.active_within_s
        views: list[SessionView] = []
        seen: set[str] = set()
        for sid, tracker in trackers:
            if session is not None and sid != session:
                continue
            seen.add(sid)
            try:
                view = tracker.view(as_of)
            except Exception as exc:  # reported; the other sessions go on
                self.failed[sid] = describe_failure(exc)
                log.exception("judging session %s failed; other sessions go on", sid)
                continue
            last = max(
                (t for t in (view.last_event_t, view.last_write_t) if t is not None),
                default=None,
            )
            if last is None or last < since:
                with self._lock:
                    self._trackers.pop(sid, None)
                continue
            views.append(view)
        return views, seen

    def close(self) -> None:
        self._follower.close()
        self._thread.join(timeout=5.0)
