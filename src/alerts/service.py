"""Assembling an engine from the configuration: paths, channels, source, delivery.

Used by ``telemetry-alerts`` and by anything embedding the engine (``make demo`` could). The
state file and delivery log default to ``<telemetry.base_path>/.alerts/`` (hidden from the
session listing, untouched by retention), where the dashboard looks for them too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from src.alerts.channels import Channel, build_channels
from src.alerts.delivery import Dispatcher
from src.alerts.deliverylog import DeliveryLog
from src.alerts.engine import AlertEngine, horizon_s
from src.alerts.sources import FileSource, Source
from src.alerts.state import StateStore
from src.execution.config import ExecutionConfig

__all__ = ["ALERTS_DIR", "build_engine", "delivery_log_path", "state_path"]

ALERTS_DIR = ".alerts"


def state_path(config: ExecutionConfig, base_path: str | os.PathLike[str] | None = None) -> Path:
    if config.alerts.state_path:
        return Path(config.alerts.state_path)
    return Path(base_path or config.telemetry.base_path) / ALERTS_DIR / "state.json"


def delivery_log_path(
    config: ExecutionConfig, base_path: str | os.PathLike[str] | None = None
) -> Path:
    if config.alerts.delivery_log:
        return Path(config.alerts.delivery_log)
    return Path(base_path or config.telemetry.base_path) / ALERTS_DIR / "deliveries.jsonl"


def build_engine(
    config: ExecutionConfig,
    *,
    base_path: str | os.PathLike[str] | None = None,
    source: Source | None = None,
    channels: Mapping[str, Channel] | None = None,
    env: Mapping[str, str] | None = None,
    dry_run: bool = False,
    until: float | None = None,
) -> AlertEngine:
    """An engine over ``base_path`` (default: the config's) with the configured channels.

    ``dry_run``: judge only (no state written, nothing sent). Raises
    :class:`~src.alerts.channels.ChannelConfigError` for a channel that cannot be built and
    :class:`~src.alerts.state.EngineBusy` when another engine uses the same state file.
    """
    alerts = config.alerts
    base = Path(base_path or config.telemetry.base_path)
    if source is None:
        source = FileSource(
            base,
            horizon_s=horizon_s(alerts),
            active_within_s=alerts.active_within_s,
            until=until,
        )
    if dry_run:
        return AlertEngine(alerts, source, store=None)
    if channels is None:
        channels = build_channels(alerts, env)
    store = StateStore(state_path(config, base))
    store.claim()
    engine = AlertEngine(alerts, source, store=store)
    record = DeliveryLog(delivery_log_path(config, base), max_bytes=alerts.delivery.log_max_bytes)
    engine.dispatcher = Dispatcher(channels, alerts.delivery, record, on_done=engine.delivered)
    return engine
