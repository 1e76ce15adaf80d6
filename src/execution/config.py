"""``config/execution.toml`` loaded once into frozen dataclasses.

Precedence: explicit overrides (CLI) > environment > file > defaults. Environment variables
are named after the dotted key: ``execution.telemetry.base_path`` is
``EXECUTION_TELEMETRY_BASE_PATH``; lists are comma-separated. A bad key or value fails at
start-up with one line naming the key and the value (:class:`ConfigError`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from src.execution.config_alerts import AlertsConfig
from src.execution.events import KINDS, MODES, SEVERITIES

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "AlertsConfig",
    "CollectorConfig",
    "ConfigError",
    "ExecutionConfig",
    "GateConfig",
    "HealthConfig",
    "PaperConfig",
    "PrometheusConfig",
    "RedisConfig",
    "RetentionConfig",
    "TelemetryConfig",
    "TelemetryFilters",
    "load_config",
]

DEFAULT_CONFIG_PATH = Path("config/execution.toml")
CONFIG_ENV_VAR = "EXECUTION_CONFIG"


class ConfigError(ValueError):
    """A configuration key or value is invalid; the message names both."""


def _choice(*values: str) -> dict[str, Any]:
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
class CollectorConfig:
    """``[execution.telemetry.collector]``: the ``telemetry-collect`` archive service."""

    archive_path: str = "logs/archive"
    group: str = "archive"
    # "" = this host's name: stable across restarts, so a restarted collector resumes its own
    # pending entries at once.
    consumer: str = ""
    batch_size: int = field(default=500, metadata={"min": 1})
    block_ms: int = field(default=1000, metadata={"min": 1})
    # Pending entries of another consumer idle this long are claimed (XAUTOCLAIM).
    claim_idle_ms: int = field(default=30_000, metadata={"min": 0})
    # How many recent event ids are remembered for de-duplication, and how much of each
    # archive file's tail is read at start-up to remember them again after a restart.
    dedup_capacity: int = field(default=200_000, metadata={"min": 2})
    dedup_tail_bytes: int = field(default=1_048_576, metadata={"min": 4096})


@dataclass(frozen=True)
class PrometheusConfig:
    """``[execution.telemetry.prometheus]``: the ``backend = "prometheus"`` metrics."""

    # > 0: serve /metrics from this process on addr:port (0 = no HTTP exporter).
    port: int = field(default=0, metadata={"min": 0})
    addr: str = "127.0.0.1"
    # Intents and orders waiting for their order / fill, for the latency histograms.
    pending_max: int = field(default=10_000, metadata={"min": 1})


@dataclass(frozen=True)
class RetentionConfig:
    """``[execution.telemetry.retention]``: the retention tool's defaults.

    The age limit is ``execution.telemetry.retention_days`` and whether to compress at all is
    ``execution.telemetry.compression``; the keys here refine them.
    """

    keep_last_n: int = field(default=200, metadata={"min": 0})
    max_total_mb: int = field(default=2048, metadata={"min": 0})  # 0: no size cap
    compress_after_days: int = field(default=7, metadata={"min": 0})  # 0: never compress
    # A file written this recently may still be appended to: never compressed or deleted.
    live_grace_minutes: int = field(default=15, metadata={"min": 1})


@dataclass(frozen=True)
class HealthConfig:
    """``[execution.telemetry.health]``: thresholds of the health check."""

    disk_warn_percent: float = field(default=80.0, metadata={"min": 0.0})
    disk_crit_percent: float = field(default=90.0, metadata={"min": 0.0})
    parse_error_warn: float = field(default=0.01, metadata={"min": 0.0})
    parse_error_crit: float = field(default=0.05, metadata={"min": 0.0})
    sample_files: int = field(default=20, metadata={"min": 1})
    sample_lines: int = field(default=5000, metadata={"min": 1})
    retention_stale_warn_hours: float = field(default=192.0, metadata={"gt": 0.0})
    retention_stale_crit_hours: float = field(default=360.0, metadata={"gt": 0.0})
    write_error_window_minutes: float = field(default=15.0, metadata={"gt": 0.0})


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
    collector: CollectorConfig = field(default_factory=CollectorConfig)
    prometheus: PrometheusConfig = field(default_factory=PrometheusConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    health: HealthConfig = field(default_factory=HealthConfig)


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
    alerts: AlertsConfig = field(default_factory=AlertsConfig)


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ExecutionConfig:
    """Load the execution config.

    ``path`` defaults to ``$EXECUTION_CONFIG`` or ``config/execution.toml``; a missing default
    file means "all defaults", a missing explicit file is an error. ``overrides`` maps dotted
    keys (``"execution.telemetry.base_path"``) to values and wins over everything.
    """
    env = os.environ if env is None else env
    explicit = path is not None or CONFIG_ENV_VAR in env
    config_path = Path(path if path is not None else env.get(CONFIG_ENV_VAR, DEFAULT_CONFIG_PATH))
    data: dict[str, Any] = {}
    if config_path.is_file():
        try:
            with config_path.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path}: not valid TOML: {exc}") from None
    elif explicit:
        raise ConfigError(f"config file {str(config_path)!r} not found")
    unknown = sorted(set(data) - {"execution"})
    if unknown:
        raise ConfigError(f"{config_path}: unknown key {unknown[0]!r}")
    table = data.get("execution", {})
    overrides = dict(overrides or {})
    known = set(_leaf_keys(ExecutionConfig, "execution"))
    for key in overrides:
        if key not in known:
            raise ConfigError(f"override: unknown key {key} = {overrides[key]!r}")
    return _build(ExecutionConfig, table, "execution", env, overrides, config_path)


def _leaf_keys(cls: type[Any], prefix: str) -> list[str]:
    hints = typing.get_type_hints(cls)
    keys: list[str] = []
    for f in dataclasses.fields(cls):
        dotted = f"{prefix}.{f.name}"
        if dataclasses.is_dataclass(hints[f.name]):
            keys.extend(_leaf_keys(hints[f.name], dotted))
        else:
            keys.append(dotted)
    return keys


def _build(
    cls: type[Any],
    table: Any,
    prefix: str,
    env: Mapping[str, str],
    overrides: dict[str, Any],
    source: Path,
) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: {prefix} must be a table, got {table!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in table:
        if key not in names:
            raise ConfigError(f"{source}: unknown key {prefix}.{key} = {table[key]!r}")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        dotted = f"{prefix}.{f.name}"
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            values[f.name] = _build(hint, table.get(f.name, {}), dotted, env, overrides, source)
            continue
        env_name = dotted.upper().replace(".", "_")
        if dotted in overrides:
            raw, origin = overrides[dotted], "override"
        elif env_name in env:
            raw, origin = _from_env(env[env_name], hint), f"${env_name}"
        elif f.name in table:
            raw, origin = table[f.name], str(source)
        else:
            continue
        values[f.name] = _coerce(raw, hint, f.metadata, dotted, origin)
    try:
        return cls(**values)
    except ValueError as exc:  # a table's own consistency check (__post_init__)
        raise ConfigError(f"{source}: invalid {prefix}: {exc}") from None


def _from_env(text: str, hint: Any) -> Any:
    if hint is bool:
        lowered = text.strip().lower()
        return {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}.get(
            lowered, text
        )
    if _is_str_tuple(hint):
        return [part.strip() for part in text.split(",") if part.strip()]
    if hint in (int, float):
        try:
            return hint(text)
        except ValueError:
            return text
    return text


def _is_str_tuple(hint: Any) -> bool:
    return typing.get_origin(hint) is tuple


def _coerce(raw: Any, hint: Any, meta: Mapping[str, Any], key: str, origin: str) -> Any:
    def bad(why: str) -> ConfigError:
        return ConfigError(f"{origin}: invalid value for {key}: {raw!r} ({why})")

    if hint is bool:
        if not isinstance(raw, bool):
            raise bad("expected true or false")
        value: Any = raw
    elif hint is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise bad("expected an integer")
        value = raw
    elif hint is float:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise bad("expected a number")
        value = float(raw)
        if not math.isfinite(value):
            raise bad("must be a finite number")
    elif hint is str:
        if not isinstance(raw, str):
            raise bad("expected a string")
        value = raw
    elif _is_str_tuple(hint):
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise bad("expected a list of strings")
        value = tuple(items)
        allowed = meta.get("each")
        if allowed:
            for item in value:
                if item not in allowed:
                    raise bad(f"{item!r} is not one of {', '.join(allowed)}")
    else:  # pragma: no cover - a field type this loader does not know is a programming error
        raise TypeError(f"unsupported config type {hint!r} for {key}")
    choices = meta.get("choices")
    if choices and value not in choices:
        raise bad(f"expected one of {', '.join(choices)}")
    minimum = meta.get("min")
    if minimum is not None and value < minimum:
        raise bad(f"must be >= {minimum}")
    above = meta.get("gt")
    if above is not None and not value > above:
        raise bad(f"must be > {above}")
    return value
