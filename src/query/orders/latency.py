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

__all__ = ["Mark", "between_ms", "same_producer"]

# When an event happened: (ts, mono_ns as logged, event_id as logged).
Mark = tuple[datetime, Scalar, Scalar]

_MS = timedelta(milliseconds=1)


def same_producer(a: Scalar, b: Scalar) -> bool:
    """False only when both event ids name their process and the processes differ."""
    if a.__class__ is not str or b.__class__ is not str:
        return True
    pa, sa, _ = str(a).rpartition("-")
    pb, sb, _ = str(b).rpartition("-")
    return not (sa and sb) or pa == pb


def between_ms(earlier: Mark | None, later: Mark | None) -> float | None:
    """Milliseconds from ``earlier`` to ``later`` (None when either is missing or the
    difference is negative)."""
    if earlier is None or later is None:
        return None
    t1, m1, e1 = earlier
    t2, m2, e2 = later
    if m1.__class__ is int and m2.__class__ is int and same_producer(e1, e2):
        assert isinstance(m1, int) and isinstance(m2, int)
        if m2 >= m1:
            return (m2 - m1) / 1e6
    delta: float = (t2 - t1) / _MS  # exact to the microsecond
    return delta if delta >= 0 else None
