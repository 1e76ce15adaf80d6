"""``[execution.alerts]``: the alert engine's rules, channels and delivery, as frozen dataclasses.

Loaded by :func:`load_alerts_config` through the common loader (:mod:`src.common.config`:
file, environment ``EXECUTION_ALERTS_...``, overrides), from the same config file as every
other section. Defaults follow the incident runbook's red flags and escalation
rules, and agree with ``view_execution_telemetry --check`` (:mod:`src.query.checks`; a test
holds the two together, so config loading need not import the query layer).

Secrets are never configuration values: a channel names the *environment variable* that holds
its webhook URL or SMTP password (``url_env``, ``password_env``), so a committed config file
cannot leak one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from src.common.config import ConfigFile, load_section

__all__ = [
    "CHANNELS",
    "LATENCY_LEGS",
    "AlertRules",
    "AlertmanagerChannelConfig",
    "AlertsConfig",
    "ConsoleChannelConfig",
    "DeliveryConfig",
    "EmailChannelConfig",
    "ErrorRule",
    "FillRateRule",
    "GateRejectionRule",
    "LatencyRule",
    "MissingFillsRule",
    "ParseErrorRule",
    "RejectRateRule",
    "SlackChannelConfig",
    "StalledSessionRule",
    "WebhookChannelConfig",
    "load_alerts_config",
]

SECTION = "execution.alerts"

CHANNELS = ("console", "slack", "webhook", "email", "alertmanager")
LATENCY_LEGS = ("intent_to_order", "order_to_fill", "intent_to_fill", "order_to_ack")


def _min(value: float) -> dict[str, Any]:
    return {"min": value}


def _gt(value: float) -> dict[str, Any]:
    return {"gt": value}


def _ordered(warn: float, crit: float, what: str) -> None:
    if crit and warn > crit:
        raise ValueError(f"{what}: warning threshold {warn:g} is above critical {crit:g}")


# -- rules ------------------------------------------------------------------------------
# Every rule has `enabled`, `for_s` (the condition must hold this long before it fires) and
# `cooldown_s` (an alert that fired is not announced again for this long after a resolve).


@dataclass(frozen=True)
class GateRejectionRule:
    """Blocked intents / intents over the window (overall), blocks / evaluations per gate."""

    enabled: bool = True
    window_s: float = field(default=300.0, metadata=_gt(0.0))
    warn_rate: float = field(default=0.20, metadata=_min(0.0))
    crit_rate: float = field(default=0.50, metadata=_min(0.0))
    # Fewer intents (overall) or evaluations (per gate) in the window than this: no verdict.
    min_samples: int = field(default=10, metadata=_min(1))
    per_gate: bool = True
    for_s: float = field(default=0.0, metadata=_min(0.0))
    cooldown_s: float = field(default=300.0, metadata=_min(0.0))

    def __post_init__(self) -> None:
        _ordered(self.warn_rate, self.crit_rate, "gate_rejection")


@dataclass(frozen=True)
class ErrorRule:
    """Any error event in the window (warning); error events / all events above crit_rate."""

    enabled: bool = True
    window_s: float = field(default=300.0, metadata=_gt(0.0))
    any_error: bool = True
    crit_rate: float = field(default=0.10, metadata=_min(0.0))
    min_events: int = field(default=20, metadata=_min(1))
    for_s: float = field(default=0.0, metadata=_min(0.0))
    cooldown_s: float = field(default=300.0, metadata=_min(0.0))


@dataclass(frozen=True)
class LatencyRule:
    """p95 of each leg over the window (nearest rank, as in every summary)."""

    enabled: bool = True
    window_s: float = field(default=300.0, metadata=_gt(0.0))
    legs: tuple[str, ...] = field(
        default=("intent_to_fill", "order_to_fill"), metadata={"each": LATENCY_LEGS}
    )
    warn_p95_ms: float = field(default=500.0, metadata=_min(0.0))
    crit_p95_ms: float = field(default=10_000.0, metadata=_min(0.0))
    min_samples: int = field(default=5, metadata=_min(1))
    for_s: float = field(default=0.0, metadata=_min(0.0))
    cooldown_s: float = field(default=300.0, metadata=_min(0.0))

    def __post_init__(self) -> None:
        _ordered(self.warn_p95_ms, self.crit_p95_ms, "latency")


@dataclass(frozen=True)
class MissingFillsRule:
    """Open orders still without a fill or another end warn_after_s / crit_after_s (0: never)
    past their deadline (:func:`src.query.lifecycle.deadline`: market and IOC orders at
    once, DAY orders at the end of their UTC day, ``expire_after_s`` after placing; a GTC
    limit order works until cancelled and never counts)."""

    enabled: bool = True
    warn_after_s: float = field(default=60.0, metadata=_gt(0.0))
    crit_after_s: float = field(default=600.0, metadata=_min(0.0))
    for_s: float = field(default=0.0, metadata=_min(0.0))
    cooldown_s: float = field(default=300.0, metadata=_min(0.0))

    def __post_init__(self) -> None:
        _ordered(self.warn_after_s, self.crit_after_s, "missing_fills")


@dataclass(frozen=True)
class RejectRateRule:
    """Orders the venue rejected / orders sent over the window (critical above crit_rate;
    warning above warn_rate); fewer orders than min_orders in the window: no verdict."""

    enabled: bool = True
    window_s: float = field(default=300.0, metadata=_gt(0.0))
    warn_rate: float = field(default=0.05, metadata=_min(0.0))
    crit_rate: float = field(default=0.20, metadata=_min(0.0))
    min_orders: int = field(default=10, metadata=_min(1))
    for_s: float = field(default=0.0, metadata=_min(0.0))
    cooldown_s: float = field(default=300.0, metadata=_min(0.0))

    def __post_init__(self) -> None:
        _ordered(self.warn_rate, self.crit_rate, "reject_rate")


@dataclass(frozen=True)
class FillRateRule:
    """Fill rate 0% across a session: at least min_orders orders, the oldest after_s old."""

    enabled: bool = True
    min_orders: int = field(default=3, metadata=_min(1))
    after_s: float = field(default=60.0, metadata=_min(0.0))
    for_s: float = field(default=0.0, metadata=_min(0.0))
    cooldown_s: float = field(default=300.0, metadata=_min(0.0))


@dataclass(frozen=True)
class StalledSessionRule:
    """No event for warn_after_s / crit_after_s from a session that is still running.

    ``active = "lock"``: running means a logger on this machine holds the session's file open
    (a session that ended normally closed it, so it never counts as stalled). ``"recent"``:
    any session with an event in the last ``active_within_s`` (remote writers, the stream).
    """

    enabled: bool = True
    warn_after_s: float = field(default=300.0, metadata=_gt(0.0))
    crit_after_s: float = field(default=900.0, metadata=_min(0.0))
    active: str = field(default="lock", metadata={"choices": ("lock", "recent")})
    for_s: float = field(default=0.0, metadata=_min(0.0))
    cooldown_s: float = field(default=300.0, metadata=_min(0.0))

    def __post_init__(self) -> None:
        _ordered(self.warn_after_s, self.crit_after_s, "stalled_session")


@dataclass(frozen=True)
class ParseErrorRule:
    """Invalid lines / lines of the session's logs (torn lines being written do not count)."""

    enabled: bool = True
    warn_rate: float = field(default=0.01, metadata=_min(0.0))
    crit_rate: float = field(default=0.05, metadata=_min(0.0))
    min_lines: int = field(default=20, metadata=_min(1))
    for_s: float = field(default=0.0, metadata=_min(0.0))
    cooldown_s: float = field(default=300.0, metadata=_min(0.0))

    def __post_init__(self) -> None:
        _ordered(self.warn_rate, self.crit_rate, "parse_errors")


@dataclass(frozen=True)
class AlertRules:
    gate_rejection: GateRejectionRule = field(default_factory=GateRejectionRule)
    errors: ErrorRule = field(default_factory=ErrorRule)
    latency: LatencyRule = field(default_factory=LatencyRule)
    missing_fills: MissingFillsRule = field(default_factory=MissingFillsRule)
    fill_rate: FillRateRule = field(default_factory=FillRateRule)
    reject_rate: RejectRateRule = field(default_factory=RejectRateRule)
    stalled_session: StalledSessionRule = field(default_factory=StalledSessionRule)
    parse_errors: ParseErrorRule = field(default_factory=ParseErrorRule)


# -- delivery and channels ----------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryConfig:
    """Each channel has its own worker: a slow or dead endpoint delays only its own queue."""

    timeout_s: float = field(default=5.0, metadata=_gt(0.0))
    max_attempts: int = field(default=4, metadata=_min(1))
    backoff_initial_s: float = field(default=1.0, metadata=_min(0.0))
    backoff_max_s: float = field(default=30.0, metadata=_min(0.0))
    # Notifications waiting per channel; beyond this they are dropped (and recorded).
    queue_size: int = field(default=1000, metadata=_min(1))
    # The delivery log is rotated to <name>.1 when it grows past this.
    log_max_bytes: int = field(default=10_485_760, metadata=_min(4096))


@dataclass(frozen=True)
class SlackChannelConfig:
    """Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat): text + blocks."""

    url_env: str = "TELEMETRY_ALERTS_SLACK_URL"


@dataclass(frozen=True)
class WebhookChannelConfig:
    """Any HTTP endpoint taking a JSON document per notification."""

    url_env: str = "TELEMETRY_ALERTS_WEBHOOK_URL"
    # Name of an environment variable holding a bearer token ("" = no Authorization header).
    token_env: str = ""


@dataclass(frozen=True)
class EmailChannelConfig:
    host: str = "127.0.0.1"
    port: int = field(default=25, metadata={"min": 1})
    starttls: bool = False
    # CA bundle to verify the server's certificate with ("" = the system's).
    ca_file: str = ""
    username: str = ""  # "" = no login
    password_env: str = "TELEMETRY_ALERTS_SMTP_PASSWORD"
    sender: str = "telemetry-alerts@localhost"
    recipients: tuple[str, ...] = ()
    subject_prefix: str = "[telemetry]"


@dataclass(frozen=True)
class AlertmanagerChannelConfig:
    """Alertmanager's API v2 (docs/monitoring.md): firing alerts posted and re-posted,
    resolutions with their end, acks and snoozes as silences."""

    url: str = "http://127.0.0.1:9093"
    # Name of an environment variable holding a bearer token ("" = no Authorization header).
    token_env: str = ""
    # Firing alerts are posted again this often: keep it well under Alertmanager's
    # resolve_timeout (5 min by default), or it resolves them in between.
    repost_s: float = field(default=60.0, metadata=_gt(0.0))
    # Acknowledgements and snoozes become Alertmanager silences.
    silences: bool = True
    # The alerts' runbook_url annotation ("" = docs/runbook.md's alerts section).
    runbook_url: str = ""


@dataclass(frozen=True)
class ConsoleChannelConfig:
    # stderr / stdout: one line per notification; log: the src.alerts logger, at the
    # severity's level.
    target: str = field(default="stderr", metadata={"choices": ("stderr", "stdout", "log")})


@dataclass(frozen=True)
class AlertsConfig:
    enabled: bool = True
    channels: tuple[str, ...] = field(default=("console",), metadata={"each": CHANNELS})
    # Alerts below this severity are kept and shown but not sent.
    min_severity: str = field(default="warning", metadata={"choices": ("warning", "critical")})
    # "" = <telemetry.base_path>/.alerts/state.json and .../deliveries.jsonl
    state_path: str = ""
    delivery_log: str = ""
    # telemetry-alerts run: seconds between evaluations.
    interval_s: float = field(default=10.0, metadata=_gt(0.0))
    # Sessions with no event in this long (and no logger holding them) are not evaluated;
    # their alerts resolve.
    active_within_s: float = field(default=3600.0, metadata=_gt(0.0))
    # A firing alert nobody acknowledged is announced again this often (0 = never).
    renotify_s: float = field(default=3600.0, metadata=_min(0.0))
    notify_resolved: bool = True
    # Base URL of the dashboard (e.g. "http://trading-box:8000"): notifications link to the
    # session's page. "" = no link.
    dashboard_url: str = ""
    # Resolved alerts stay in the state file (and on the dashboard) this long.
    keep_resolved_s: float = field(default=86_400.0, metadata=_min(0.0))
    rules: AlertRules = field(default_factory=AlertRules)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    slack: SlackChannelConfig = field(default_factory=SlackChannelConfig)
    webhook: WebhookChannelConfig = field(default_factory=WebhookChannelConfig)
    email: EmailChannelConfig = field(default_factory=EmailChannelConfig)
    console: ConsoleChannelConfig = field(default_factory=ConsoleChannelConfig)
    alertmanager: AlertmanagerChannelConfig = field(default_factory=AlertmanagerChannelConfig)


def load_alerts_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    file: ConfigFile | None = None,
) -> AlertsConfig:
    """``[execution.alerts]`` of the config file (see :func:`src.common.config.load_section`;
    overrides whose value is None are ignored)."""
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    return load_section(AlertsConfig, SECTION, path=path, env=env, overrides=given, file=file)
