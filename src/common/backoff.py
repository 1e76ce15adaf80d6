"""Exponential back-off: ``initial``, doubling, capped at ``maximum``.

:func:`doubling_delays` is the fixed schedule (alert delivery's waits between attempts);
:class:`Backoff` adds jitter for reconnect loops, so many clients that lost the same server
do not all come back in the same instant.
"""

from __future__ import annotations

import random

__all__ = ["Backoff", "ceiling", "doubling_delays"]


def ceiling(initial: float, maximum: float, failures: int) -> float:
    """The wait after ``failures`` (>= 1) failures before jitter: initial * 2**(n-1), capped."""
    return min(maximum, initial * 2.0 ** min(max(failures, 1) - 1, 60))


def doubling_delays(initial: float, maximum: float, count: int) -> list[float]:
    """``count`` waits: initial, doubling, capped at ``maximum`` (no jitter)."""
    return [ceiling(initial, maximum, n + 1) for n in range(max(count, 0))]


class Backoff:
    """Exponential back-off with jitter: ``initial``, doubling up to ``maximum`` seconds;
    each wait is drawn from the upper half of its ceiling."""

    def __init__(self, initial: float = 0.05, maximum: float = 5.0) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError(f"invalid back-off {initial!r}..{maximum!r}: need 0 < initial <= max")
        self.initial = initial
        self.maximum = maximum
        self.failures = 0

    def next_delay(self) -> float:
        """Count a failure and return how long to wait before the next attempt."""
        self.failures += 1
        top = ceiling(self.initial, self.maximum, self.failures)
        return random.uniform(top / 2, top)

    def reset(self) -> int:
        """Forget the failures (the server answered again); return how many there were."""
        failures, self.failures = self.failures, 0
        return failures
