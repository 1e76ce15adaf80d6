"""telemetry_health: text and JSON output, exit codes 0/1/2/3, script and console command."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pytest

from src.ops.health import checks
from src.ops.health.cli import EXIT_CRITICAL, EXIT_INPUT, EXIT_OK, EXIT_WARNING, main

ROOT = Path(__file__).resolve().parents[3]
Usage = namedtuple("Usage", "total used free")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No repository config, and a filesystem that is half full unless a test says otherwise."""
    for name in [n for n in os.environ if n.startswith("EXECUTION_")]:
        monkeypatch.delenv(name)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setattr(checks.shutil, "disk_usage", lambda _p: Usage(100, 50, 50))


def cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), stdout=out), out.getvalue()


def test_healthy_root_exits_0_with_one_line_per_check(root, make_session):
    """Text output: overall status, then one line per check."""
    make_session("s")
    code, text = cli("--root", str(root))
    assert code == EXIT_OK
    lines = text.splitlines()
    assert lines[0] == "Telemetry health: OK"
    checks_named = [line.split()[1] for line in lines[2:]]
    assert checks_named == ["disk", "root_size", "parse_errors", "retention", "writers"]


def test_warning_exits_1(root, make_session, monkeypatch):
    """A filesystem 85% full is a warning."""
    make_session("s")
    monkeypatch.setattr(checks.shutil, "disk_usage", lambda _p: Usage(100, 85, 15))
    code, text = cli("--root", str(root))
    assert code == EXIT_WARNING and text.startswith("Telemetry health: WARNING")


def test_critical_exits_2_and_json_says_why(root, make_session):
    """Mostly broken newest lines are critical; --json carries every check."""
    path = make_session("s")
    with open(path, "ab") as fh:
        fh.write(b"broken\n" * 10)
    code, text = cli("--root", str(root), "--json")
    doc = json.loads(text)
    assert code == doc["exit_code"] == EXIT_CRITICAL
    assert doc["status"] == "critical"
    bad = [c for c in doc["checks"] if c["severity"] == "critical"]
    assert [c["check"] for c in bad] == ["parse_errors"]


def test_thresholds_from_flags_and_config(root, make_session, monkeypatch, tmp_path):
    """Flags beat the [execution.telemetry.health] table, which beats the defaults."""
    make_session("s")
    monkeypatch.setattr(checks.shutil, "disk_usage", lambda _p: Usage(100, 60, 40))
    config = tmp_path / "execution.toml"
    config.write_text(
        f'[execution.telemetry]\nbase_path = "{root}"\n\n'
        "[execution.telemetry.health]\ndisk_warn_percent = 55.0\n"
    )
    assert cli("--config", str(config))[0] == EXIT_WARNING
    assert cli("--config", str(config), "--disk-warn-percent", "70")[0] == EXIT_OK


@pytest.mark.parametrize(
    "args",
    [
        ["--root", "/var/log"],
        ["--root", "/nonexistent/logs"],
        ["--disk-warn-percent", "95", "--disk-crit-percent", "90"],
        ["--sample-files", "0"],
    ],
)
def test_bad_input_exits_3_with_one_line(root, capsys, args):
    """Unsafe roots and inconsistent thresholds are one line on stderr, exit 3."""
    full = args if args[0] == "--root" else ["--root", str(root), *args]
    assert main(full) == EXIT_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")


def test_help_documents_the_exit_codes():
    """--help lists 0 healthy, 1 warning, 2 critical, 3 bad input."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "ops" / "telemetry_health.py"), "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for line in ("0  healthy", "1  warning", "2  critical", "3  bad input"):
        assert line in done.stdout


def test_console_command_is_installed(root, make_session):
    """`telemetry-health` runs as a console script (here: exit 0 on a healthy root)."""
    make_session("s")
    exe = Path(sys.executable).parent / "telemetry-health"
    done = subprocess.run([str(exe), "--root", str(root)], capture_output=True, text=True)
    assert done.returncode in (EXIT_OK, EXIT_WARNING)  # a real disk may be fuller than 80%
    assert done.stdout.startswith("Telemetry health:")
