"""CompositeEmitter: every child gets every event; one failing child never stops the others."""

from __future__ import annotations

import time

from src.execution.telemetry import CompositeEmitter, JsonlExecutionLogger
from src.execution.telemetry.testing import InMemoryEmitter


class Raises:
    """A duck-typed child outside the base class whose methods raise."""

    def emit(self, event):
        raise OSError("disk on fire")

    def flush(self, timeout=None):
        raise OSError("flush on fire")

    def close(self):
        raise OSError("close on fire")


class SlowFlush:
    def __init__(self):
        self.timeouts = []

    def emit(self, event):
        pass

    def flush(self, timeout=None):
        self.timeouts.append(timeout)
        time.sleep(0.05)
        return True

    def close(self):
        pass


def test_spec_composite_writes_both_directories(tmp_path, make_event):
    """The spec's example: two JSONL loggers, both files get the line."""
    a, b = tmp_path / "logs/execution", tmp_path / "backups/execution"
    with CompositeEmitter([JsonlExecutionLogger(a), JsonlExecutionLogger(b)]) as composite:
        composite.emit(make_event())
    assert (a / "session_123.jsonl").read_text() == (b / "session_123.jsonl").read_text() != ""


def test_failing_child_is_isolated_and_named(make_event, caplog):
    """A raising child is counted and named; the children after it still receive the event."""
    memory = InMemoryEmitter()
    composite = CompositeEmitter([Raises(), memory])
    composite.emit(make_event())
    assert len(memory) == 1
    assert composite.stats.errors == 1
    assert "Raises" in caplog.text
    assert composite.flush() is False
    composite.close()
    assert memory.closed and composite.stats.errors == 3


def test_flush_shares_one_deadline(make_event):
    """Children get the time left of one shared deadline, not the full timeout each."""
    first, second = SlowFlush(), SlowFlush()
    CompositeEmitter([first, second]).flush(timeout=1.0)
    assert first.timeouts[0] <= 1.0
    assert second.timeouts[0] < first.timeouts[0]


def test_children_are_a_tuple():
    """Children are frozen at construction (a tuple)."""
    children = [InMemoryEmitter()]
    composite = CompositeEmitter(children)
    children.append(InMemoryEmitter())
    assert isinstance(composite.emitters, tuple) and len(composite.emitters) == 1
