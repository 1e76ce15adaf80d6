"""Replay logged events into any emitter, in order, as fast as possible or paced.

The target is any :class:`~src.execution.telemetry.ExecutionEventEmitter`: a
``JsonlExecutionLogger`` on another directory (or on the directory a dashboard watches,
which is how a replay shows up on its live feed), the configured sink chain, a Redis
stream sink, a test's ``InMemoryEmitter``. Events are read through the query layer
(same filters as everywhere) and rebuilt as :class:`ExecutionEvent` objects, so the sink
sees what the pipeline would have handed it, with one difference: each replayed event is a
new event with its own ``event_id``, the original's kept in ``payload["origin_event_id"]``
(:func:`~src.execution.events.copy_of`). Otherwise a collector or any reader that drops
duplicates by id would drop the whole replay while the original is in its archive.

Pacing: with ``speed`` the gap between two events' timestamps is waited out divided by
``speed`` (``speed=1`` is real time, ``10`` ten times faster); waits are measured from the
start of the replay, so sleeping late never accumulates drift. ``max_gap_s`` caps a single
wait (a session idle overnight need not be idle in the replay). Backward timestamp steps
wait nothing. Without ``speed`` events go as fast as the sink takes them; every
``flush_every`` events the sink is flushed, which lets a queued sink drain instead of
dropping events.
"""

from __future__ import annotations

import dataclasses
import heapq
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from src.execution.events import ExecutionEvent, copy_of
from src.execution.ids import new_id
from src.query.engine import BytesProgressFn, matching_events, select_sessions
from src.query.filters import EventFilter
from src.query.records import ParseStats, Record

__all__ = ["Pacer", "ReplayStats", "replay", "replay_events"]


@dataclass
class ReplayStats:
    """What a replay did: events handed to the sink, events it could not rebuild, waits."""

    replayed: int = 0
    skipped: int = 0
    skip_reasons: Counter[str] = field(default_factory=Counter)
    waited_s: float = 0.0
    sink_errors: int = 0
    sink_dropped: int = 0
    parse: ParseStats = field(default_factory=ParseStats)


class Pacer:
    """Waits so that events leave at their logged spacing divided by ``speed``."""

    def __init__(
        self,
        speed: float | None,
        *,
        max_gap_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if speed is not None and not speed > 0:
            raise ValueError(f"invalid speed {speed!r}: must be > 0")
        self.speed = speed
        self.max_gap_s = max_gap_s
        self.clock = clock
        self.sleep = sleep
        self._start: float | None = None
        self._prev_t = 0.0
        self._due = 0.0  # seconds after the start at which the current event is due
        self.waited_s = 0.0

    def wait(self, t: float) -> None:
        """Block until the event logged at ``t`` (POSIX seconds) is due."""
        if self.speed is None:
            return
        if self._start is None:
            self._start, self._prev_t = self.clock(), t
            return
        gap = max(0.0, t - self._prev_t)
        if self.max_gap_s is not None:
            gap = min(gap, self.max_gap_s)
        self._prev_t = max(self._prev_t, t)
        self._due += gap / self.speed
        remaining = self._start + self._due - self.clock()
        if remaining > 0:
            self.sleep(remaining)
            self.waited_s += remaining


def _rebuild(
    rec: Record, session_id: str | None, event_id: str
) -> tuple[ExecutionEvent | None, str]:
    try:
        event = ExecutionEvent.from_dict(rec.data)
    except KeyError as exc:
        return None, f"missing {exc.args[0]}"
    except (TypeError, ValueError, OverflowError) as exc:
        return None, str(exc).split(":")[0]
    if session_id is not None:
        return copy_of(event, event_id, session_id=session_id), ""
    return copy_of(event, event_id), ""


def replay_events(
    base: str | os.PathLike[str],
    flt: EventFilter,
    stats: ParseStats | None = None,
    progress: BytesProgressFn | None = None,
) -> Iterator[Record]:
    """Matching records in replay order: each session in log order, sessions merged by time."""
    streams = [
        (
            rec
            for _, rec in matching_events(
                base, dataclasses.replace(flt, session_id=s.session_id), stats, progress
            )
        )
        for s in select_sessions(base, flt)
    ]
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, key=lambda r: r.t)


def replay(
    base: str | os.PathLike[str],
    flt: EventFilter,
    emitter: Any,
    *,
    speed: float | None = None,
    max_gap_s: float | None = None,
    session_id: str | None = None,
    restamp: bool = False,
    flush_every: int = 1000,
    flush_timeout_s: float = 60.0,
    progress: BytesProgressFn | None = None,
    pacer: Pacer | None = None,
    on_event: Callable[[ExecutionEvent], None] | None = None,
) -> ReplayStats:
    """Emit every event ``flt`` selects under ``base`` into ``emitter``; returns the counts.

    ``session_id`` renames the replayed session; ``restamp`` gives each event the time it is
    replayed at (for alert rules that look at "now"). ``flush_every`` should not exceed the
    capacity of a queue inside the sink, or a full-speed replay outruns it and the queue
    drops. The emitter is flushed, not closed.
    """
    stats = ReplayStats()
    pacer = pacer or Pacer(speed, max_gap_s=max_gap_s)
    sink_stats = getattr(emitter, "stats", None)
    errors0 = getattr(sink_stats, "errors", 0)
    dropped0 = getattr(sink_stats, "dropped", 0)
    since_flush = 0
    # This run's event ids share a prefix of their own: a sink that writes back into the
    # files being read (the same root, directly or through a collector) hands the replay its
    # own output, which is skipped; otherwise it would be replayed again, without end.
    run = new_id("rpl") + "-"
    ours = 0
    for rec in replay_events(base, flt, stats.parse, progress):
        origin = rec.data.get("event_id")
        if origin.__class__ is str and origin.startswith(run):
            continue
        ours += 1
        event, reason = _rebuild(rec, session_id, f"{run}{ours:x}")
        if event is None:
            stats.skipped += 1
            stats.skip_reasons[reason] += 1
            continue
        pacer.wait(rec.t)
        if restamp:
            event = msgspec.structs.replace(
                event, ts=datetime.now(UTC), mono_ns=time.monotonic_ns()
            )
        emitter.emit(event)
        stats.replayed += 1
        if on_event is not None:
            on_event(event)
        since_flush += 1
        if since_flush >= flush_every:
            emitter.flush(flush_timeout_s)
            since_flush = 0
    emitter.flush(flush_timeout_s)
    stats.waited_s = pacer.waited_s
    stats.sink_errors = getattr(sink_stats, "errors", 0) - errors0
    stats.sink_dropped = getattr(sink_stats, "dropped", 0) - dropped0
    return stats
