"""[execution.telemetry.retention] and [execution.telemetry.health]: loaded by src/ops."""

from __future__ import annotations

import pytest

from src.common.config import ConfigError, read_config_file
from src.execution.config import load_config
from src.ops.health.config import HealthConfig, load_health_config
from src.ops.retention.config import RetentionConfig, load_retention_config
from src.ops.retention.policy import RetentionPolicy


def test_retention_and_health_tables_are_read(tmp_path):
    """The two tables reach the ops dataclasses; the trading config carries neither."""
    path = tmp_path / "execution.toml"
    path.write_text(
        """
[execution.telemetry]
heartbeat_interval_s = 2.5
retention_days = 9
compression = false

[execution.telemetry.retention]
keep_last_n = 10
max_total_mb = 0
compress_after_days = 3
live_grace_minutes = 30

[execution.telemetry.health]
disk_warn_percent = 70.0
retention_stale_warn_hours = 30
"""
    )
    file = read_config_file(path, env={})
    telemetry = load_config(file=file, env={}).telemetry
    assert telemetry.heartbeat_interval_s == 2.5
    assert not hasattr(telemetry, "retention") and not hasattr(telemetry, "health")
    r = load_retention_config(file=file, env={})
    assert r == RetentionConfig(
        keep_last_n=10, max_total_mb=0, compress_after_days=3, live_grace_minutes=30
    )
    h = load_health_config(file=file, env={})
    assert h.disk_warn_percent == 70.0 and h.retention_stale_warn_hours == 30.0
    assert h.sample_files == HealthConfig().sample_files
    policy = RetentionPolicy.from_config(telemetry, r)
    assert (policy.max_age_days, policy.keep_last_n, policy.compress_after_days) == (9, 10, 0)


def test_retention_keys_follow_environment_and_fail_naming_the_key(tmp_path):
    """Nested keys keep their environment names, and a bad value names key and value."""
    env = {"EXECUTION_TELEMETRY_RETENTION_KEEP_LAST_N": "5"}
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    assert load_retention_config(empty, env=env).keep_last_n == 5
    path = tmp_path / "bad.toml"
    path.write_text("[execution.telemetry.retention]\nlive_grace_minutes = 0\n")
    with pytest.raises(ConfigError, match=r"retention\.live_grace_minutes: 0 "):
        load_retention_config(path, env={})
    path.write_text("[execution.telemetry.health]\nsample_lines = 'many'\n")
    with pytest.raises(ConfigError, match=r"health\.sample_lines: 'many' "):
        load_health_config(path, env={})
    path.write_text("[execution.telemetry.health]\nsample_line = 5\n")
    with pytest.raises(ConfigError, match=r"unknown key execution\.telemetry\.health\.sample_line"):
        load_health_config(path, env={})


def test_the_shipped_file_spells_out_the_ops_defaults():
    """config/execution.toml keeps its keys: its ops tables equal the built-in defaults."""
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[2] / "config" / "execution.toml"
    file = read_config_file(shipped, env={})
    assert load_retention_config(file=file, env={}) == RetentionConfig()
    assert load_health_config(file=file, env={}) == HealthConfig()
