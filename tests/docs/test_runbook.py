"""Every shell command in docs/runbook.md runs against the golden fixtures as printed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "runbook.md"
FIXTURES = ROOT / "tests" / "fixtures" / "execution_telemetry"
BLOCK = re.compile(r"```bash(?P<info>[^\n]*)\n(?P<body>.*?)```", re.S)


def blocks() -> list[tuple[str, int]]:
    found = []
    for m in BLOCK.finditer(RUNBOOK.read_text()):
        expect = re.search(r"expect-exit=(\d+)", m.group("info"))
        found.append((m.group("body"), int(expect.group(1)) if expect else 0))
    return found


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A project-like directory: scripts/ and src/ from the repo, fixtures as logs/execution."""
    work = tmp_path_factory.mktemp("runbook")
    os.symlink(ROOT / "scripts", work / "scripts")
    os.symlink(ROOT / "src", work / "src")
    shutil.copytree(FIXTURES, work / "logs" / "execution", ignore=shutil.ignore_patterns("*.py"))
    return work


def test_runbook_has_commands():
    """The runbook is not empty of commands (so the parametrised test below means something)."""
    assert len(blocks()) >= 10


@pytest.mark.parametrize(("body", "expected"), blocks(), ids=lambda v: str(v)[:60])
def test_runbook_command_runs(workdir, body, expected):
    """The block exits as documented and prints something useful (or, for checks, nothing)."""
    script = body.replace("SESSION_ID", "session_clean")
    if "SESSION_ID" in body and "--check" in body:
        script = body.replace("SESSION_ID", "session_latency")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == expected, done.stderr
    assert "Traceback" not in done.stderr
    if "sort -c" not in body and "> /dev/null" not in body:
        assert done.stdout.strip(), f"no output from: {script}"
