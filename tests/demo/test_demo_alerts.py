"""The demo runs the alert engine next to its dashboard, so the alerts panel is live."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from src.demo.paper_session import main

SHIPPED_CONFIG = Path(__file__).resolve().parents[2] / "config" / "execution.toml"


@pytest.fixture(autouse=True)
def no_execution_env(monkeypatch):
    """Keep a developer's EXECUTION_* variables from changing what the demo does."""
    for name in [n for n in os.environ if n.startswith("EXECUTION_")]:
        monkeypatch.delenv(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo(tmp_path: Path, *extra: str) -> int:
    return main(
        [
            "--config",
            str(SHIPPED_CONFIG),
            "--base-path",
            str(tmp_path),
            "--ticks",
            "300",
            "--interval",
            "0",
            "--session",
            "demo-alerts",
            "--dashboard",
            "--exit-when-done",
            "--port",
            str(free_port()),
            *extra,
        ]
    )


def test_demo_with_dashboard_evaluates_alerts_into_the_state_file(tmp_path, capsys):
    """--dashboard: the engine judged the demo session and left its state for the panel."""
    assert demo(tmp_path) == 0
    assert "alerts: evaluated every 2 s" in capsys.readouterr().out
    state = json.loads((tmp_path / ".alerts" / "state.json").read_text())
    assert state["evaluated_at"] and state["outbox"] == []


def test_no_alerts_flag_leaves_the_engine_off(tmp_path, capsys):
    """--no-alerts: no engine, no state file."""
    assert demo(tmp_path, "--no-alerts") == 0
    assert not (tmp_path / ".alerts").exists()


def test_the_start_up_output_ends_with_the_live_page_url(tmp_path, capsys):
    """What `make demo` shows before the session runs: a few lines, the URL last."""
    assert demo(tmp_path) == 0
    out = capsys.readouterr().out.splitlines()
    url = next(i for i, line in enumerate(out) if line.startswith("dashboard: http://"))
    assert out[url].endswith("/live/execution/demo-alerts")
    assert url <= 3 and not any(line.startswith("dashboard:") for line in out[url + 1 :])
    assert out[url + 1].startswith("done in ")  # nothing printed between the URL and the run


def test_a_bad_alerts_setting_stops_the_demo_at_start_up(tmp_path, capsys):
    """[execution.alerts] is the alerts package's own section now; the demo still loads it
    before anything runs, so a bad value is one line naming it and exit 3."""
    config = tmp_path / "bad.toml"
    config.write_text(
        SHIPPED_CONFIG.read_text().replace('channels = ["console"]', "channels = ['pager']")
    )
    code = main(
        ["--config", str(config), "--base-path", str(tmp_path / "logs"), "--ticks", "1",
         "--interval", "0", "--session", "x", "--dashboard", "--exit-when-done",
         "--port", str(free_port())]
    )  # fmt: skip
    assert code == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "execution.alerts.channels" in err and "'pager'" in err
    assert not (tmp_path / "logs").exists()
