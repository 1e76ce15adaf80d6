"""Shared fixtures: event factories and a repository-root path for subprocess tests."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from src.execution.events import ExecutionEvent

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def python() -> str:
    return sys.executable


@pytest.fixture
def make_event() -> Callable[..., ExecutionEvent]:
    """Build a fill event with overridable fields."""

    def build(**overrides: Any) -> ExecutionEvent:
        fields: dict[str, Any] = {
            "ts": datetime(2025, 1, 1, 12, 0, 2, tzinfo=UTC),
            "session_id": "session_123",
            "symbol": "BTC-USD",
            "mode": "paper",
            "kind": "fill",
            "payload": {
                "client_id": "ord_001",
                "filled_quantity": 1.0,
                "fill_price": 100020.0,
                "fill_notional": 100020.0,
                "fill_fee": 10.0,
            },
        }
        fields.update(overrides)
        return ExecutionEvent(**fields)

    return build


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory):
    """A real redis-server on a free 127.0.0.1 port (nothing persisted), stopped afterwards."""
    import shutil

    from src.streaming.redis_server import RedisServer

    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: run scripts/install_system_deps.sh")
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_client(redis_server):
    """A redis-py client for the redis_server fixture, closed afterwards (no leaked sockets)."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    try:
        yield client
    finally:
        client.close()


def drain(collector: Any, rounds: int = 200) -> None:
    """Step a collector until a round finds nothing to do (bounded)."""
    idle = 0
    for _ in range(rounds):
        idle = idle + 1 if collector.step() == 0 else 0
        if idle >= 2:
            return
    raise AssertionError("collector never went idle")


@contextlib.contextmanager
def alerts_run(*args: str) -> Iterator[subprocess.Popen[str]]:
    """``scripts/telemetry_alerts.py run --interval 0.05 ARGS`` as a real process (text
    pipes), killed and reaped afterwards whatever the test did."""
    proc = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "scripts" / "telemetry_alerts.py"), "run",
         "--interval", "0.05", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
