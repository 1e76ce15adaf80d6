"""Dashboard settings: the ``[dashboard]`` table of config/execution.toml, the environment
and the command line, through the one config loader (:mod:`src.common.config`).

Precedence: command-line flags > environment (``DASHBOARD_PORT``, ...) > the file >
defaults. A bad key or value fails with one line naming both (``telemetry-dashboard``
exits 3). The log root defaults to ``[execution.telemetry] base_path`` and the alert
engine's state file to ``[execution.alerts] state_path``; the access token only ever comes
from ``$TELEMETRY_DASHBOARD_TOKEN``, never from the file.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from src.alerts.config import load_alerts_config
from src.common.config import load_section, read_config_file
from src.execution.config import load_config

__all__ = ["SECTION", "TOKEN_ENV", "DashboardConfig", "WebSettings", "check_bind", "is_loopback"]

TOKEN_ENV = "TELEMETRY_DASHBOARD_TOKEN"
SECTION = "dashboard"


@dataclass(frozen=True)
class DashboardConfig:
    """``[dashboard]``: what an operator may set (the defaults are WebSettings')."""

    host: str = "127.0.0.1"
    port: int = field(default=8000, metadata={"min": 1, "max": 65535})
    base_path: str = ""  # "" = [execution.telemetry] base_path
    default_limit: int = field(default=200, metadata={"min": 1})
    max_limit: int = field(default=5000, metadata={"min": 1})
    api_default_limit: int = field(default=2000, metadata={"min": 1})
    poll_interval_s: float = field(default=0.1, metadata={"gt": 0.0})
    client_queue_size: int = field(default=1000, metadata={"min": 1})
    max_cached_sessions: int = field(default=64, metadata={"min": 1})
    summary_max_age_s: float = field(default=1.0, metadata={"min": 0.0})
    max_export_builds: int = field(default=2, metadata={"min": 1})
    export_retry_after_s: int = field(default=30, metadata={"min": 1})

    def __post_init__(self) -> None:
        for name in ("default_limit", "api_default_limit"):
            if getattr(self, name) > self.max_limit:
                raise ValueError(
                    f"{name} = {getattr(self, name)!r} is above max_limit = {self.max_limit!r}"
                )


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
        cls,
        env: Mapping[str, str] | None = None,
        *,
        base_path: str | os.PathLike[str] | None = None,
        host: str | None = None,
        port: int | None = None,
        alerts_state_path: str | os.PathLike[str] | None = None,
    ) -> WebSettings:
        """The settings from the config file's ``[dashboard]`` table, the environment and
        the given command-line values (None: not given). Raises ``ConfigError`` (a
        ``ValueError``) naming the bad key and value."""
        env = os.environ if env is None else env
        file = read_config_file(env=env)
        overrides: dict[str, object] = {
            f"{SECTION}.{key}": value
            for key, value in (("base_path", base_path), ("host", host), ("port", port))
            if value is not None
        }
        if base_path is not None:
            overrides[f"{SECTION}.base_path"] = os.fspath(base_path)
        dashboard = load_section(DashboardConfig, SECTION, env=env, overrides=overrides, file=file)
        config = load_config(env=env, file=file)
        if alerts_state_path is None:
            alerts = load_alerts_config(env=env, file=file)
            alerts_state_path = alerts.state_path or None
        values = {k: v for k, v in dashboard.__dict__.items() if k != "base_path"}
        return cls(
            base_path=Path(dashboard.base_path or config.telemetry.base_path),
            token=env.get(TOKEN_ENV) or None,
            alerts_state_path=Path(alerts_state_path) if alerts_state_path else None,
            **values,
        )


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
