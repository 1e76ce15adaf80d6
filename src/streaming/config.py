"""``[execution.telemetry.collector]``: the ``telemetry-collect`` archive service.

The stream it reads (``[execution.telemetry.redis]``) and the archive's rotation and fsync
policy (``[execution.telemetry]``) are the trading process's own sections
(:mod:`src.execution.config`), shared with the producer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from src.common.config import ConfigFile, load_section

__all__ = ["SECTION", "CollectorConfig", "load_collector_config"]

SECTION = "execution.telemetry.collector"


@dataclass(frozen=True)
class CollectorConfig:
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


def load_collector_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    file: ConfigFile | None = None,
) -> CollectorConfig:
    """``[execution.telemetry.collector]`` of the config file (file, environment, overrides)."""
    return load_section(
        CollectorConfig, SECTION, path=path, env=env, overrides=overrides, file=file
    )
