"""The ``[execution.alerts]`` section: defaults from the runbook, file, environment, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from src.alerts.config import AlertsConfig, load_alerts_config
from src.common.config import ConfigError
from src.execution.config import load_config
from src.query.checks import CheckThresholds

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "execution.toml"


def test_defaults_agree_with_the_checks_of_the_viewer():
    """Alert defaults are the runbook's thresholds that --check uses, so both judge alike."""
    rules = AlertsConfig().rules
    t = CheckThresholds()
    assert (rules.latency.warn_p95_ms, rules.latency.crit_p95_ms) == (t.p95_warn_ms, t.p95_crit_ms)
    assert (rules.parse_errors.warn_rate, rules.parse_errors.crit_rate) == (
        t.parse_error_warn,
        t.parse_error_crit,
    )
    assert rules.errors.crit_rate == t.error_rate_crit
    assert rules.missing_fills.warn_after_s == t.fill_timeout_s
    assert (rules.reject_rate.warn_rate, rules.reject_rate.crit_rate) == (
        t.reject_rate_warn,
        t.reject_rate_crit,
    )
    assert rules.reject_rate.min_orders == t.reject_min_orders


def test_shipped_config_spells_out_the_defaults():
    """config/execution.toml's alerts section loads and equals the built-in defaults."""
    assert load_alerts_config(SHIPPED, env={}) == AlertsConfig()


def test_file_and_environment_set_alert_values(tmp_path):
    """Rule thresholds and channels come from the file; the environment overrides them."""
    path = tmp_path / "c.toml"
    path.write_text(
        "[execution.alerts]\nchannels = ['slack', 'email']\n"
        "[execution.alerts.rules.latency]\nwarn_p95_ms = 200.0\nlegs = ['order_to_fill']\n"
        "[execution.alerts.email]\nrecipients = ['a@x', 'b@x']\nstarttls = true\n"
    )
    alerts = load_alerts_config(path, env={"EXECUTION_ALERTS_RULES_LATENCY_CRIT_P95_MS": "900"})
    assert alerts.channels == ("slack", "email")
    assert alerts.rules.latency.warn_p95_ms == 200.0
    assert alerts.rules.latency.crit_p95_ms == 900.0
    assert alerts.rules.latency.legs == ("order_to_fill",)
    assert alerts.email.recipients == ("a@x", "b@x") and alerts.email.starttls is True


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("[execution.alerts]\nchannels = ['pager']\n", "execution.alerts.channels"),
        ("[execution.alerts.rules.latency]\nlegs = ['x']\n", "execution.alerts.rules.latency.legs"),
        ("[execution.alerts.slack]\nurl = 'https://hooks'\n", "execution.alerts.slack.url"),
        ("[execution.alerts.rules.errors]\nwindow_s = 0\n", "execution.alerts.rules.errors"),
        (
            "[execution.alerts.rules.gate_rejection]\nwarn_rate = 0.9\n",
            "warning threshold 0.9 is above critical 0.5",
        ),
        ("[execution.alerts.rules.stalled_session]\nactive = 'x'\n", "lock, recent"),
    ],
)
def test_bad_alert_settings_fail_naming_the_key(tmp_path, text, shown):
    """A bad key, value or inconsistent pair of thresholds stops loading with one line."""
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_alerts_config(path, env={})
    message = str(info.value)
    assert shown in message and "\n" not in message


def test_a_webhook_url_cannot_be_put_in_the_file(tmp_path):
    """Secrets are only named (url_env), so a URL in the file is an unknown key, not a secret."""
    path = tmp_path / "c.toml"
    path.write_text("[execution.alerts.webhook]\nurl = 'https://example/hook?token=s3cret'\n")
    with pytest.raises(ConfigError, match=r"unknown key execution\.alerts\.webhook\.url"):
        load_alerts_config(path, env={})


def test_the_trading_config_leaves_the_alerts_section_to_its_owner(tmp_path):
    """load_config (the trading process) neither carries nor judges [execution.alerts]; the
    alerts loader does, and an override of one of its keys reaches only it."""
    path = tmp_path / "c.toml"
    path.write_text("[execution.alerts]\nchannels = ['pager']\n")
    config = load_config(path, env={}, overrides={"execution.alerts.interval_s": 1.0})
    assert not hasattr(config, "alerts")
    with pytest.raises(ConfigError, match=r"execution\.alerts\.channels"):
        load_alerts_config(path, env={})
    path.write_text("")
    overridden = load_alerts_config(path, env={}, overrides={"execution.alerts.interval_s": 1.0})
    assert overridden.interval_s == 1.0
