"""JsonlExecutionLogger and retention: the lock hand-off, and heartbeats for the health check."""

from __future__ import annotations

import fcntl
import json
import os
import time

import pytest

from src.execution.telemetry import JsonlExecutionLogger
from src.execution.telemetry.heartbeat import WRITERS_DIR, read_heartbeats


def seqs(path):
    return [json.loads(line)["seq"] for line in path.read_bytes().splitlines()]


def hold_exclusive(path):
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def test_writer_moves_to_a_new_file_once_retention_renamed_the_locked_one(tmp_path, make_event):
    """A logger opening a file retention holds writes there only until it is moved away."""
    path = tmp_path / "s1.jsonl"
    path.write_bytes(b"")
    held = hold_exclusive(path)
    hidden = tmp_path / ".s1.jsonl.retention-0-compress"
    with JsonlExecutionLogger(tmp_path) as logger:
        logger.emit(make_event(session_id="s1", seq=1))
        assert logger.lock_contention == 1
        os.rename(path, hidden)  # what retention does before publishing the .gz
        os.close(held)
        logger.emit(make_event(session_id="s1", seq=2))
        logger.emit(make_event(session_id="s1", seq=3))
    assert seqs(hidden) == [1]
    assert seqs(path) == [2, 3]


def test_writer_keeps_writing_to_a_renamed_file_never_while_retention_holds_it(
    tmp_path, make_event
):
    """Moved away while still locked by retention: the next event already goes to a new file."""
    path = tmp_path / "s1.jsonl"
    path.write_bytes(b"")
    held = hold_exclusive(path)
    hidden = tmp_path / ".s1.jsonl.retention-0-delete"
    try:
        with JsonlExecutionLogger(tmp_path) as logger:
            logger.emit(make_event(session_id="s1", seq=1))
            os.rename(path, hidden)
            logger.emit(make_event(session_id="s1", seq=2))
    finally:
        os.close(held)
    assert seqs(hidden) == [1]
    assert seqs(path) == [2]


def test_writer_takes_its_shared_lock_once_retention_lets_go(tmp_path, make_event):
    """After contention the logger acquires the lock later, so retention then sees it live."""
    path = tmp_path / "s1.jsonl"
    path.write_bytes(b"")
    held = hold_exclusive(path)
    with JsonlExecutionLogger(tmp_path) as logger:
        logger.emit(make_event(session_id="s1", seq=1))
        os.close(held)
        logger.emit(make_event(session_id="s1", seq=2))
        probe = os.open(path, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(probe)
    assert seqs(path) == [1, 2]


def test_no_heartbeat_files_unless_asked(tmp_path, make_event):
    """The logger's default writes nothing but session files."""
    with JsonlExecutionLogger(tmp_path) as logger:
        logger.emit(make_event())
    assert not (tmp_path / WRITERS_DIR).exists()


def test_heartbeat_publishes_counters_while_running_and_on_close(tmp_path, make_event):
    """A separate reader sees events written and write errors, then the closed flag."""
    (tmp_path / "broken.jsonl").mkdir()  # opening it for append fails: a write error
    logger = JsonlExecutionLogger(tmp_path, heartbeat_interval=0.05)
    try:
        logger.emit(make_event(session_id="ok", seq=1))
        logger.emit(make_event(session_id="broken", seq=1))

        def published_error() -> bool:
            beats, _ = read_heartbeats(tmp_path)
            return bool(beats) and beats[0].errors == 1

        wait_for(published_error)
        beat = read_heartbeats(tmp_path)[0][0]
        assert not beat.closed
        assert beat.pid == os.getpid()
        assert beat.emitted == 1
        assert "IsADirectoryError" in beat.last_error
        assert beat.last_error_at is not None
    finally:
        logger.close()
    beats, unreadable = read_heartbeats(tmp_path)
    assert unreadable == 0
    assert len(beats) == 1 and beats[0].closed and beats[0].errors == 1


def test_heartbeat_failure_never_reaches_the_trading_path(tmp_path, make_event):
    """An unwritable heartbeat location is counted; events are still written."""
    (tmp_path / WRITERS_DIR).write_text("not a directory")
    logger = JsonlExecutionLogger(tmp_path, heartbeat_interval=0.05)
    try:
        logger.emit(make_event(seq=1))
        wait_for(lambda: logger._heartbeat is not None and logger._heartbeat.failures >= 1)
        logger.emit(make_event(seq=2))
    finally:
        logger.close()
    assert logger.stats.errors == 0
    assert seqs(tmp_path / "session_123.jsonl") == [1, 2]


def test_negative_heartbeat_interval_is_refused(tmp_path):
    """A bad interval fails at construction, naming the value."""
    with pytest.raises(ValueError, match="heartbeat_interval -1"):
        JsonlExecutionLogger(tmp_path, heartbeat_interval=-1)
