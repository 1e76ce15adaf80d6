"""Notification channels and the factory that builds the configured ones.

``console``, ``slack`` (Slack-compatible incoming webhook), ``webhook`` (generic JSON),
``email`` (SMTP) and ``alertmanager`` (Alertmanager's API v2). Secrets are read from the
environment variables the config names; a channel whose secret is missing is a
configuration error at start-up (its message names the variable, never a value).
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping

from src.alerts.channels.alertmanager import AlertmanagerChannel
from src.alerts.channels.base import Channel, DeliveryError, scrub
from src.alerts.channels.console import ConsoleChannel
from src.alerts.channels.email import EmailChannel
from src.alerts.channels.slack import SlackChannel
from src.alerts.channels.webhook import WebhookChannel
from src.alerts.config import AlertsConfig

__all__ = [
    "AlertmanagerChannel",
    "Channel",
    "ChannelConfigError",
    "ConsoleChannel",
    "DeliveryError",
    "EmailChannel",
    "SlackChannel",
    "WebhookChannel",
    "build_channels",
    "scrub",
]


class ChannelConfigError(ValueError):
    """A configured channel cannot be built; the message names the channel and what is missing."""


def _secret(env: Mapping[str, str], name: str, channel: str) -> str:
    if not name:
        raise ChannelConfigError(f"channel {channel}: no environment variable is configured")
    value = env.get(name, "")
    if not value:
        raise ChannelConfigError(f"channel {channel}: ${name} is not set")
    return value


def build_channels(
    config: AlertsConfig,
    env: Mapping[str, str] | None = None,
    *,
    only: tuple[str, ...] | None = None,
) -> dict[str, Channel]:
    """The channels ``config.channels`` names (or ``only``), ready to send."""
    env = os.environ if env is None else env
    out: dict[str, Channel] = {}
    for name in only if only is not None else config.channels:
        try:
            if name == "console":
                out[name] = ConsoleChannel(config.console.target)
            elif name == "slack":
                url = _secret(env, config.slack.url_env, name)
                out[name] = SlackChannel(url, dashboard_url=config.dashboard_url)
            elif name == "webhook":
                url = _secret(env, config.webhook.url_env, name)
                token = (
                    _secret(env, config.webhook.token_env, name) if config.webhook.token_env else ""
                )
                out[name] = WebhookChannel(url, token=token, dashboard_url=config.dashboard_url)
            elif name == "email":
                e = config.email
                password = _secret(env, e.password_env, name) if e.username else ""
                tls = None
                if e.ca_file:
                    try:
                        tls = ssl.create_default_context(cafile=e.ca_file)
                    except (OSError, ssl.SSLError) as exc:
                        raise ChannelConfigError(f"channel email: ca_file: {exc}") from None
                out[name] = EmailChannel(
                    host=e.host,
                    port=e.port,
                    sender=e.sender,
                    recipients=e.recipients,
                    starttls=e.starttls,
                    username=e.username,
                    password=password,
                    subject_prefix=e.subject_prefix,
                    dashboard_url=config.dashboard_url,
                    tls_context=tls,
                )
            elif name == "alertmanager":
                am = config.alertmanager
                token = _secret(env, am.token_env, name) if am.token_env else ""
                out[name] = AlertmanagerChannel(
                    am.url,
                    token=token,
                    repost_s=am.repost_s,
                    silences=am.silences,
                    runbook_url=am.runbook_url,
                    dashboard_url=config.dashboard_url,
                    timeout_s=config.delivery.timeout_s,
                )
            else:
                raise ChannelConfigError(f"unknown channel {name!r}")
        except ChannelConfigError:
            raise
        except ValueError as exc:
            raise ChannelConfigError(f"channel {name}: {exc}") from None
    return out
