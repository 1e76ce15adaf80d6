"""QueuedEmitter: the caller never waits on a slow sink; overflow is dropped and counted."""

from __future__ import annotations

import json
import os
import threading

from src.execution.telemetry import JsonlExecutionLogger, QueuedEmitter
from src.execution.telemetry.testing import InMemoryEmitter


class Gated:
    """An inner sink that blocks inside emit() until released: the slowest sink there is."""

    def __init__(self):
        self.entered = threading.Event()
        self.release = threading.Event()
        self.events = []

    def emit(self, event):
        self.entered.set()
        self.release.wait(30)
        self.events.append(event)

    def flush(self, timeout=None):
        return True

    def close(self):
        self.release.set()


def test_emit_never_blocks_on_a_stuck_sink_and_counts_drops(make_event):
    """With the inner sink stuck, 100 emits all return; maxsize are kept and the rest dropped."""
    inner = Gated()
    queued = QueuedEmitter(inner, maxsize=10)
    queued.emit(make_event(seq=0))
    assert inner.entered.wait(5), "worker never picked the first event up"
    for n in range(1, 101):
        queued.emit(make_event(seq=n))  # would hang here if emit waited on the sink
    assert queued.queued == 10
    assert queued.stats.dropped == 90
    inner.release.set()
    assert queued.flush(timeout=5) is True
    assert [e.seq for e in inner.events] == list(range(11))
    queued.close()


def test_flush_times_out_while_the_sink_is_stuck(make_event):
    """flush(timeout) returns False, without hanging, when the sink cannot drain in time."""
    inner = Gated()
    queued = QueuedEmitter(inner, maxsize=5, close_timeout=0.2)
    queued.emit(make_event())
    queued.emit(make_event())
    assert inner.entered.wait(5)
    assert queued.flush(timeout=0.1) is False
    inner.release.set()
    queued.close()


def test_close_drains_everything_in_order(tmp_path, make_event):
    """close() delivers every queued event to the inner sink, in order."""
    queued = QueuedEmitter(JsonlExecutionLogger(tmp_path), maxsize=10_000, batch_size=7)
    for n in range(2_000):
        queued.emit(make_event(seq=n))
    queued.close()
    seqs = [
        json.loads(x)["seq"] for x in (tmp_path / "session_123.jsonl").read_bytes().splitlines()
    ]
    assert seqs == list(range(2_000))
    assert queued.stats.emitted == 2_000 and queued.stats.dropped == 0


def test_inner_failures_are_counted_not_fatal(make_event):
    """A raising inner sink is counted; the worker survives and delivers later events."""

    class Flaky:
        def __init__(self):
            self.n = 0
            self.ok = []

        def emit(self, event):
            self.n += 1
            if self.n % 2:
                raise OSError("flaky")
            self.ok.append(event.seq)

        def flush(self, timeout=None):
            return True

        def close(self):
            pass

    inner = Flaky()
    queued = QueuedEmitter(inner)
    for n in range(10):
        queued.emit(make_event(seq=n))
    assert queued.flush(5)
    assert queued.stats.errors == 5 and inner.ok == [1, 3, 5, 7, 9]
    queued.close()


def test_worker_restarts_in_a_forked_child(tmp_path, make_event):
    """After fork, the child's emits are delivered by a fresh worker of its own."""
    queued = QueuedEmitter(JsonlExecutionLogger(tmp_path))
    queued.emit(make_event(session_id="parent"))
    assert queued.flush(5)
    pid = os.fork()
    if pid == 0:  # child: must not reuse the parent's (absent) worker thread
        code = 1
        try:
            queued.emit(make_event(session_id="child"))
            code = 0 if queued.flush(5) else 3
            queued.close()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert (tmp_path / "child.jsonl").read_bytes().count(b"\n") == 1
    queued.close()


def test_emit_after_close_goes_nowhere(make_event):
    """Events after close are counted as dropped and never reach the inner sink."""
    inner = InMemoryEmitter()
    queued = QueuedEmitter(inner)
    queued.close()
    queued.emit(make_event())
    assert queued.stats.dropped == 1 and len(inner) == 0


def test_batch_capable_inner_sink_gets_whole_batches(make_event):
    """An inner sink with emit_batch() receives batches of at most batch_size, in order."""

    class Batching:
        def __init__(self):
            self.batches = []

        def emit_batch(self, events):
            self.batches.append([e.seq for e in events])
            return len(events)

        def emit(self, event):  # never used when emit_batch exists
            raise AssertionError("emit() called on a batch sink")

        def flush(self, timeout=None):
            return True

        def close(self):
            pass

    inner = Batching()
    queued = QueuedEmitter(inner, batch_size=64)
    for n in range(1_000):
        queued.emit(make_event(seq=n))
    assert queued.flush(5)
    queued.close()
    assert [seq for batch in inner.batches for seq in batch] == list(range(1_000))
    assert max(len(batch) for batch in inner.batches) <= 64
    assert queued.stats.emitted == 1_000 and queued.stats.dropped == 0


def test_undelivered_part_of_a_batch_counts_as_dropped(make_event):
    """emit_batch() returning fewer than it got (or raising) counts the rest as dropped."""

    class HalfDelivering:
        down = False

        def emit_batch(self, events):
            if self.down:
                raise ConnectionError("down")
            return sum(1 for e in events if e.seq % 2 == 0)  # however the worker split them

        def flush(self, timeout=None):
            return True

        def close(self):
            pass

    inner = HalfDelivering()
    queued = QueuedEmitter(inner, batch_size=10)
    for n in range(10):
        queued.emit(make_event(seq=n))
    assert queued.flush(5)
    inner.down = True
    for n in range(10):
        queued.emit(make_event(seq=n))
    assert queued.flush(5)
    queued.close()
    assert queued.stats.emitted == 5
    assert queued.stats.dropped == 15 and queued.stats.errors >= 1
