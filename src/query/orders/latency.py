"""The time between two events of an order, by the rule the latency analytics use.

The difference of the events' ``mono_ns`` readings when both carry one and the later is
not smaller (immune to wall-clock steps), else of their ``ts``
(:class:`~src.query.analytics.pairing.Pairer` measures its latencies the same way); a
negative difference is no latency (None). One more condition here: the two readings must
come from the same producer, since monotonic clocks of two processes (a replay, an
importer, a venue adapter) share no origin. Our event ids are ``evt-<process prefix>-<n>``
(:mod:`src.execution.ids`): two ids with different prefixes are two producers; when
either event has no such id, the readings are trusted as the analytics trust them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from src.query.records import Scalar

__all__ = ["Mark", "between_ms", "mark_of", "producer_of"]

# When an event happened: (ts, mono_ns as logged, its producer: see producer_of).
Mark = tuple[datetime, Scalar, str | None]

_MS = timedelta(milliseconds=1)


def producer_of(event_id: Scalar) -> str | None:
    """The process part of an event id (``evt-3fa2c9d01b7e`` of ``evt-3fa2c9d01b7e-1a``),
    None when the id names none."""
    if event_id.__class__ is not str:
        return None
    head, sep, _ = str(event_id).rpartition("-")
    return head if sep and head else None


def mark_of(ts: datetime, mono_ns: Scalar, event_id: Scalar) -> Mark:
    return (ts, mono_ns, producer_of(event_id) if mono_ns.__class__ is int else None)


def between_ms(earlier: Mark | None, later: Mark | None) -> float | None:
    """Milliseconds from ``earlier`` to ``later`` (None when either is missing or the
    difference is negative)."""
    if earlier is None or later is None:
        return None
    t1, m1, p1 = earlier
    t2, m2, p2 = later
    same = p1 is None or p2 is None or p1 == p2
    if type(m1) is int and type(m2) is int and m2 >= m1 and same:
        return (m2 - m1) / 1e6
    delta: float = (t2 - t1) / _MS  # exact to the microsecond
    return delta if delta >= 0 else None
