"""``[execution.telemetry.health]``: thresholds of the health check (flags override them)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from src.common.config import ConfigFile, load_section

__all__ = ["SECTION", "HealthConfig", "load_health_config"]

SECTION = "execution.telemetry.health"


@dataclass(frozen=True)
class HealthConfig:
    disk_warn_percent: float = field(default=80.0, metadata={"min": 0.0})
    disk_crit_percent: float = field(default=90.0, metadata={"min": 0.0})
    parse_error_warn: float = field(default=0.01, metadata={"min": 0.0})
    parse_error_crit: float = field(default=0.05, metadata={"min": 0.0})
    sample_files: int = field(default=20, metadata={"min": 1})
    sample_lines: int = field(default=5000, metadata={"min": 1})
    retention_stale_warn_hours: float = field(default=192.0, metadata={"gt": 0.0})
    retention_stale_crit_hours: float = field(default=360.0, metadata={"gt": 0.0})
    write_error_window_minutes: float = field(default=15.0, metadata={"gt": 0.0})


def load_health_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    file: ConfigFile | None = None,
) -> HealthConfig:
    """``[execution.telemetry.health]`` of the config file (file, environment, overrides)."""
    return load_section(HealthConfig, SECTION, path=path, env=env, overrides=overrides, file=file)
