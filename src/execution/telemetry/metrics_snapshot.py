"""What :class:`~src.execution.telemetry.metrics_def.ExecutionMetrics` holds, as plain data.

A snapshot is everything the execution metrics' next values depend on: every counter and
histogram series (value, bucket counts, sum, creation time), the label caps' admitted
values, the pair tracker's waiting intents and orders (in eviction order) and the open
orders. Restoring one into fresh metrics gives the same exposition and the same future as
the metrics it was taken from; the dashboard keeps one next to the logs so a restart does
not fold the logs again (:mod:`src.webui.metrics_state`). msgspec structs: encoded to
msgpack and decoded with their types checked.
"""

from __future__ import annotations

import msgspec

__all__ = ["MetricsSnapshot", "PendingEntry", "SeriesValue"]


class PendingEntry(msgspec.Struct, frozen=True, array_like=True):
    """An intent or order waiting for its partner (times as UTC microseconds)."""

    key: str
    mono_ns: int | None
    ts_us: int
    side: str | None
    price: float | None
    intent_mono_ns: int | None = None
    intent_ts_us: int | None = None


class SeriesValue(msgspec.Struct, frozen=True, array_like=True):
    """One series of a counter (``values``: its value) or a histogram (``values``: the
    count of each bucket, not cumulative, then the sum)."""

    labels: tuple[str, ...]
    values: list[float]
    created: float


class MetricsSnapshot(msgspec.Struct, frozen=True):
    series: dict[str, list[SeriesValue]]  # by metric name (METRICS' MetricDef.name)
    symbols: list[str]  # the symbol label cap's admitted values
    gates: list[str]
    intents: list[PendingEntry]  # oldest first
    orders: list[PendingEntry]
    evicted: int
    open_orders: list[str]  # client ids, oldest first
