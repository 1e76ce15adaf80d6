"""src.common.locks: the shared lock, the exclusive lock and both probes, on real files."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime

import pytest

from src.common.locks import (
    held_by_writer,
    held_files,
    is_held,
    lock_exclusive,
    open_lock_file,
    try_lock_exclusive,
    try_lock_shared,
)
from src.execution.events import ExecutionEvent
from src.execution.telemetry.jsonl import JsonlExecutionLogger


def _open(path):
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


def test_shared_locks_coexist_and_block_the_exclusive_probe(tmp_path):
    path = tmp_path / "s.jsonl"
    a, b, c = _open(path), _open(path), _open(path)
    try:
        assert try_lock_shared(a) and try_lock_shared(b)
        assert not try_lock_exclusive(c)
        assert held_by_writer(path)
        os.close(a)
        os.close(b)
        a = b = -1
        assert not held_by_writer(path)
        assert try_lock_exclusive(c)
        d = _open(path)
        try:
            assert not try_lock_shared(d)  # the exclusive holder keeps writers out
        finally:
            os.close(d)
    finally:
        for fd in (a, b, c):
            if fd >= 0:
                os.close(fd)


def test_probe_releases_its_lock_and_ignores_missing_files(tmp_path):
    path = tmp_path / "s.jsonl"
    assert not held_by_writer(path)
    path.write_bytes(b"")
    assert not held_by_writer(path)
    fd = _open(path)
    try:
        assert try_lock_shared(fd)  # the probe left nothing behind
    finally:
        os.close(fd)


def test_a_real_logger_is_seen_by_both_probes(tmp_path):
    logger = JsonlExecutionLogger(tmp_path, fsync="none")
    event = ExecutionEvent(
        ts=datetime.now(UTC), session_id="s1", symbol="X", mode="paper", kind="intent", payload={}
    )
    logger.emit(event)
    path = tmp_path / "s1.jsonl"
    try:
        assert held_by_writer(path)
        assert is_held([path], held_files())
        logger.emit(event)  # the probe did not cost the logger its lock
        assert logger.lock_contention == 0
    finally:
        logger.close()
    assert not held_by_writer(path)
    assert not is_held([path], held_files())


def test_lock_exclusive_waits_for_the_holder(tmp_path):
    path = tmp_path / "state.lock"
    first, second = open_lock_file(path), open_lock_file(path)
    order: list[str] = []
    try:
        with lock_exclusive(first):
            t = threading.Thread(target=lambda: _take(second, order))
            t.start()
            t.join(0.2)
            order.append("first done")
        t.join(10)
        assert order == ["first done", "second"]
    finally:
        os.close(first)
        os.close(second)


def _take(fd: int, order: list[str]) -> None:
    with lock_exclusive(fd):
        order.append("second")


def test_strict_exclusive_raises_on_a_bad_descriptor(tmp_path):
    fd = open_lock_file(tmp_path / "x.lock")
    os.close(fd)  # now a closed descriptor: EBADF, not "held by someone"
    with pytest.raises(OSError):
        try_lock_exclusive(fd, strict=True)
    assert not try_lock_exclusive(fd)


def test_write_guard_is_shared_among_writers_exclusive_for_retention_and_apart_from_flock(
    tmp_path,
):
    """Writers' guards coexist; retention's excludes them; neither conflicts with flock."""
    from src.common.locks import release_write_guard, take_write_guard, try_write_guard

    path = tmp_path / "s.jsonl"
    a, b, r = _open(path), _open(path), _open(path)
    try:
        assert try_lock_exclusive(r)  # retention's flock does not stop the guard
        assert try_write_guard(a) and try_write_guard(b)
        assert not take_write_guard(r, 0)
        release_write_guard(a)
        release_write_guard(b)
        assert take_write_guard(r, 0)
        assert not try_write_guard(a)
    finally:
        for fd in (a, b, r):
            os.close(fd)
    c = _open(path)
    try:
        assert try_write_guard(c)  # closing retention's descriptor released its guard
    finally:
        os.close(c)
