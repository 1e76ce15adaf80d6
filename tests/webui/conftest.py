"""Fixtures for the dashboard: an app over a copy of the golden logs, and a real server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from src.webui.app import create_app
from src.webui.settings import WebSettings
from tests.webui.loopback import loopback_client

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
    with loopback_client(create_app(settings=settings)) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(app, port: int | None = None, *, must_stop: bool = False):
    """``app`` served by a real uvicorn server in a thread on a loopback port; yields
    ``(base_url, port)`` and stops the server (its shutdown runs) on leaving; with
    ``must_stop``, a server still running 10 s later fails the test."""
    port = free_port() if port is None else port
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.started, "server did not start"
    try:
        yield f"http://127.0.0.1:{port}", port
    finally:
        srv.should_exit = True
        thread.join(10)
        assert not (must_stop and thread.is_alive()), "server did not stop"


@pytest.fixture
def server(logs):
    """A real uvicorn server on a free loopback port, stopped after the test."""
    port = free_port()
    settings = WebSettings(base_path=logs, port=port, poll_interval_s=0.05, summary_max_age_s=0)
    with serving(create_app(settings=settings), port) as (url, _):
        yield url


class AppProcess:
    """``python -m uvicorn src.webui.app:app`` in a child process (see ``uvicorn_app``)."""

    def __init__(self, proc: subprocess.Popen, port: int, stderr: Path) -> None:
        self.proc = proc
        self.port = port
        self.stderr_path = stderr

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


@pytest.fixture
def uvicorn_app(repo_root, tmp_path, logs):
    """Start the app as the README does: ``uvicorn src.webui.app:app`` over ``logs``, with
    the config from a file and the environment given; stopped (SIGTERM, then kill) after."""
    started: list[AppProcess] = []

    @contextmanager
    def start(host: str = "127.0.0.1", env: dict[str, str] | None = None):
        config = tmp_path / "execution.toml"
        config.write_text(f"[execution.telemetry]\nbase_path = '{logs}'\n")
        full = {k: v for k, v in os.environ.items() if k != "TELEMETRY_DASHBOARD_TOKEN"}
        full.update({"EXECUTION_CONFIG": str(config), **(env or {})})
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        stderr = tmp_path / f"uvicorn-{len(started)}.err"
        cmd = [sys.executable, "-m", "uvicorn", "src.webui.app:app", "--host", host]
        with stderr.open("wb") as err:
            proc = subprocess.Popen(
                [*cmd, "--port", str(port), "--log-level", "warning"],
                cwd=repo_root,
                env=full,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        app = AppProcess(proc, port, stderr)
        started.append(app)
        wait_listening(proc, port, lambda: app.stderr)
        try:
            yield app
        finally:
            _stop(proc)

    yield start
    for app in started:
        _stop(app.proc)


def wait_listening(
    proc: subprocess.Popen, port: int, stderr: Callable[[], str] = lambda: ""
) -> None:
    """Wait (up to 30 s) until the server process ``proc`` accepts connections on ``port``."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            assert proc.poll() is None, f"the server exited: {stderr()}"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
