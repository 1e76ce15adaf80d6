"""src.common.fdio.write_all: every byte written, in order, however os.write splits it."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from src.common.fdio import write_all

SRC = Path(__file__).resolve().parents[2] / "src"


def test_a_large_write_through_a_pipe_interrupted_by_signals_arrives_whole():
    """4 MiB into a pipe (64 KiB buffer) drained by another thread while SIGALRM keeps
    interrupting the writer: a write cut short goes on from where it stopped."""
    data = os.urandom(1 << 22)
    read_fd, write_fd = os.pipe()
    got: list[bytes] = []

    def drain() -> None:
        while chunk := os.read(read_fd, 1 << 14):
            got.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    alarms = [0]

    def tick(signum, frame) -> None:
        alarms[0] += 1

    previous = signal.signal(signal.SIGALRM, tick)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
        write_all(write_fd, data)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, previous)
        os.close(write_fd)
        reader.join(30)
        os.close(read_fd)
    assert b"".join(got) == data


def test_src_keeps_one_write_all_loop():
    """The loop over short writes lives in src/common/fdio.py only (the JSONL logger repairs
    a short append its own way: a line must stay one write)."""
    copies = [
        str(p.relative_to(SRC))
        for p in sorted(SRC.rglob("*.py"))
        if "view[os.write(" in p.read_text() and p.name != "fdio.py"
    ]
    assert copies == []
