"""The scale-out config tables: [execution.telemetry.redis], .collector and .prometheus."""

from __future__ import annotations

from pathlib import Path

import pytest

from src.execution.config import (
    ConfigError,
    PrometheusConfig,
    RedisConfig,
    load_config,
)
from src.streaming.config import CollectorConfig, load_collector_config

SHIPPED_CONFIG = Path(__file__).resolve().parents[2] / "config" / "execution.toml"


def test_shipped_file_keeps_jsonl_and_documents_every_scale_key():
    """The shipped config stays on JSONL and spells out the defaults of the new tables."""
    config = load_config(SHIPPED_CONFIG, env={})
    assert config.telemetry.backend == ("jsonl",)
    assert config.telemetry.redis == RedisConfig()
    assert load_collector_config(SHIPPED_CONFIG, env={}) == CollectorConfig()
    assert config.telemetry.prometheus == PrometheusConfig()
    text = SHIPPED_CONFIG.read_text(encoding="utf-8")
    for table in ("redis", "collector", "prometheus"):
        assert f"[execution.telemetry.{table}]" in text


def test_tables_are_read_from_the_file(tmp_path):
    """Values in the three tables reach the frozen dataclasses."""
    path = tmp_path / "execution.toml"
    path.write_text(
        """
[execution.telemetry]
backend = ["jsonl", "redis", "prometheus"]

[execution.telemetry.redis]
url = "redis://10.0.0.5:6380/2"
stream = "desk:events"
maxlen = 0
queue_size = 10
batch_size = 7
backoff_max_s = 0.5

[execution.telemetry.collector]
archive_path = "/srv/archive"
group = "g"
consumer = "c1"
claim_idle_ms = 0
dedup_capacity = 1000

[execution.telemetry.prometheus]
port = 9108
addr = "0.0.0.0"
pending_max = 5
""",
        encoding="utf-8",
    )
    t = load_config(path, env={}).telemetry
    c = load_collector_config(path, env={})
    assert t.backend == ("jsonl", "redis", "prometheus")
    assert t.redis == RedisConfig(
        url="redis://10.0.0.5:6380/2", stream="desk:events", maxlen=0, queue_size=10,
        batch_size=7, backoff_max_s=0.5,
    )  # fmt: skip
    assert (c.archive_path, c.group, c.consumer) == (
        "/srv/archive", "g", "c1",
    )  # fmt: skip
    assert c.claim_idle_ms == 0 and c.dedup_capacity == 1000
    assert t.prometheus == PrometheusConfig(port=9108, addr="0.0.0.0", pending_max=5)


def test_environment_overrides_the_redis_url(tmp_path):
    """EXECUTION_TELEMETRY_REDIS_URL (where a password belongs) wins over the file."""
    path = tmp_path / "execution.toml"
    path.write_text('[execution.telemetry.redis]\nurl = "redis://file:6379/0"\n', encoding="utf-8")
    env = {"EXECUTION_TELEMETRY_REDIS_URL": "redis://:pw@env:6379/0"}
    assert load_config(path, env=env).telemetry.redis.url == "redis://:pw@env:6379/0"
    overridden = load_config(
        path, env=env, overrides={"execution.telemetry.redis.url": "redis://cli:1/0"}
    )
    assert overridden.telemetry.redis.url == "redis://cli:1/0"


@pytest.mark.parametrize(
    ("table", "line", "key"),
    [
        ("redis", "maxlen = -1", "execution.telemetry.redis.maxlen"),
        ("redis", "queue_size = 0", "execution.telemetry.redis.queue_size"),
        ("redis", "timeout_s = 0", "execution.telemetry.redis.timeout_s"),
        ("redis", "nope = 1", "execution.telemetry.redis.nope"),
        ("collector", "batch_size = 0", "execution.telemetry.collector.batch_size"),
        ("collector", 'claim_idle_ms = "soon"', "execution.telemetry.collector.claim_idle_ms"),
        ("prometheus", "port = -5", "execution.telemetry.prometheus.port"),
    ],
)
def test_bad_values_fail_naming_the_key(tmp_path, table, line, key):
    """A bad value in a new table stops start-up with a message naming the key."""
    path = tmp_path / "execution.toml"
    path.write_text(f"[execution.telemetry.{table}]\n{line}\n", encoding="utf-8")
    load = load_collector_config if table == "collector" else load_config
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load(path, env={})
