"""Fixtures for the dashboard: an app over a copy of the golden logs, and a real server."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from src.webui.app import create_app
from src.webui.settings import WebSettings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "execution_telemetry"


@pytest.fixture
def logs(tmp_path) -> Path:
    base = tmp_path / "logs" / "execution"
    shutil.copytree(FIXTURES, base, ignore=shutil.ignore_patterns("*.py"))
    return base


@pytest.fixture
def client(logs) -> TestClient:
    settings = WebSettings(base_path=logs, summary_max_age_s=0)
    # A loopback client: without a token the app answers nothing else.
    with TestClient(
        create_app(settings=settings), base_url="http://127.0.0.1", client=("127.0.0.1", 50000)
    ) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(logs):
    """A real uvicorn server on a free loopback port, stopped after the test."""
    port = free_port()
    settings = WebSettings(base_path=logs, port=port, poll_interval_s=0.05, summary_max_age_s=0)
    config = uvicorn.Config(
        create_app(settings=settings), host="127.0.0.1", port=port, log_level="warning"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.started, "server did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)
