"""``[execution.telemetry.retention]``: the retention tool's defaults (flags override them).

The age limit is ``execution.telemetry.retention_days`` and whether to compress at all is
``execution.telemetry.compression`` (the trading process's own section); the keys here
refine them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from src.common.config import ConfigFile, load_section

__all__ = ["SECTION", "RetentionConfig", "load_retention_config"]

SECTION = "execution.telemetry.retention"


@dataclass(frozen=True)
class RetentionConfig:
    keep_last_n: int = field(default=200, metadata={"min": 0})
    max_total_mb: int = field(default=2048, metadata={"min": 0})  # 0: no size cap
    compress_after_days: int = field(default=7, metadata={"min": 0})  # 0: never compress
    # A file written this recently may still be appended to: never compressed or deleted.
    live_grace_minutes: int = field(default=15, metadata={"min": 1})


def load_retention_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    file: ConfigFile | None = None,
) -> RetentionConfig:
    """``[execution.telemetry.retention]`` of the config file (file, environment, overrides)."""
    return load_section(
        RetentionConfig, SECTION, path=path, env=env, overrides=overrides, file=file
    )
