"""Every installed command (pyproject's [project.scripts]): bad input is exit 3 and one
line, and its help names the installed command however it is started."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SCRIPTS: dict[str, str] = PYPROJECT["project"]["scripts"]
# The runbook's thin entry points and the command each one is.
WRAPPERS = {
    "scripts/view_execution_telemetry.py": "view-execution-telemetry",
    "scripts/telemetry_alerts.py": "telemetry-alerts",
    "scripts/ops/telemetry_health.py": "telemetry-health",
    "scripts/ops/telemetry_retention.py": "telemetry-retention",
}


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)


def installed(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is not installed in {BIN}: run make install"
    return str(path)


def test_every_wrapper_is_listed():
    """The wrapper table above covers every script in scripts/ (so none escapes the test)."""
    found = {str(p.relative_to(ROOT)) for p in (ROOT / "scripts").rglob("*.py")}
    assert found == set(WRAPPERS)
    assert set(WRAPPERS.values()) <= set(SCRIPTS)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_a_bogus_flag_is_exit_3_and_one_line(name):
    """argparse's own exit code is 2; every command reports a bad flag as 3, on one line."""
    done = run([installed(name), "--no-such-flag"])
    assert done.returncode == 3, (done.returncode, done.stderr)
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    assert "unrecognized arguments: --no-such-flag" in done.stderr


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_help_names_the_installed_command(name):
    """--help of the installed command and of `python -m module` say `usage: <command>`."""
    module = SCRIPTS[name].split(":")[0]
    for argv in ([installed(name), "--help"], [sys.executable, "-m", module, "--help"]):
        done = run(argv)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"usage: {name} "), done.stdout[:80]


@pytest.mark.parametrize(("script", "name"), sorted(WRAPPERS.items()))
def test_runbook_scripts_name_the_installed_command(script, name):
    """`python scripts/...py --help` names the command the README tells operators to use."""
    done = run([sys.executable, script, "--help"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: {name} ")
    assert ".py" not in done.stdout.splitlines()[0]


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("telemetry-dashboard", ["--port", "70000"], "invalid port '70000': must be 1-65535"),
        ("telemetry-dashboard", ["--port", "0"], "invalid port '0'"),
        ("telemetry-metrics", ["--port", "-1"], "invalid port '-1': must be 0-65535"),
        ("telemetry-demo", ["--port", "http"], "invalid port 'http'"),
    ],
)
def test_a_port_out_of_range_is_bad_input(name, args, message):
    """A port outside 1-65535 (0 only where it means any) is refused before binding: exit 3."""
    done = run([installed(name), *args])
    assert done.returncode == 3 and message in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("telemetry-health", ["--disk-warn-percent", "nan"], "invalid number 'nan'"),
        ("telemetry-health", ["--stale-warn-hours", "-5"], "invalid number '-5'"),
        ("telemetry-health", ["--write-error-window-minutes", "inf"], "invalid number 'inf'"),
        ("telemetry-demo", ["--interval", "nan"], "invalid number 'nan'"),
        ("telemetry-demo", ["--interval", "inf"], "invalid number 'inf'"),
        ("telemetry-collect", ["--log-level", "LOUD"], "invalid choice: 'LOUD'"),
        ("telemetry-metrics", ["--log-level", "root"], "invalid choice: 'ROOT'"),
    ],
)
def test_a_number_or_level_that_means_nothing_is_bad_input(name, args, message, tmp_path):
    """NaN, infinity and negative durations or thresholds, an unknown log level: exit 3 on one
    line before anything runs (they used to run with them, or end in a traceback)."""
    where = {
        "telemetry-health": ["--root", str(tmp_path)],
        "telemetry-demo": ["--base-path", str(tmp_path), "--ticks", "2"],
    }.get(name, [])
    done = run([installed(name), *where, *args])
    assert done.returncode == 3 and message in done.stderr, (done.returncode, done.stderr)
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
