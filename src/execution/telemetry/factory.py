"""Build the configured sink from a :class:`~src.execution.config.TelemetryConfig`.

Backends register a builder by name, so optional ones (Redis, Prometheus) plug in
without this module importing their libraries.
"""

from __future__ import annotations

from collections.abc import Callable

from src.execution.config import ConfigError, ExecutionConfig, TelemetryConfig, load_config
from src.execution.events import KINDS
from src.execution.telemetry.base import ExecutionEventEmitter, NullEmitter
from src.execution.telemetry.composite import CompositeEmitter
from src.execution.telemetry.filtering import FilteringEmitter
from src.execution.telemetry.jsonl import JsonlExecutionLogger
from src.execution.telemetry.queued import QueuedEmitter

__all__ = ["BACKENDS", "build_emitter", "register_backend"]

BackendBuilder = Callable[[TelemetryConfig], ExecutionEventEmitter]


def _jsonl(config: TelemetryConfig) -> ExecutionEventEmitter:
    return JsonlExecutionLogger(
        config.base_path,
        fsync=config.fsync,  # type: ignore[arg-type]
        fsync_interval=config.fsync_interval_s,
        rotation=config.rotation,  # type: ignore[arg-type]
        heartbeat_interval=config.heartbeat_interval_s,
    )


BACKENDS: dict[str, BackendBuilder] = {
    "jsonl": _jsonl,
    "null": lambda config: NullEmitter(),
}


def register_backend(name: str, builder: BackendBuilder) -> None:
    """Make ``backend = "<name>"`` in the config build a sink with ``builder(config)``."""
    BACKENDS[name] = builder


# The scale-out backends import their libraries (redis, prometheus_client) only when built.
def _redis(config: TelemetryConfig) -> ExecutionEventEmitter:
    from src.execution.telemetry.redis_stream import RedisStreamEmitter

    return RedisStreamEmitter.from_config(config.redis)


def _prometheus(config: TelemetryConfig) -> ExecutionEventEmitter:
    from src.execution.telemetry.prometheus import PrometheusEmitter

    return PrometheusEmitter.from_config(config.prometheus)


register_backend("redis", _redis)
register_backend("prometheus", _prometheus)


def build_emitter(config: TelemetryConfig | ExecutionConfig | None = None) -> ExecutionEventEmitter:
    """Return the sink the config asks for (``NullEmitter`` when telemetry is disabled)."""
    if config is None:
        config = load_config()
    if isinstance(config, ExecutionConfig):
        config = config.telemetry
    if not config.enabled:
        return NullEmitter()
    for name in config.backend:
        if name not in BACKENDS:
            raise ConfigError(
                f"invalid value for execution.telemetry.backend: {name!r} "
                f"(expected one of {', '.join(sorted(BACKENDS))})"
            )
    if len(set(config.backend)) != len(config.backend):
        raise ConfigError(
            f"invalid value for execution.telemetry.backend: {list(config.backend)!r} "
            "(a backend is listed twice)"
        )
    sinks = [BACKENDS[name](config) for name in config.backend]
    emitter: ExecutionEventEmitter
    if not sinks:
        emitter = NullEmitter()
    elif len(sinks) == 1:
        emitter = sinks[0]
    else:
        emitter = CompositeEmitter(sinks)
    if config.queue_size > 0:
        emitter = QueuedEmitter(emitter, maxsize=config.queue_size)
    filters = config.filters
    if set(filters.include_kinds) != set(KINDS) or filters.min_severity != "debug":
        emitter = FilteringEmitter(
            emitter, include_kinds=filters.include_kinds, min_severity=filters.min_severity
        )
    return emitter


def describe(emitter: object) -> str:
    """One line naming the sink chain, for start-up messages."""
    namer = getattr(emitter, "_name", None)
    return str(namer()) if callable(namer) else type(emitter).__name__
