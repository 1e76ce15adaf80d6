"""Distribution summaries with one documented percentile method.

Percentiles use the nearest-rank method: the p-th percentile of n sorted values is the
value at rank ceil(p/100 * n) (1-based). It always returns an observed value, so an
operator can find the event behind a p95; p50 of [10, 20, 30, 40] is 20.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["distribution", "percentile"]


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None when empty)."""
    n = len(sorted_values)
    if n == 0:
        return None
    rank = max(1, math.ceil(p / 100 * n))
    return float(sorted_values[min(rank, n) - 1])


def distribution(values: Sequence[float], unit: str, *, presorted: bool = False) -> dict[str, Any]:
    """count, avg, p50, p95, p99, max (keys suffixed with ``unit``, e.g. ``avg_ms``).
    ``presorted``: ``values`` are already in ascending order."""
    ordered = values if presorted else sorted(values)
    n = len(ordered)
    out: dict[str, Any] = {"count": n}
    out[f"avg_{unit}"] = sum(ordered) / n if n else None
    out[f"p50_{unit}"] = percentile(ordered, 50)
    out[f"p95_{unit}"] = percentile(ordered, 95)
    out[f"p99_{unit}"] = percentile(ordered, 99)
    out[f"max_{unit}"] = float(ordered[-1]) if n else None
    return out
