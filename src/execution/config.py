"""``config/execution.toml`` loaded once into frozen dataclasses: the trading process's part.

This module owns ``[execution]``, ``[execution.paper]``, ``[execution.gates]`` and
``[execution.telemetry]`` with its ``filters`` and the emitters' ``redis`` and ``prometheus``
tables. The tools' sections in the same file belong to their packages and are loaded there:
``[execution.alerts]`` (:mod:`src.alerts.config`), ``[execution.telemetry.retention]``
(:mod:`src.ops.retention.config`), ``[execution.telemetry.health]``
(:mod:`src.ops.health.config`) and ``[execution.telemetry.collector]``
(:mod:`src.streaming.config`).

Precedence: explicit overrides (CLI) > environment > file > defaults. Environment variables
are named after the dotted key: ``execution.telemetry.base_path`` is
``EXECUTION_TELEMETRY_BASE_PATH``; lists are comma-separated. A bad key or value fails at
start-up with one line naming the key and the value (:class:`ConfigError`). The loader is
:mod:`src.common.config`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from src.common.config import (
    CONFIG_ENV_VAR,
    DEFAULT_CONFIG_PATH,
    ROOT_TABLES,
    ConfigError,
    ConfigFile,
    load_section,
    read_config_file,
)
from src.execution.events import KINDS, MODES, SEVERITIES

__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_CONFIG_PATH",
    "TOOL_SECTIONS",
    "ConfigError",
    "ExecutionConfig",
    "GateConfig",
    "PaperConfig",
    "PrometheusConfig",
    "RedisConfig",
    "TelemetryConfig",
    "TelemetryFilters",
    "load_config",
]

# Tables of config/execution.toml that other packages own and validate when they load them.
TOOL_SECTIONS = (
    "execution.alerts",
    "execution.telemetry.retention",
    "execution.telemetry.health",
    "execution.telemetry.collector",
)


def _choice(*values: str) -> dict[str, object]:
    return {"choices": values}


@dataclass(frozen=True)
class TelemetryFilters:
    include_kinds: tuple[str, ...] = field(default=KINDS, metadata={"each": KINDS})
    min_severity: str = field(default="debug", metadata=_choice(*SEVERITIES))


@dataclass(frozen=True)
class RedisConfig:
    """``[execution.telemetry.redis]``: where ``backend = "redis"`` sends events."""

    # A password belongs in $EXECUTION_TELEMETRY_REDIS_URL, not in a committed file.
    url: str = "redis://127.0.0.1:6379/0"
    stream: str = "execution:events"
    # XADD MAXLEN ~ maxlen: the stream keeps about this many entries (0 = never trimmed).
    maxlen: int = field(default=1_000_000, metadata={"min": 0})
    # Producer-side buffer while Redis is slow or away; beyond it events are dropped (counted).
    queue_size: int = field(default=100_000, metadata={"min": 1})
    batch_size: int = field(default=512, metadata={"min": 1})
    connect_timeout_s: float = field(default=1.0, metadata={"gt": 0.0})
    timeout_s: float = field(default=2.0, metadata={"gt": 0.0})
    backoff_max_s: float = field(default=5.0, metadata={"gt": 0.0})


@dataclass(frozen=True)
class PrometheusConfig:
    """``[execution.telemetry.prometheus]``: the ``backend = "prometheus"`` metrics."""

    # > 0: serve /metrics from this process on addr:port (0 = no HTTP exporter).
    port: int = field(default=0, metadata={"min": 0})
    addr: str = "127.0.0.1"
    # Intents and orders waiting for their order / fill, for the latency histograms.
    pending_max: int = field(default=10_000, metadata={"min": 1})


@dataclass(frozen=True)
class TelemetryConfig:
    enabled: bool = True
    backend: tuple[str, ...] = ("jsonl",)
    base_path: str = "logs/execution"
    rotation: str = field(default="none", metadata=_choice("none", "daily"))
    # Consumed by the retention tool: compress closed files, delete after retention_days.
    compression: bool = True
    retention_days: int = field(default=30, metadata={"min": 1})
    # Seconds between writer heartbeats under <base_path>/.writers/ (0: none).
    heartbeat_interval_s: float = field(default=10.0, metadata={"min": 0.0})
    fsync: str = field(default="interval", metadata=_choice("none", "interval", "always"))
    fsync_interval_s: float = field(default=1.0, metadata={"min": 0.001})
    # > 0 puts the sinks behind a bounded queue drained by a worker thread.
    queue_size: int = field(default=0, metadata={"min": 0})
    filters: TelemetryFilters = field(default_factory=TelemetryFilters)
    redis: RedisConfig = field(default_factory=RedisConfig)
    prometheus: PrometheusConfig = field(default_factory=PrometheusConfig)


@dataclass(frozen=True)
class PaperConfig:
    slippage_bps: float = field(default=2.0, metadata={"min": 0.0})
    fee_bps: float = field(default=1.0, metadata={"min": 0.0})


@dataclass(frozen=True)
class GateConfig:
    price_sanity_max_deviation_bps: float = field(default=500.0, metadata={"min": 0.0})
    # MaxNotionalGate refuses 0, so the loader must too (else start-up dies in a traceback).
    max_notional: float = field(default=250_000.0, metadata={"gt": 0.0})
    # A file whose existence engages the kill switch ("" = switch only from code).
    kill_switch_file: str = ""


@dataclass(frozen=True)
class ExecutionConfig:
    mode: str = field(default="paper", metadata=_choice(*MODES))
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)
    paper: PaperConfig = field(default_factory=PaperConfig)
    gates: GateConfig = field(default_factory=GateConfig)


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
    file: ConfigFile | None = None,
) -> ExecutionConfig:
    """Load the execution config.

    ``path`` defaults to ``$EXECUTION_CONFIG`` or ``config/execution.toml``; a missing default
    file means "all defaults", a missing explicit file is an error. ``overrides`` maps dotted
    keys (``"execution.telemetry.base_path"``) to values and wins over everything; keys of
    the tools' sections (:data:`TOOL_SECTIONS`) are left to their loaders. ``file``: an
    already parsed file (:func:`src.common.config.read_config_file`) instead of ``path``.
    """
    env = os.environ if env is None else env
    if file is None:
        file = read_config_file(path, env=env, roots=ROOT_TABLES)
    else:
        unknown = sorted(set(file.data) - set(ROOT_TABLES))
        if unknown:
            raise ConfigError(f"{file.path}: unknown key {unknown[0]!r}")
    overrides = dict(overrides or {})
    for key, value in overrides.items():
        if not key.startswith("execution."):
            raise ConfigError(f"override: unknown key {key} = {value!r}")
    return load_section(
        ExecutionConfig,
        "execution",
        env=env,
        overrides=overrides,
        file=file,
        foreign=TOOL_SECTIONS,
    )
