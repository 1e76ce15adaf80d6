"""One contract, every emitter: emit after close, flush -> bool, double close, context manager."""

from __future__ import annotations

import logging

import pytest

from src.execution.telemetry import (
    CompositeEmitter,
    ExecutionEventEmitter,
    FilteringEmitter,
    JsonlExecutionLogger,
    NullEmitter,
    QueuedEmitter,
)
from src.execution.telemetry.testing import InMemoryEmitter, capture_events


class OnlyEmit(ExecutionEventEmitter):
    """A user sink as in the spec's PrometheusEmitter example: defines emit() and nothing else."""

    def __init__(self) -> None:  # deliberately does not call super().__init__()
        self.seen = []

    def emit(self, event):
        self.seen.append(event.kind)


FACTORIES = {
    "null": lambda tmp: NullEmitter(),
    "jsonl": lambda tmp: JsonlExecutionLogger(tmp),
    "composite": lambda tmp: CompositeEmitter([JsonlExecutionLogger(tmp), InMemoryEmitter()]),
    "queued": lambda tmp: QueuedEmitter(JsonlExecutionLogger(tmp), maxsize=100),
    "filtering": lambda tmp: FilteringEmitter(JsonlExecutionLogger(tmp), include_kinds=["fill"]),
    "in-memory": lambda tmp: InMemoryEmitter(),
    "user-subclass": lambda tmp: OnlyEmit(),
}


@pytest.fixture(params=sorted(FACTORIES))
def emitter(request, tmp_path):
    em = FACTORIES[request.param](tmp_path)
    yield em
    em.close()


class TestEmitterContract:
    def test_emit_then_flush_returns_true(self, emitter, make_event):
        """A healthy sink accepts events and flush() returns the bool True."""
        emitter.emit(make_event())
        assert emitter.flush(timeout=5) is True

    def test_emit_after_close_is_counted_not_raised(self, emitter, make_event):
        """Emitting into a closed sink drops and counts the event instead of raising."""
        emitter.close()
        emitter.emit(make_event())
        assert emitter.stats.dropped == 1
        assert emitter.closed

    def test_close_is_idempotent(self, emitter):
        """close() twice is harmless."""
        emitter.close()
        emitter.close()
        assert emitter.closed

    def test_context_manager_closes(self, emitter, make_event):
        """`with emitter:` returns the emitter and closes it on exit."""
        with emitter as entered:
            assert entered is emitter
            emitter.emit(make_event())
        assert emitter.closed

    def test_health_is_json_ready(self, emitter, make_event):
        """health() reports the counters under stable keys."""
        emitter.emit(make_event())
        health = emitter.health()
        assert {"emitter", "emitted", "errors", "dropped", "closed"} <= set(health)


def test_user_subclass_with_only_emit_works_and_never_raises(make_event, caplog):
    """A subclass defining only emit() works; if its emit raises, the error is counted."""

    class Broken(ExecutionEventEmitter):
        def emit(self, event):
            raise RuntimeError("backend down")

    ok, broken = OnlyEmit(), Broken()
    ok.emit(make_event())
    assert ok.seen == ["fill"] and ok.stats.emitted == 1
    with caplog.at_level(logging.WARNING, logger="src.execution.telemetry"):
        for _ in range(50):
            broken.emit(make_event())
    assert broken.stats.errors == 50
    assert "backend down" in broken.stats.last_error
    assert len(caplog.records) == 1, "failures are reported once, rate-limited"


def test_strict_mode_raises(make_event):
    """strict=True makes sink failures loud (for tests)."""

    class Broken(ExecutionEventEmitter):
        def emit(self, event):
            raise RuntimeError("loud")

    broken = Broken(strict=True)
    with pytest.raises(RuntimeError, match="loud"):
        broken.emit(make_event())


def test_capture_events_collects_in_order(make_event):
    """capture_events() yields an in-memory sink that records events in order."""
    with capture_events() as events:
        events.emit(make_event(kind="intent"))
        events.emit(make_event(kind="fill"))
    assert events.kinds() == ["intent", "fill"]
    assert len(events.of_kind("fill")) == 1
