"""Per-session state the rules read: whole-session summary plus sliding windows.

* :class:`FileTracker` follows a session's log files through the query layer's
  :class:`~src.query.incremental.IncrementalSummary`: after the first scan only appended
  bytes are read, a line still being written waits for its newline, a file replaced by
  retention starts the tracker over.
* :class:`StreamTracker` is fed lines as they arrive from the Redis stream
  (:mod:`src.alerts.stream`) into the same builder.

Both give a :class:`SessionView` at an instant ``as_of``; ``until`` (``--as-of`` in the
past) ignores events after it, so a review of an incident sees what the engine would have.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, replace

from src.alerts.window import WindowedBuilder, WindowStats
from src.query.analytics.sorted_samples import SortedSamples
from src.query.analytics.summary_model import Summary
from src.query.incremental import IncrementalSummary
from src.query.records import ParseStats

__all__ = ["FileTracker", "SessionView", "StreamTracker"]


@dataclass(frozen=True)
class SessionView:
    """One session as the rules see it at ``as_of``."""

    session_id: str
    as_of: float
    summary: Summary
    window: WindowStats
    last_event_t: float | None
    # When the session last grew, by the clock of this machine (newest file mtime, or the
    # arrival of its last stream entry): replays and backtests log old event times.
    last_write_t: float | None
    # A logger on this machine holds the session's file open (None: cannot be known here).
    running: bool | None


def _until(until: float | None):  # -> Matcher | None
    if until is None:
        return None
    return lambda kind, symbol, t: t <= until


class FileTracker:
    """A session's log files, read incrementally."""

    def __init__(
        self,
        base: str | os.PathLike[str],
        session_id: str,
        horizon_s: float,
        *,
        until: float | None = None,
    ) -> None:
        self.session_id = session_id
        self.horizon_s = horizon_s
        self._floor = float("-inf")
        self._summary = IncrementalSummary(
            base,
            session_id,
            max_age_s=0.0,
            builder_factory=lambda: WindowedBuilder(horizon_s, floor=self._floor),
            match=_until(until),
            plain_too=True,  # the CLI resumes after the engine (not with --as-of: filtered)
        )

    def view(
        self, as_of: float, *, running: bool | None, last_write_t: float | None
    ) -> SessionView:
        # Windows end at as_of, which only moves forward: older events need no window work.
        self._floor = max(self._floor, as_of - self.horizon_s)
        builder = self._summary.builder
        assert isinstance(builder, WindowedBuilder)
        builder.window.floor = self._floor
        summary = self._summary.refresh(as_of=as_of)
        builder = self._summary.builder  # a new one if the files were replaced
        assert isinstance(builder, WindowedBuilder)
        builder.window.prune()
        last = builder.last_ts.timestamp() if builder.event_count else None
        return SessionView(
            self.session_id, as_of, summary, builder.window, last, last_write_t, running
        )


class StreamTracker:
    """A session fed line by line (from the stream's follower thread)."""

    def __init__(self, session_id: str, horizon_s: float) -> None:
        self.session_id = session_id
        self._builder = WindowedBuilder(horizon_s)
        self._sorted = SortedSamples()
        self._stats = ParseStats()
        self._stats.files = 1
        self._lock = threading.Lock()
        self._arrived: float | None = None

    def feed(self, lines: list[bytes], arrived: float) -> None:
        """Account for lines (each ending in a newline) that arrived at ``arrived``."""
        with self._lock:
            self._builder.consume(lines, self._stats)
            self._arrived = arrived

    def view(self, as_of: float, *, running: bool | None = None) -> SessionView:
        with self._lock:
            builder = self._builder
            builder.window.prune()
            summary = replace(
                builder.result(self._stats, as_of=as_of, keep=self._sorted),
                session_id=self.session_id,
            )
            last = builder.last_ts.timestamp() if builder.event_count else None
            # The window is read after the lock is released: copy what the rules need.
            window = _snapshot(builder.window)
            arrived = self._arrived
        return SessionView(self.session_id, as_of, summary, window, last, arrived, running)


def _snapshot(window: WindowStats) -> WindowStats:
    copy = WindowStats.__new__(WindowStats)
    copy.__dict__.update(window.__dict__)
    copy.events = window.events.copy()
    copy.errors = window.errors.copy()
    copy.intents = window.intents.copy()
    copy.orders = window.orders.copy()
    copy.rejects = window.rejects.copy()
    copy.gates = window.gates.copy()
    copy.latency = {leg: q.copy() for leg, q in window.latency.items()}
    return copy
