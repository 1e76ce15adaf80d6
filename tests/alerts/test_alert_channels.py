"""Channel factory and console channel: secrets from the environment, one line per alert."""

from __future__ import annotations

import io
import logging

import pytest

from src.alerts.channels import (
    ChannelConfigError,
    ConsoleChannel,
    SlackChannel,
    WebhookChannel,
    build_channels,
)
from src.alerts.config import AlertsConfig, WebhookChannelConfig


def test_webhook_urls_come_from_the_named_environment_variables():
    """slack and webhook read their URL (and token) from the variables the config names."""
    config = AlertsConfig(
        channels=("console", "slack", "webhook"),
        webhook=WebhookChannelConfig(url_env="HOOK", token_env="HOOK_TOKEN"),
    )
    env = {
        "TELEMETRY_ALERTS_SLACK_URL": "https://hooks.example/services/T/B/xyz",
        "HOOK": "http://127.0.0.1:9/x?key=abc",
        "HOOK_TOKEN": "t0k",
    }
    channels = build_channels(config, env)
    assert list(channels) == ["console", "slack", "webhook"]
    assert isinstance(channels["slack"], SlackChannel)
    assert channels["slack"].target == "https://hooks.example"
    assert isinstance(channels["webhook"], WebhookChannel)
    assert channels["webhook"].secrets == ("http://127.0.0.1:9/x?key=abc", "t0k")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, r"channel slack: \$TELEMETRY_ALERTS_SLACK_URL is not set"),
        ({"TELEMETRY_ALERTS_SLACK_URL": "ftp://x/secret-path"}, "not an http"),
    ],
)
def test_a_missing_or_bad_secret_fails_without_echoing_it(env, message):
    """The error names the variable; a bad URL is rejected without printing it."""
    with pytest.raises(ChannelConfigError, match=message) as info:
        build_channels(AlertsConfig(channels=("slack",)), env)
    assert "secret-path" not in str(info.value)


def test_console_writes_one_line_per_notification(note):
    """Time, ALERT, headline, message and the key to acknowledge it with, on one line."""
    out = io.StringIO()
    ConsoleChannel(stream=out).send(note(), timeout=1)
    line = out.getvalue()
    assert line.count("\n") == 1
    assert line.startswith("2026-01-02T00:00:00+00:00 ALERT CRITICAL FIRING: latency on s1")
    assert line.rstrip().endswith("[latency:s1:order_to_fill]")


def test_console_log_target_uses_the_severity_as_level(note, caplog):
    """target = "log": critical alerts at CRITICAL, resolutions at INFO."""
    caplog.set_level(logging.INFO, logger="src.alerts.console")
    channel = ConsoleChannel("log")
    channel.send(note(), timeout=1)
    channel.send(note(event="resolved"), timeout=1)
    assert [r.levelno for r in caplog.records] == [logging.CRITICAL, logging.INFO]
