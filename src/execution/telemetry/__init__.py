"""Telemetry sinks ("emitters") for execution events.

Public API (stable import path ``src.execution.telemetry``)::

    ExecutionEventEmitter   base interface: emit / flush / close, context manager
    NullEmitter             telemetry disabled
    JsonlExecutionLogger    one append-only JSONL file per session (default sink)
    CompositeEmitter        several sinks, each isolated from the others' failures
    QueuedEmitter           bounded queue + worker thread in front of a slow sink
    FilteringEmitter        keep only some kinds / severities
    RedisStreamEmitter      XADD to a Redis stream from a background thread (extra "scale")
    PrometheusEmitter       counters and latency / slippage histograms (extra "scale")
    build_emitter           build the configured sink from config/execution.toml

The two scale-out sinks import their libraries when instantiated, not on import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from src.execution.telemetry.base import (
    Emitter,
    EmitterStats,
    ExecutionEventEmitter,
    NullEmitter,
    Sink,
)
from src.execution.telemetry.composite import CompositeEmitter
from src.execution.telemetry.filtering import FilteringEmitter
from src.execution.telemetry.jsonl import JsonlExecutionLogger
from src.execution.telemetry.prometheus import PrometheusEmitter
from src.execution.telemetry.queued import QueuedEmitter
from src.execution.telemetry.redis_stream import RedisStreamEmitter

__all__ = [
    "CompositeEmitter",
    "Emitter",
    "EmitterStats",
    "ExecutionEventEmitter",
    "FilteringEmitter",
    "JsonlExecutionLogger",
    "NullEmitter",
    "PrometheusEmitter",
    "QueuedEmitter",
    "RedisStreamEmitter",
    "Sink",
    "build_emitter",
]


if TYPE_CHECKING:
    from src.execution.config import ExecutionConfig, TelemetryConfig


def build_emitter(
    config: TelemetryConfig | ExecutionConfig | None = None,
) -> ExecutionEventEmitter:
    """Build the sink described by a ``TelemetryConfig`` (default: ``config/execution.toml``)."""
    from src.execution.telemetry.factory import build_emitter as _build

    return _build(config)
