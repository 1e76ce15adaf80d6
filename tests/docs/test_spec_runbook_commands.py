"""The user's incident runbook commands (viewer sections 1-7 and its self-test), as written.

Only the command lines are kept here; they are the contract operators paste during incidents.
Retention and dashboard commands are pinned by their own tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "execution_telemetry"
V = "python scripts/view_execution_telemetry.py"

COMMANDS = [
    f"{V} --session SESSION_ID --type fill --limit 50 --timeline 50",
    f"{V} --symbol BTC-USD --limit 200 --summary",
    f"{V} --session SESSION_ID --json > /tmp/session_events.jsonl\n"
    'grep \'"kind": "order"\' /tmp/session_events.jsonl | wc -l\n'
    'grep \'"kind": "fill"\' /tmp/session_events.jsonl | wc -l',
    f"{V} --session SESSION_ID --summary",
    f'{V} --session SESSION_ID --from "2025-12-20T10:00:00Z" '
    '--to "2025-12-20T10:05:00Z" --timeline 100',
    f"{V} --path logs/execution --summary",
    "ls -lht logs/execution/*.jsonl | head -20",
    'find logs/execution -name "*.jsonl" -mtime -1',
    'grep -l "BTC-USD" logs/execution/*.jsonl',
    f"{V} --session SESSION_ID --json | jq -r '.ts' | sort -c",
    f"{V} --help",
    f"{V} --path tests/fixtures/execution_telemetry --summary",
    "zcat logs/execution/session_archived.jsonl.gz | head -20",
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("spec-runbook")
    for name in ("scripts", "src", "tests"):
        os.symlink(ROOT / name, work / name)
    shutil.copytree(FIXTURES, work / "logs" / "execution", ignore=shutil.ignore_patterns("*.py"))
    return work


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.split("\n")[0][:70])
def test_spec_runbook_command(workdir, command):
    """Each command exits 0 with output (sort -c and find stay silent when all is well)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    script = command.replace("SESSION_ID", "session_clean")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    if "sort -c" not in command and "-mtime" not in command:
        assert done.stdout.strip()


def test_order_and_fill_counts_match_the_raw_log(workdir):
    """Section 3's grep counts on the --json export equal the counts in the raw log."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    export = f'{V} --session session_clean --json | grep -c \'"kind": "order"\''
    raw = 'grep -c \'"kind": "order"\' logs/execution/session_clean.jsonl'
    counts = [
        subprocess.run(
            ["bash", "-c", c], cwd=workdir, env=env, capture_output=True, text=True
        ).stdout.strip()
        for c in (export, raw)
    ]
    assert counts == ["4", "4"]
