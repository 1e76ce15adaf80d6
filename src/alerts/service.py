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
from src.alerts.config import AlertsConfig
from src.alerts.delivery import Dispatcher
from src.alerts.deliverylog import DeliveryLog
from src.alerts.engine import AlertEngine, horizon_s
from src.alerts.sources import FileSource, Source
from src.alerts.state import StateStore

__all__ = ["ALERTS_DIR", "build_engine", "delivery_log_path", "state_path"]

ALERTS_DIR = ".alerts"


def state_path(config: AlertsConfig, base_path: str | os.PathLike[str]) -> Path:
    """The state file: ``state_path`` if set, else ``<base_path>/.alerts/state.json``."""
    if config.state_path:
        return Path(config.state_path)
    return Path(base_path) / ALERTS_DIR / "state.json"


def delivery_log_path(config: AlertsConfig, base_path: str | os.PathLike[str]) -> Path:
    if config.delivery_log:
        return Path(config.delivery_log)
    return Path(base_path) / ALERTS_DIR / "deliveries.jsonl"


def build_engine(
    config: AlertsConfig,
    base_path: str | os.PathLike[str],
    *,
    source: Source | None = None,
    channels: Mapping[str, Channel] | None = None,
    env: Mapping[str, str] | None = None,
    dry_run: bool = False,
    until: float | None = None,
) -> AlertEngine:
    """An engine over the logs under ``base_path`` with the configured channels.

    ``dry_run``: judge only (no state written, nothing sent). Raises
    :class:`~src.alerts.channels.ChannelConfigError` for a channel that cannot be built and
    :class:`~src.alerts.state.EngineBusy` when another engine uses the same state file.
    """
    alerts = config
    base = Path(base_path)
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
    store = StateStore(state_path(alerts, base))
    store.claim()
    engine = AlertEngine(alerts, source, store=store)
    record = DeliveryLog(delivery_log_path(alerts, base), max_bytes=alerts.delivery.log_max_bytes)
    engine.dispatcher = Dispatcher(channels, alerts.delivery, record, on_done=engine.delivered)
    return engine
