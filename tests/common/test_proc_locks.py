"""Running sessions: a logger's shared flock, seen in /proc/locks without taking a lock."""

from __future__ import annotations

from datetime import UTC, datetime

from src.common.locks import held_files, is_held
from src.execution.events import ExecutionEvent
from src.execution.telemetry import JsonlExecutionLogger


def test_an_open_logger_holds_its_file_and_releases_it_on_close(tmp_path):
    """While the logger is open its session file is held; after close() it is not."""
    logger = JsonlExecutionLogger(tmp_path, fsync="none")
    logger.emit(
        ExecutionEvent(
            ts=datetime.now(UTC),
            session_id="s1",
            symbol="X",
            mode="paper",
            kind="intent",
            payload={},
        )
    )
    path = tmp_path / "s1.jsonl"
    try:
        assert is_held([path], held_files())
    finally:
        logger.close()
    assert not is_held([path], held_files())


def test_proc_locks_lines_are_parsed_and_others_ignored(tmp_path):
    """FLOCK entries count (hex device, decimal inode); POSIX locks and junk do not."""
    sample = tmp_path / "locks"
    sample.write_text(
        "1: FLOCK  ADVISORY  READ  123 fd:01:4242 0 EOF\n"
        "2: POSIX  ADVISORY  WRITE 124 fd:01:77 0 EOF\n"
        "3: FLOCK  ADVISORY  READ  125 zz\n"
        "garbage\n"
    )
    assert held_files(sample) == {(0xFD, 0x01, 4242)}
    assert held_files(tmp_path / "missing") == set()
