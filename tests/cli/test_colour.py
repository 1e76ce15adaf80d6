"""``--check`` and ``telemetry-alerts list`` colour severities on a terminal only: a real
pseudo-terminal gets ANSI colours, a pipe never does, and NO_COLOR turns them off."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time

import pytest

from tests.alerts.conftest import event_line
from tests.conftest import REPO_ROOT
from tests.query import lifecycle_session as life

BIN = os.path.dirname(sys.executable)
RED, YELLOW = "\x1b[1;31m", "\x1b[33m"


def on_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.stderr is not None
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    code = proc.wait(timeout=120)
    assert "Traceback" not in stderr, stderr
    return code, b"".join(chunks).decode("utf-8", "replace")


def piped(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout


def environ(no_color: bool) -> dict[str, str]:
    env = {**os.environ, "COLUMNS": "200", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    if no_color:
        env["NO_COLOR"] = "1"
    return env


@pytest.fixture
def alert_config(tmp_path):
    """A session with recent errors (an open warning in the state file) and its config."""
    logs = tmp_path / "logs"
    logs.mkdir()
    now = time.time()
    with (logs / "s1.jsonl").open("wb") as fh:
        for i in range(25):  # over min_events, all errors: critical
            fh.write(event_line(now - 5 + i * 0.1, "error", error="venue \x1b[2Jdown"))
    config = tmp_path / "alerts.toml"
    config.write_text(
        f"[execution.telemetry]\nbase_path = '{logs}'\n"
        "[execution.alerts]\nchannels = ['console']\n"
        "[execution.alerts.console]\ntarget = 'log'\n"
    )
    alerts = os.path.join(BIN, "telemetry-alerts")
    code, _ = piped([alerts, "check", "--config", str(config)], environ(False))
    assert code == 2  # errors are all the events: critical
    return [alerts, "list", "--config", str(config)]


@pytest.fixture
def check_argv(tmp_path):
    life.write(tmp_path)
    return [
        os.path.join(BIN, "view-execution-telemetry"),
        "--path", str(tmp_path), "--session", life.SESSION, "--check",
    ]  # fmt: skip


def test_check_is_coloured_on_a_terminal_only(check_argv):
    code, text = on_terminal(check_argv, environ(False))
    assert code == 1
    assert f"{YELLOW}WARNING " in text and "missing_fills" in text
    assert f"status: {YELLOW}WARNING\x1b[0m" in text
    code, text = piped(check_argv, environ(False))
    assert code == 1 and "\x1b" not in text
    # Judged now: the DAY order o9 is past its deadline too.
    assert "WARNING  missing_fills: 3 orders without a fill past their deadline" in text
    assert text.splitlines()[-1] == "status: WARNING"
    code, text = on_terminal(check_argv, environ(True))
    assert code == 1 and "\x1b" not in text


def test_alerts_list_is_coloured_on_a_terminal_only(alert_config):
    code, text = on_terminal(alert_config, environ(False))
    assert code == 0
    assert f"{RED}CRITICAL" in text and "errors:s1" in text
    assert "\x1b[2J" not in text  # the log's own escape sequence is still removed
    code, text = piped(alert_config, environ(False))
    assert code == 0 and "\x1b" not in text and text.startswith("CRITICAL firing   errors:s1")
    code, text = on_terminal(alert_config, environ(True))
    assert code == 0 and "\x1b" not in text and "CRITICAL" in text
