"""The time between two events of an order, by the one rule every latency reader uses
(:func:`src.query.intervals.interval_ms`, as the summary's pairing): ``mono_ns`` when
both events carry it and come from the same producer (by the event id's process prefix),
else ``ts``; a negative difference is no latency (None)."""

from __future__ import annotations

from datetime import datetime

from src.query.intervals import interval_ms, producer_of
from src.query.records import Scalar

__all__ = ["Mark", "between_ms", "mark_of", "producer_of"]

# When an event happened: (ts, mono_ns as logged, event id as logged).
Mark = tuple[datetime, Scalar, Scalar]


def mark_of(ts: datetime, mono_ns: Scalar, event_id: Scalar) -> Mark:
    return (ts, mono_ns, event_id)


def between_ms(earlier: Mark | None, later: Mark | None) -> float | None:
    """Milliseconds from ``earlier`` to ``later`` (None when either is missing or the
    difference is negative)."""
    if earlier is None or later is None:
        return None
    return interval_ms(*earlier, *later)
