"""A naive ts from the emitting side is local time and is written as its UTC instant.

Run in a child process with a fixed zone (``TZ=XXX-1``: UTC+1, no daylight saving), so
the host's own zone does not matter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from tests.conftest import REPO_ROOT

_EMIT = """
import sys, time
from datetime import UTC, datetime
from src.execution.events import ExecutionEvent
from src.execution.telemetry.jsonl import JsonlExecutionLogger

time.tzset()
logger = JsonlExecutionLogger(sys.argv[1])
before = datetime.now(UTC)
naive = datetime.now()  # the spec's example: local wall-clock time, no zone
logger.emit(ExecutionEvent(ts=naive, session_id="berlin", symbol="BTC-USD", mode="paper",
                           kind="intent", payload={"side": "buy", "quantity": 1.0}))
logger.emit(ExecutionEvent(ts=datetime.now(UTC), session_id="berlin", symbol="BTC-USD",
                           mode="paper", kind="intent", payload={"side": "sell", "quantity": 1.0}))
logger.close()
logged = ExecutionEvent.from_dict({"ts": "2025-01-01T12:00:00", "session_id": "s",
                                   "kind": "fill", "mode": "paper"})
print(naive.isoformat(), before.isoformat(), logged.ts.isoformat())
"""


def test_naive_local_time_is_written_as_utc_without_a_backward_step(tmp_path):
    """On a host at UTC+1, datetime.now() is written as the UTC instant (not an hour ahead),
    and a following aware-UTC event is no backward step for --check."""
    env = {**os.environ, "TZ": "XXX-1"}
    out = subprocess.run(
        [sys.executable, "-c", _EMIT, str(tmp_path)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    naive_text, before_text, logged_text = out.stdout.split()
    assert logged_text == "2025-01-01T12:00:00+00:00"  # a naive time read from a log is UTC
    naive, before = datetime.fromisoformat(naive_text), datetime.fromisoformat(before_text)
    lines = [json.loads(x) for x in (tmp_path / "berlin.jsonl").read_text().splitlines()]
    written = datetime.fromisoformat(lines[0]["ts"])
    # The local reading minus the zone's hour is the UTC instant, written as isoformat().
    assert lines[0]["ts"] == (naive.replace(tzinfo=UTC) - timedelta(hours=1)).isoformat()
    assert written.utcoffset() is not None and written.utcoffset().total_seconds() == 0
    assert before <= written <= datetime.fromisoformat(lines[1]["ts"])
    check = subprocess.run(
        [sys.executable, "scripts/view_execution_telemetry.py", "--path", str(tmp_path),
         "--session", "berlin", "--check", "--plain"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "0 backward steps" in check.stdout, check.stdout + check.stderr
