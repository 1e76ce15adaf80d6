"""A real writer process appending while retention applies: nothing lost, nothing doubled."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from datetime import UTC, datetime

import pytest

from src.execution.events import ExecutionEvent
from src.execution.telemetry import JsonlExecutionLogger, session_files
from src.ops.retention import retire
from src.ops.retention.policy import RetentionPolicy
from src.ops.retention.run import run_retention

WRITER = r"""
import json, os, random, sys
from datetime import datetime, UTC
from src.execution.events import ExecutionEvent
from src.execution.telemetry import JsonlExecutionLogger

base, sessions, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(11)
last = {f"w{i}": 1000 for i in range(sessions)}
print("ready", flush=True)
n = errors = contention = 0
while not os.path.exists(stop) or n < 2000:
    # Short-lived loggers (a process resuming a session, say): between bursts the files are
    # unlocked and old-looking, so retention works on them while the next burst reopens them.
    with JsonlExecutionLogger(base) as logger:
        for _ in range(3):
            sid = f"w{rng.randrange(sessions)}"
            last[sid] += 1
            logger.emit(ExecutionEvent(ts=datetime.now(UTC), session_id=sid, symbol="BTC-USD",
                                       mode="paper", kind="fill", payload={"n": n},
                                       seq=last[sid]))
            n += 1
    errors += logger.stats.errors
    contention += logger.lock_contention
assert errors == 0, errors
print(json.dumps({"last": last, "contention": contention}), flush=True)
"""


@pytest.mark.slow
def test_writer_appending_during_apply_loses_nothing(
    root, make_session, seqs_of, repo_root, python, tmp_path
):
    """Every event a concurrent writer acknowledged is readable exactly once afterwards.

    The files are aged before each pass, so retention keeps compressing files the writer is
    reopening and appending to: the lock probe, the size re-check, the hand-off (the writer
    moving on to a new file once the old one is renamed) and the salvage of late lines all
    get exercised.
    """
    sessions = 100
    for i in range(sessions):
        make_session(f"w{i}", days=10, seqs=range(1, 6))
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [python, "-c", WRITER, str(root), str(sessions), str(stop)],
        cwd=repo_root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "ready"
        policy = RetentionPolicy(keep_last_n=0, compress_after_days=1, max_total_mb=0)
        compressed = passes = 0
        # Passes until retention has compressed files under the writer's feet a few times
        # (how many a pass manages depends on the machine's load), at least 20 passes.
        while passes < 20 or (compressed < 10 and passes < 400):
            passes += 1
            old = time.time() - 10 * 86_400
            for path in root.glob("w*.jsonl"):
                try:
                    os.utime(path, (old, old))
                except FileNotFoundError:
                    pass
            report = run_retention(root, policy, apply=True)
            compressed += sum(1 for o in report.outcomes if o.status == "done")
    finally:
        stop.touch()
        out, _ = writer.communicate(timeout=60)
    assert writer.returncode == 0
    result = json.loads(out.strip().splitlines()[-1])
    assert compressed >= 10  # retention really compressed files the writer kept appending to
    for sid, last in result["last"].items():
        seen = seqs_of(root, sid)
        expected = [1, 2, 3, 4, 5, *range(1001, last + 1)]
        assert len(seen) == len(expected), f"{sid}: lost or doubled events"
        assert sorted(seen) == expected, sid


def test_line_checked_before_the_rename_and_written_after_it_is_kept(
    root, make_session, seqs_of, monkeypatch
):
    """A logger that could not get its lock finds the file still under the session name,
    then is descheduled; meanwhile retention renames the file, publishes the .gz and
    removes the renamed file. Its line must not go to the removed file: retention waits
    for it (the write guard) and keeps it. This interleaving lost the line under load."""
    make_session("s", days=10)
    checked, resume = threading.Event(), threading.Event()
    paused = []

    class DescheduledAfterTheCheck:  # session_files' ``os``: a pause between check and write
        def __getattr__(self, name):
            return getattr(os, name)

        def fstat(self, fd):
            st = os.fstat(fd)
            if not paused:
                paused.append(fd)
                checked.set()
                assert resume.wait(30), "retention never reached the retired file's removal"
            return st

    def write_one() -> None:
        with JsonlExecutionLogger(root) as logger:
            logger.emit(
                ExecutionEvent(
                    ts=datetime.now(UTC),
                    session_id="s",
                    symbol="X",
                    mode="paper",
                    kind="fill",
                    payload={},
                    seq=6,
                )
            )
            errors.append(logger.stats.errors)

    errors: list[int] = []
    writer = threading.Thread(target=write_one)

    def checkpoint(at: str) -> None:
        if at == "temp-written":  # retention holds the file: the logger's lock attempt fails
            writer.start()
            assert checked.wait(30), "the writer never checked the file"
        elif at in ("writer-busy", "salvaged"):  # about to (or did) read the retired tail
            resume.set()

    monkeypatch.setattr(session_files, "os", DescheduledAfterTheCheck())
    monkeypatch.setattr(retire, "_checkpoint", checkpoint)
    report = run_retention(root, RetentionPolicy(keep_last_n=0, compress_after_days=1), apply=True)
    writer.join(30)
    assert not writer.is_alive() and errors == [0]
    assert report.outcomes[0].status == "done"
    assert seqs_of(root, "s") == [1, 2, 3, 4, 5, 6]
    assert not list(root.glob(".s.jsonl.retention-*"))


def test_writer_locking_after_retention_let_go_of_the_retired_file_moves_on(
    root, make_session, seqs_of, monkeypatch
):
    """A logger opens the session file, then is descheduled before it takes its shared
    lock; meanwhile retention locks the file, compresses it, renames it away and lets go of
    its lock. The logger's lock then succeeds on the retired file: it must notice that the
    file is no longer the session's and start a new one, not write where retention is about
    to remove it. This interleaving lost a line under load."""
    make_session("s", days=10)
    opened, resume = threading.Event(), threading.Event()
    real_try_lock_shared = session_files.try_lock_shared

    def descheduled_before_the_lock(fd: int) -> bool:
        if not opened.is_set():
            opened.set()
            assert resume.wait(30), "retention never reached the retired file's removal"
        return real_try_lock_shared(fd)

    def write_one() -> None:
        with JsonlExecutionLogger(root) as logger:
            logger.emit(
                ExecutionEvent(
                    ts=datetime.now(UTC),
                    session_id="s",
                    symbol="X",
                    mode="paper",
                    kind="fill",
                    payload={},
                    seq=6,
                )
            )
            errors.append(logger.stats.errors)

    errors: list[int] = []
    writer = threading.Thread(target=write_one)

    def checkpoint(at: str) -> None:
        if at == "salvaged":  # retention let go of its lock long ago; about to remove the file
            resume.set()
            writer.join(30)  # the logger's line is written (wherever it goes) before removal

    monkeypatch.setattr(session_files, "try_lock_shared", descheduled_before_the_lock)
    monkeypatch.setattr(retire, "_checkpoint", checkpoint)
    writer.start()
    assert opened.wait(30), "the writer never opened the file"
    report = run_retention(root, RetentionPolicy(keep_last_n=0, compress_after_days=1), apply=True)
    writer.join(30)
    assert not writer.is_alive() and errors == [0]
    assert report.outcomes[0].status == "done"
    assert seqs_of(root, "s") == [1, 2, 3, 4, 5, 6]
    assert not list(root.glob(".s.jsonl.retention-*"))
