"""Test doubles for code that emits telemetry: an in-memory sink and a capture helper.

from src.execution.telemetry.testing import capture_events

with capture_events() as events:
    pipeline = ExecutionPipeline(executor=PaperExecutor(), emitter=events.emitter)
    pipeline.submit_order(intent)
assert [e.kind for e in events] == ["intent", "order", "fill"]
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from src.execution.events import ExecutionEvent
from src.execution.telemetry.base import ExecutionEventEmitter, guarded

__all__ = ["InMemoryEmitter", "capture_events"]


class InMemoryEmitter(ExecutionEventEmitter):
    """Keep every event in a list (thread-safe); iterate it or read :attr:`events`."""

    def __init__(self, *, strict: bool = True) -> None:
        super().__init__(strict=strict)
        self._events: list[ExecutionEvent] = []
        self._lock = threading.Lock()

    @guarded
    def emit(self, event: ExecutionEvent) -> None:
        if self._closed:
            self._drop("emit after close")
            return
        with self._lock:
            self._events.append(event)
        self.stats.emitted += 1

    @property
    def events(self) -> list[ExecutionEvent]:
        with self._lock:
            return list(self._events)

    @property
    def emitter(self) -> InMemoryEmitter:
        return self

    def kinds(self) -> list[str]:
        return [event.kind for event in self.events]

    def of_kind(self, kind: str) -> list[ExecutionEvent]:
        return [event for event in self.events if event.kind == kind]

    def clear(self) -> None:
        with self._lock:
            self._events.clear()

    def __iter__(self) -> Iterator[ExecutionEvent]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self._events)


@contextmanager
def capture_events() -> Iterator[InMemoryEmitter]:
    """Yield a fresh :class:`InMemoryEmitter`, closed when the block ends."""
    emitter = InMemoryEmitter()
    try:
        yield emitter
    finally:
        emitter.close()
