"""The viewer's line output (``src/cli/json_lines.py``), shared by ``--json``, ``--orders
--json`` and ``--follow --json``: a reader that closes the pipe early (``| head -1``) ends
the output quietly, exit 0 and nothing on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.query.orders_sessions import T0, line

ROOT = Path(__file__).resolve().parents[2]
ORDERS = 2_000  # ~1 MB of events, 500 order rows: far more than a pipe buffer holds


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("logs")
    with (root / "big.jsonl").open("w") as fh:
        for n in range(ORDERS):
            t = T0 + n
            fh.write(line(t, "intent", session="big", intent_id=f"i{n}", side="buy", quantity=1.0))
            fh.write("\n")
            fh.write(line(t + 0.001, "order", session="big", client_id=f"c{n}", intent_id=f"i{n}"))
            fh.write("\n")
    return root


@pytest.mark.parametrize("flags", [["--json"], ["--orders", "--json", "--limit", "500"]])
def test_a_reader_closing_the_pipe_ends_the_output_quietly(base, flags):
    cmd = [sys.executable, "scripts/view_execution_telemetry.py", "--path", str(base)]
    with subprocess.Popen(
        [*cmd, "--session", "big", *flags],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = json.loads(proc.stdout.readline())
        proc.stdout.close()  # as `| head -1` does
        err = proc.stderr.read()
        assert proc.wait(60) == 0 and err == b""
    assert first.get("session_id", first.get("id")) in ("big", "c1999")
