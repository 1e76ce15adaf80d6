"""Timestamp health in file (append) order: backward steps and long silences, per session.

Steps are measured in float POSIX seconds. The scan loop keeps each session's last
instant as a datetime and calls :meth:`TimestampHealth.step` only for a step outside
``[0, window]`` (:func:`fast_window`), which is exact for instants between 1697 and 2242:
there float seconds order distinct microseconds strictly and are within 2 µs of exact,
so a step inside the window can be neither backward nor over the threshold. A read with
instants outside that range (:func:`in_exact_range`) is redone with every step checked.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from datetime import UTC, datetime, timedelta
from typing import Any

from src.query.analytics.summary_model import GapReport, TimestampReport

__all__ = [
    "DEFAULT_GAP_THRESHOLD_S",
    "TimestampHealth",
    "fast_window",
    "in_exact_range",
]

DEFAULT_GAP_THRESHOLD_S = 60.0
_GAP_LIST_MAX = 10
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RANGE = timedelta(seconds=2**33)
_SAFE_MIN, _SAFE_MAX = _EPOCH - _RANGE, _EPOCH + _RANGE
_MARGIN = timedelta(milliseconds=1)
ALWAYS = timedelta.min  # a window that sends every step to the exact check


def fast_window(gap_threshold_s: float, *, exact: bool = False) -> timedelta:
    """The largest step (as a timedelta) that is certainly neither backward nor a gap."""
    if exact or gap_threshold_s < 0.01:
        return ALWAYS
    if math.isnan(gap_threshold_s) or gap_threshold_s > 1e13:
        return timedelta.max  # no float step can exceed it
    return timedelta(seconds=gap_threshold_s) - _MARGIN


def in_exact_range(first: datetime, last: datetime) -> bool:
    """True when instants from ``first`` to ``last`` may take the fast step check."""
    return first >= _SAFE_MIN and last < _SAFE_MAX


class TimestampHealth:
    def __init__(self, gap_threshold_s: float = DEFAULT_GAP_THRESHOLD_S) -> None:
        self.gap_threshold_s = gap_threshold_s
        self.first: dict[Any, datetime] = {}  # per session: first instant of this part
        self.last: dict[Any, datetime] = {}  # per session: last instant so far
        self.non_monotonic_steps = 0
        self.max_backward_jump_s = 0.0
        self.gaps = 0
        self.max_gap_s = 0.0
        self.largest_gaps: list[tuple[float, float, Any]] = []

    @property
    def sessions(self) -> list[Hashable]:
        return list(self.last)

    def add(self, session_id: Hashable, ts: datetime) -> None:
        """Account for one instant (the simple path; the scan loop inlines this)."""
        previous = self.last.get(session_id)
        self.last[session_id] = ts
        if previous is None:
            self.first[session_id] = ts
        else:
            self.step(session_id, previous, ts)

    def step(self, session_id: Hashable, previous: datetime, ts: datetime) -> None:
        """Account for the step from ``previous`` to ``ts`` in float seconds."""
        before = previous.timestamp()
        step = ts.timestamp() - before
        if step < 0:
            self.non_monotonic_steps += 1
            if -step > self.max_backward_jump_s:
                self.max_backward_jump_s = -step
        elif step > self.gap_threshold_s:
            self.gaps += 1
            if step > self.max_gap_s:
                self.max_gap_s = step
            self.largest_gaps.append((step, before, session_id))
            if len(self.largest_gaps) > 4 * _GAP_LIST_MAX:
                self.largest_gaps.sort(reverse=True)
                del self.largest_gaps[_GAP_LIST_MAX:]

    def absorb(self, later: TimestampHealth) -> None:
        """Add the health of the part of the read that follows this one."""
        for session_id, first in later.first.items():
            previous = self.last.get(session_id)
            if previous is None:
                self.first[session_id] = first
            else:
                self.step(session_id, previous, first)
        self.last.update(later.last)
        self.non_monotonic_steps += later.non_monotonic_steps
        self.max_backward_jump_s = max(self.max_backward_jump_s, later.max_backward_jump_s)
        self.gaps += later.gaps
        self.max_gap_s = max(self.max_gap_s, later.max_gap_s)
        self.largest_gaps.extend(later.largest_gaps)
        self.largest_gaps.sort(reverse=True)
        del self.largest_gaps[_GAP_LIST_MAX:]

    def result(self) -> TimestampReport:
        top = sorted(self.largest_gaps, reverse=True)[:_GAP_LIST_MAX]
        return TimestampReport(
            non_monotonic_steps=self.non_monotonic_steps,
            max_backward_jump_s=self.max_backward_jump_s,
            gap_threshold_s=self.gap_threshold_s,
            gaps_over_threshold=self.gaps,
            max_gap_s=self.max_gap_s,
            largest_gaps=[
                GapReport(datetime.fromtimestamp(after, UTC).isoformat(), seconds, sid)
                for seconds, after, sid in top
            ],
        )
