"""`make install` (behind `make demo` and `make test`) keeps pip's output out of the way: one
line on success, pip's messages in .venv/install.log, and their tail on stderr when it fails.

The recipe runs for real with a stand-in for the virtualenv's python that talks like pip."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FAKE_PIP = """#!/bin/sh
# "python -m pip install ...": many lines like pip's, and the exit code FAKE_PIP_RC says
for i in $(seq 1 60); do echo "Requirement already satisfied: package-$i"; done
echo "pip said: $*" >&2
exit "${FAKE_PIP_RC:-0}"
"""


def make_install(tmp_path: Path, rc: int) -> subprocess.CompletedProcess[str]:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(FAKE_PIP)
    python.chmod(0o755)
    return subprocess.run(
        ["make", "--no-print-directory", "-f", str(ROOT / "Makefile"), "-C", str(ROOT),
         "install", f"VENV={venv}", f"STAMP={venv}/.installed"],
        capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin",
                                                          "FAKE_PIP_RC": str(rc)},
    )  # fmt: skip


def test_a_successful_install_prints_one_line_and_logs_pip(tmp_path):
    done = make_install(tmp_path, 0)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"installing into {tmp_path}/venv (pip log: {tmp_path}/venv/install.log) ..."
    ]
    assert done.stderr == ""
    log = (tmp_path / "venv" / "install.log").read_text()
    assert "package-60" in log and "pip said: -m pip install -e .[dev,all]" in log
    assert (tmp_path / "venv" / ".installed").exists()


def test_a_failed_install_shows_the_end_of_pips_output(tmp_path):
    done = make_install(tmp_path, 1)
    assert done.returncode != 0
    assert "pip said: -m pip install --upgrade pip" in done.stderr  # the first step failed
    assert f"install failed; full log: {tmp_path}/venv/install.log" in done.stderr
    assert done.stderr.count("package-") <= 25  # the tail, not the whole log
    assert not (tmp_path / "venv" / ".installed").exists()
