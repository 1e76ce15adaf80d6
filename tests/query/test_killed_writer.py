"""A writer killed with SIGKILL in the middle of a large line leaves a fragment without its
newline; the next line written to the file is glued to it. Every event the surviving
writers acknowledged must still be read back, by every reader."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime

from src.execution.events import ExecutionEvent
from src.execution.serialization import encode_event_line
from src.query.engine import iter_events, summarize, tail
from src.query.filters import EventFilter
from src.query.paging import page_back
from src.query.records import ParseStats
from src.sql import connect

# Appends `count` events with payloads of 8 KB to 128 KB through the real logger and prints
# each event id once emit() returned (acknowledged).
WRITER = """
import random, sys
from datetime import UTC, datetime
from src.execution.events import ExecutionEvent
from src.execution.telemetry.jsonl import JsonlExecutionLogger
base, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(name)
log = JsonlExecutionLogger(base)
for i in range(count):
    ev = ExecutionEvent(ts=datetime.now(UTC), session_id="shared", symbol="X", mode="paper",
                        kind="error", payload={"error": f"{name}-{i}",
                                               "blob": "x" * rng.randint(8 << 10, 128 << 10)})
    log.emit(ev)
    print(ev.event_id, flush=True)
log.close()
"""


def writer(base, name: str, count: int, repo_root) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(base), name, str(count)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=repo_root,
    )


def test_acknowledged_events_of_surviving_writers_survive_a_killed_writer(tmp_path, repo_root):
    base = tmp_path / "logs"
    base.mkdir()
    # What a writer killed between two pages of its line leaves behind.
    torn = ExecutionEvent(
        ts=datetime.now(UTC), session_id="shared", symbol="X", mode="paper",
        kind="error", payload={"error": "torn", "blob": "y" * 20_000},
    )  # fmt: skip
    (base / "shared.jsonl").write_bytes(encode_event_line(torn)[:12_288])
    victim = writer(base, "victim", 100_000, repo_root)
    survivors = [writer(base, f"w{n}", 40, repo_root) for n in range(3)]
    acked_by_victim = [victim.stdout.readline().strip() for _ in range(5)]
    victim.send_signal(signal.SIGKILL)  # most likely in the middle of a write
    victim.wait(timeout=60)
    victim.stdout.close()
    acked: set[str] = set()
    for proc in survivors:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        acked |= set(out.split())
    assert len(acked) == 120 and all(acked_by_victim)

    flt = EventFilter.build(session_id="shared")
    stats = ParseStats()
    ids = [rec.data["event_id"] for rec in iter_events(base, flt, stats)]
    assert acked <= set(ids) and set(acked_by_victim) <= set(ids)
    assert stats.invalid_lines >= 1  # at least the fragment written above
    assert torn.event_id not in ids
    summary = summarize(base, flt)
    assert summary.event_count == len(ids) == summary.parse.valid_events
    assert summary.parse.invalid_lines == stats.invalid_lines
    assert {rec.data["event_id"] for rec in tail(base, flt, 10_000)} == set(ids)
    paged: list[str] = []
    cursor = None
    while True:
        page = page_back(base, flt, 25, cursor)
        paged += [rec.data["event_id"] for rec in page.records]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(paged) == sorted(ids)
    con = connect(base, threads=1)
    try:
        in_sql = [row[0] for row in con.sql("SELECT event_id FROM events").fetchall()]
    finally:
        con.close()
    assert sorted(in_sql) == sorted(ids)
