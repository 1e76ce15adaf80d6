"""The retention policy: limits from the config file, overridable by command-line flags."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from src.common.units import plural
from src.execution.config import TelemetryConfig
from src.ops.retention.config import RetentionConfig

__all__ = ["DAY_S", "RetentionPolicy"]

DAY_S = 86_400.0
MB = 1024 * 1024


@dataclass(frozen=True)
class RetentionPolicy:
    """What retention keeps, compresses and deletes (the runbook's defaults)."""

    max_age_days: int = 30
    keep_last_n: int = 200
    max_total_mb: int = 2048  # 0: no size cap
    compress_after_days: int = 7  # 0: never compress
    live_grace_minutes: int = 15

    def __post_init__(self) -> None:
        for name, low in (
            ("max_age_days", 1),
            ("keep_last_n", 0),
            ("max_total_mb", 0),
            ("compress_after_days", 0),
            ("live_grace_minutes", 1),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"invalid {flag} {value!r}: must be an integer >= {low}")

    @classmethod
    def from_config(
        cls, telemetry: TelemetryConfig, retention: RetentionConfig | None = None
    ) -> RetentionPolicy:
        """Defaults from ``[execution.telemetry]``: ``retention_days`` is the age limit and
        ``compression = false`` turns compression off; the rest from its ``retention`` table
        (:mod:`src.ops.retention.config`; None: its defaults)."""
        r = retention if retention is not None else RetentionConfig()
        return cls(
            max_age_days=telemetry.retention_days,
            keep_last_n=r.keep_last_n,
            max_total_mb=r.max_total_mb,
            compress_after_days=r.compress_after_days if telemetry.compression else 0,
            live_grace_minutes=r.live_grace_minutes,
        )

    def with_overrides(self, **changes: int | None) -> RetentionPolicy:
        """A copy with every non-None value in ``changes`` replaced."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def max_total_bytes(self) -> int:
        return self.max_total_mb * MB

    def describe(self) -> str:
        cap = f"{self.max_total_mb} MB" if self.max_total_mb else "none"
        compress = f"after {self.compress_after_days} days" if self.compress_after_days else "off"
        return (
            f"max age {plural(self.max_age_days, 'day')}, "
            f"keep last {plural(self.keep_last_n, 'session')}, "
            f"size cap {cap}, compress {compress}, "
            f"files written in the last {self.live_grace_minutes} min are live"
        )

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)
