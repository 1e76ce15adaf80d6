"""Timestamp health in file (append) order: backward steps and long silences, per session."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["DEFAULT_GAP_THRESHOLD_S", "TimestampHealth"]

DEFAULT_GAP_THRESHOLD_S = 60.0
_GAP_LIST_MAX = 10


class TimestampHealth:
    def __init__(self, gap_threshold_s: float = DEFAULT_GAP_THRESHOLD_S) -> None:
        self.gap_threshold_s = gap_threshold_s
        self._last: dict[Any, float] = {}
        self.non_monotonic_steps = 0
        self.max_backward_jump_s = 0.0
        self.gaps = 0
        self.max_gap_s = 0.0
        self.largest_gaps: list[tuple[float, float, Any]] = []

    def add(self, session_id: Any, t: float) -> None:
        previous = self._last.get(session_id)
        self._last[session_id] = t
        if previous is None:
            return
        step = t - previous
        if step < 0:
            self.non_monotonic_steps += 1
            if -step > self.max_backward_jump_s:
                self.max_backward_jump_s = -step
        elif step > self.gap_threshold_s:
            self.gaps += 1
            if step > self.max_gap_s:
                self.max_gap_s = step
            self.largest_gaps.append((step, previous, session_id))
            if len(self.largest_gaps) > 4 * _GAP_LIST_MAX:
                self.largest_gaps.sort(reverse=True)
                del self.largest_gaps[_GAP_LIST_MAX:]

    def result(self) -> dict[str, Any]:
        top = sorted(self.largest_gaps, reverse=True)[:_GAP_LIST_MAX]
        return {
            "non_monotonic_steps": self.non_monotonic_steps,
            "max_backward_jump_s": self.max_backward_jump_s,
            "gap_threshold_s": self.gap_threshold_s,
            "gaps_over_threshold": self.gaps,
            "max_gap_s": self.max_gap_s,
            "largest_gaps": [
                {
                    "after": datetime.fromtimestamp(after, UTC).isoformat(),
                    "seconds": seconds,
                    "session_id": sid,
                }
                for seconds, after, sid in top
            ],
        }
