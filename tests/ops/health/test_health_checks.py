"""The health checks one by one: disk, parse errors, retention staleness, writer errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import namedtuple

import pytest

from src.ops.health.checks import (
    HealthThresholds,
    check_disk,
    check_parse_errors,
    check_retention,
    check_writers,
)
from src.ops.retention.policy import RetentionPolicy
from src.ops.retention.run import run_retention
from src.ops.retention.state import STATE_FILE
from src.query.checks import CRITICAL, OK, WARNING
from src.query.engine import summarize
from src.query.filters import EventFilter

Usage = namedtuple("Usage", "total used free")
T = HealthThresholds()


@pytest.mark.parametrize(("used", "severity"), [(50, OK), (85, WARNING), (95, CRITICAL)])
def test_disk_use_against_thresholds(root, used, severity):
    """80% used warns, 90% is critical (df's arithmetic: used / (used + free))."""
    findings = check_disk(root, T, usage=lambda _p: Usage(100, used, 100 - used))
    assert findings[0].check == "disk" and findings[0].severity == severity
    assert f"{used:.1f}% used" in findings[0].message


def test_root_above_the_retention_size_cap_warns(root, make_session):
    """The root's own size is checked against the cap retention enforces."""
    make_session("big", seqs=range(1, 4000))
    usage = lambda _p: Usage(100, 10, 90)  # noqa: E731
    small_cap = HealthThresholds(size_cap_mb=1)
    assert check_disk(root, small_cap, usage=usage)[1].severity == WARNING
    assert check_disk(root, T, usage=usage)[1].severity == OK


def test_saved_summary_states_count_toward_the_size_cap(root, make_session):
    """The cap retention enforces covers the logs and the states under .summary/."""
    path = make_session("big", seqs=range(1, 2400))
    summarize(root, EventFilter.build(session_id="big"), as_of=0)  # saves its state
    states = sum(p.stat().st_size for p in (root / ".summary").iterdir())
    assert path.stat().st_size <= 2**20 < path.stat().st_size + states
    usage = lambda _p: Usage(100, 10, 90)  # noqa: E731
    found = check_disk(root, HealthThresholds(size_cap_mb=1), usage=usage)[1]
    assert found.severity == WARNING
    assert "in 1 session and 1 saved summary state, above the retention size cap" in found.message


def test_parse_errors_are_sampled_from_the_newest_files(root, make_session, age):
    """An old broken file does not count when it is outside the sample of newest files."""
    old = make_session("old", days=3)
    with open(old, "ab") as fh:
        fh.write(b"garbage\n" * 50)
    age(old, 3)
    make_session("new", days=0)
    assert check_parse_errors(root, HealthThresholds(sample_files=1)).severity == OK
    both = check_parse_errors(root, HealthThresholds(sample_files=2))
    assert both.severity == CRITICAL
    assert "50 of 60 sampled lines invalid" in both.message


def test_parse_error_thresholds_follow_the_runbook(root, make_session):
    """Above 1% warns, above 5% is critical."""
    path = make_session("s", seqs=range(1, 99))
    with open(path, "ab") as fh:
        fh.write(b"not json\n" * 2)  # 2 of 100
    finding = check_parse_errors(root, T)
    assert finding.severity == WARNING and "(2.00%)" in finding.message


def test_unfinished_last_line_is_not_an_error(root, make_session):
    """A line caught mid-write at the end of a live file is counted as unfinished, not invalid."""
    path = make_session("live")
    with open(path, "ab") as fh:
        fh.write(b'{"ts": "2026-')
    finding = check_parse_errors(root, T)
    assert finding.severity == OK
    assert "1 unfinished last lines" in finding.message


def test_a_killed_writers_fragment_counts_as_one_invalid_line(root, make_session):
    """A fragment the next line was glued to: one invalid line, the glued line valid."""
    path = make_session("s", seqs=range(1, 99))
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:50]) + lines[50][:40] + b"".join(lines[50:]))
    finding = check_parse_errors(root, T)
    assert "1 of 99 sampled lines invalid" in finding.message, finding.message


def test_sample_reads_only_the_newest_lines(root, make_session):
    """Plain files are read from the end, at most sample_lines lines each."""
    path = root / "s.jsonl"
    good = make_session("g", seqs=range(1, 101)).read_bytes().replace(b'"g"', b'"s"')
    path.write_bytes(b"bad\n" * 10 + good)
    finding = check_parse_errors(root, HealthThresholds(sample_files=1, sample_lines=50))
    assert finding.severity == OK and "0 of 50 sampled lines" in finding.message


def test_retention_never_run_is_judged_by_the_oldest_log(root, make_session):
    """Fresh logs: ok; logs older than the warning age and no retention run: warning."""
    make_session("s", days=1)
    assert check_retention(root, T, now=time.time()).severity == OK
    make_session("t", days=10)
    finding = check_retention(root, T, now=time.time())
    assert finding.severity == WARNING and "never run here" in finding.message


def test_a_real_apply_makes_retention_fresh_and_it_ages(root, make_session):
    """The state file written by --apply is what the check reads; it goes stale with time."""
    make_session("t", days=10)
    run_retention(root, RetentionPolicy(), apply=True)
    now = time.time()
    assert check_retention(root, T, now=now).severity == OK
    assert check_retention(root, T, now=now + 9 * 86_400).severity == WARNING
    assert check_retention(root, T, now=now + 16 * 86_400).severity == CRITICAL


def test_a_failed_last_run_is_a_warning(root):
    """A run with failed actions shows, even right after a success."""
    state = {"version": 1, "last_run_ok": False, "last_success_at": time.time() - 3600}
    (root / STATE_FILE).write_text(json.dumps(state))
    finding = check_retention(root, T, now=time.time())
    assert finding.severity == WARNING and "failed actions" in finding.message


WRITER = r"""
import sys
from datetime import datetime, UTC
from src.execution.events import ExecutionEvent
from src.execution.telemetry import JsonlExecutionLogger

logger = JsonlExecutionLogger(sys.argv[1], heartbeat_interval=0.05)
def emit(sid):
    logger.emit(ExecutionEvent(ts=datetime.now(UTC), session_id=sid, symbol="X", mode="paper",
                               kind="fill", payload={}))
emit("fine")
if sys.argv[2] == "fail":
    emit("broken")  # broken.jsonl is a directory: the write fails, trading goes on
print("emitted", flush=True)
if sys.stdin.readline().strip() == "close":
    logger.close()
"""


def start_writer(python, repo_root, root, mode):
    proc = subprocess.Popen(
        [python, "-c", WRITER, str(root), mode],
        cwd=repo_root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "emitted"
    return proc


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


def test_write_errors_of_another_process_are_critical(root, python, repo_root):
    """A running logger in another process reports its write errors through its heartbeat."""
    (root / "broken.jsonl").mkdir()
    proc = start_writer(python, repo_root, root, "fail")
    try:
        wait_for(lambda: check_writers(root, T, now=time.time()).severity == CRITICAL)
        finding = check_writers(root, T, now=time.time())
        assert "1 running writer, 0 closed" in finding.message
        assert "1 write errors" in finding.message and "IsADirectoryError" in finding.message
        later = check_writers(root, T, now=time.time() + 3600)
        assert later.severity == WARNING  # older than the 15-minute window, within a day
    finally:
        proc.communicate("close\n", timeout=10)
    assert proc.returncode == 0


def test_clean_writer_is_healthy_and_a_killed_one_is_noticed(root, python, repo_root):
    """Closed cleanly: ok. Killed (no final heartbeat): a warning once its heartbeat is stale."""
    proc = start_writer(python, repo_root, root, "ok")
    proc.communicate("close\n", timeout=10)
    assert check_writers(root, T, now=time.time()).severity == OK
    proc = start_writer(python, repo_root, root, "ok")
    wait_for(lambda: len(list((root / ".writers").glob("*.json"))) == 2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    assert check_writers(root, T, now=time.time()).severity == OK  # not yet stale
    stale = check_writers(root, T, now=time.time() + 120)
    assert stale.severity == WARNING and "without closing" in stale.message


def test_no_heartbeats_is_reported_plainly(root):
    """Without any heartbeat the check says so (and is not an alarm by itself)."""
    finding = check_writers(root, T, now=time.time())
    assert finding.severity == OK and "no writer heartbeats" in finding.message
