"""The time between two events: one rule for every reader that measures a latency (the
summary's pairing, :mod:`src.query.analytics.pairing`, and the order blotter,
:mod:`src.query.orders`).

The difference of the events' ``mono_ns`` readings when both carry one (an int), the later
is not smaller, and both come from the same producer; else the difference of their ``ts``
(exact to the microsecond). A negative difference is no latency (None).

Why "the same producer": monotonic clocks of two processes share no origin once they run
on two hosts or a host rebooted (a replay, an importer, a venue adapter, a restart), and a
difference of two such readings is any number at all, where the wall clocks of two hosts
differ by their (small) offset. Our event ids are ``evt-<process prefix>-<n>``
(:mod:`src.execution.ids`; the prefix is re-drawn per process): two ids with different
prefixes are two producers. When either event has no such id (older logs, other
writers), the readings are trusted.

:func:`interval_ms` takes the two event ids; :func:`interval_ms_of` takes their
:func:`producer_of` instead, for a reader that keeps an event to measure from several
later ones (the summary's pairing keeps an intent and an order): the id is then cut once
per event, not once per latency. The pairing inlines the rule's common case (one
producer's readings) for speed; tests/query/test_intervals.py checks it on every case.
"""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["interval_ms", "interval_ms_of", "producer_of", "same_producer"]

_MS = timedelta(milliseconds=1)


def producer_of(event_id: object) -> str | None:
    """The process part of an event id (``evt-3fa2c9d01b7e`` of ``evt-3fa2c9d01b7e-1a``),
    None when the id names none."""
    if event_id.__class__ is not str:
        return None
    # One C call (rpartition), not rfind and a slice: the pairing calls this per event.
    return event_id.rpartition("-")[0] or None


def same_producer(first: object, second: object) -> bool:
    """May the ``mono_ns`` readings of events with these ids be compared: the same
    producer, or either id names none (see the module's rule)."""
    if type(first) is not str or type(second) is not str:
        return True
    i = first.rfind("-")
    if i <= 0:
        return True
    j = second.rfind("-")
    if j <= 0:
        return True
    return i == j and first[:i] == second[:j]


def interval_ms(
    t1: datetime,
    m1: object,
    id1: object,
    t2: datetime,
    m2: object,
    id2: object,
) -> float | None:
    """Milliseconds from the event at (``t1``, ``m1`` its mono_ns, ``id1`` its event id) to
    the event at (``t2``, ``m2``, ``id2``), by the module's rule; None when negative."""
    # ``__class__ is`` (not type(), a call; not isinstance, which takes bools): the
    # blotter calls this for every latency of every order, and same_producer is inlined
    # for the same reason.
    if m1.__class__ is int and m2.__class__ is int and m2 >= m1:
        if id1.__class__ is str and id2.__class__ is str:
            head = id1.rpartition("-")[0]  # producer_of(id1) or ""
            if head:
                other = id2.rpartition("-")[0]
                if other and other != head:
                    return _ts_ms(t1, t2)  # two producers
        return (m2 - m1) / 1e6
    return _ts_ms(t1, t2)


def interval_ms_of(
    t1: datetime,
    m1: object,
    producer1: str | None,
    t2: datetime,
    m2: object,
    producer2: str | None,
) -> float | None:
    """:func:`interval_ms` of two events given by their :func:`producer_of` (not their
    ids): the same rule, the same result."""
    if (
        m1.__class__ is int
        and m2.__class__ is int
        and m2 >= m1
        and (producer1 is None or producer2 is None or producer1 == producer2)
    ):
        return (m2 - m1) / 1e6
    return _ts_ms(t1, t2)


def _ts_ms(t1: datetime, t2: datetime) -> float | None:
    delta: float = (t2 - t1) / _MS
    return delta if delta >= 0 else None
