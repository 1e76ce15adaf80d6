"""Distribution summaries with one documented percentile method.

Percentiles use the nearest-rank method: the p-th percentile of n sorted values is the
value at rank ceil(p/100 * n) (1-based). It always returns an observed value, so an
operator can find the event behind a p95; p50 of [10, 20, 30, 40] is 20.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["distribution", "moments", "percentile"]


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None when empty)."""
    n = len(sorted_values)
    if n == 0:
        return None
    rank = max(1, math.ceil(p / 100 * n))
    return float(sorted_values[min(rank, n) - 1])


Moments = tuple[int, float | None, float | None, float | None, float | None, float | None]


def moments(values: Sequence[float], *, presorted: bool = False) -> Moments:
    """count, avg, p50, p95, p99, max of ``values`` (None but the count when empty).
    ``presorted``: ``values`` are already in ascending order."""
    ordered = values if presorted else sorted(values)
    n = len(ordered)
    return (
        n,
        sum(ordered) / n if n else None,
        percentile(ordered, 50),
        percentile(ordered, 95),
        percentile(ordered, 99),
        float(ordered[-1]) if n else None,
    )


def distribution(
    values: Sequence[float], unit: str, *, presorted: bool = False
) -> dict[str, float | None]:
    """:func:`moments` as a dict, keys suffixed with ``unit`` (``count``, ``avg_ms``, ...)."""
    n, avg, p50, p95, p99, top = moments(values, presorted=presorted)
    return {
        "count": n,
        f"avg_{unit}": avg,
        f"p50_{unit}": p50,
        f"p95_{unit}": p95,
        f"p99_{unit}": p99,
        f"max_{unit}": top,
    }
