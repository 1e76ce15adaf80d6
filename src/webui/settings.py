"""Dashboard settings: from arguments, the environment and config/execution.toml."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from src.alerts.config import load_alerts_config
from src.common.config import read_config_file
from src.execution.config import load_config

__all__ = ["TOKEN_ENV", "WebSettings", "check_bind", "is_loopback"]

TOKEN_ENV = "TELEMETRY_DASHBOARD_TOKEN"


@dataclass(frozen=True)
class WebSettings:
    base_path: Path = Path("logs/execution")
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    default_limit: int = 200
    max_limit: int = 5000
    api_default_limit: int = 2000
    poll_interval_s: float = 0.1
    client_queue_size: int = 1000
    max_cached_sessions: int = 64
    # A growing session's summary is recomputed at most this often (new rows stream live).
    summary_max_age_s: float = 1.0
    # Excel/Parquet downloads built at once (each a child process, about one core);
    # one more is refused with 503 and Retry-After: export_retry_after_s.
    max_export_builds: int = 2
    export_retry_after_s: int = 30
    # The alert engine's state file (None: <base_path>/.alerts/state.json, its default).
    alerts_state_path: Path | None = None

    @property
    def alerts_state(self) -> Path:
        if self.alerts_state_path is not None:
            return self.alerts_state_path
        return self.base_path / ".alerts" / "state.json"

    @classmethod
    def from_environment(
        cls, env: Mapping[str, str] | None = None, **overrides: object
    ) -> WebSettings:
        """Base path and alert state file from the config; token from $TELEMETRY_DASHBOARD_TOKEN."""
        env = os.environ if env is None else env
        file = read_config_file(env=env)
        config = load_config(env=env, file=file)
        alerts = load_alerts_config(env=env, file=file)
        values: dict[str, object] = {
            "base_path": Path(config.telemetry.base_path),
            "token": env.get(TOKEN_ENV) or None,
            "alerts_state_path": Path(alerts.state_path) if alerts.state_path else None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "base_path" in overrides and overrides["base_path"] is not None:
            values["base_path"] = Path(str(overrides["base_path"]))
        return cls(**values)  # type: ignore[arg-type]


def is_loopback(host: str, *, allow_names: bool = True) -> bool:
    """A loopback address (``127.0.0.0/8``, ``::1``, ``::ffff:127.x``); ``localhost`` too
    unless ``allow_names`` is false (addresses a server reports are never names)."""
    if host == "localhost":
        return allow_names
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def check_bind(settings: WebSettings) -> None:
    """Refuse to serve beyond this machine without an access token."""
    if not is_loopback(settings.host) and not settings.token:
        raise ValueError(
            f"refusing to bind {settings.host}: the dashboard shows trading activity, so "
            f"binding beyond 127.0.0.1 needs an access token (set ${TOKEN_ENV})"
        )
