"""Dashboard settings: [dashboard] of the config file, the environment, the command line."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from src.common.config import read_config_file
from src.execution.config import load_config
from src.webui.settings import DashboardConfig, WebSettings

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "execution.toml"
    path.write_text(text)
    return {"EXECUTION_CONFIG": str(path)}


def test_the_dashboard_table_sets_the_settings_and_flags_and_environment_win(tmp_path):
    env = _config(
        tmp_path,
        '[execution.telemetry]\nbase_path = "from-telemetry"\n'
        "[dashboard]\nport = 8123\ndefault_limit = 50\nmax_cached_sessions = 7\n"
        "summary_max_age_s = 0.5\n",
    )
    settings = WebSettings.from_environment(env)
    assert (settings.port, settings.default_limit, settings.max_cached_sessions) == (8123, 50, 7)
    assert settings.summary_max_age_s == 0.5
    assert settings.base_path == Path("from-telemetry")  # [dashboard] base_path = "" (default)
    assert WebSettings.from_environment({**env, "DASHBOARD_PORT": "8124"}).port == 8124
    flagged = WebSettings.from_environment(
        {**env, "DASHBOARD_PORT": "8124"}, port=8125, base_path="elsewhere"
    )
    assert flagged.port == 8125 and flagged.base_path == Path("elsewhere")


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ('port = "eight"', "dashboard.port: 'eight'"),
        ("port = 70000", "dashboard.port: 70000"),
        ("colour = 1", "dashboard.colour = 1"),
        ("max_limit = 100", "default_limit = 200 is above max_limit = 100"),
    ],
)
def test_a_bad_dashboard_key_or_value_exits_3_with_one_line_naming_it(tmp_path, table, named):
    env = {**os.environ, **_config(tmp_path, f"[dashboard]\n{table}\n")}
    env.pop("DASHBOARD_PORT", None)
    done = subprocess.run(
        [sys.executable, "-m", "src.webui.server", "--path", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert named in done.stderr and done.stderr.count("\n") == 1


def test_a_bad_port_in_the_environment_names_the_variable(tmp_path):
    env = _config(tmp_path, "")
    with pytest.raises(ValueError, match=r"\$DASHBOARD_PORT: invalid value for dashboard.port"):
        WebSettings.from_environment({**env, "DASHBOARD_PORT": "0"})


def test_the_trading_path_loads_a_file_with_a_dashboard_table(tmp_path):
    """The dashboard's table is its own: the execution loader accepts it, unread."""
    env = _config(tmp_path, '[execution]\nmode = "paper"\n[dashboard]\nport = 8001\n')
    assert load_config(env=env).mode == "paper"


def test_the_shipped_config_documents_every_dashboard_key_at_its_default():
    table = read_config_file(ROOT / "config" / "execution.toml").table("dashboard")
    assert table == dataclasses.asdict(DashboardConfig())
    defaults = WebSettings()
    for key, value in table.items():
        if key != "base_path":
            assert getattr(defaults, key) == value, key
