"""Fan one event out to several sinks, each isolated from the others' failures."""

from __future__ import annotations

import time
from collections.abc import Iterable

from src.execution.events import ExecutionEvent
from src.execution.jsontypes import JsonObject
from src.execution.telemetry.base import ExecutionEventEmitter, Sink, guarded

__all__ = ["CompositeEmitter"]


class CompositeEmitter(ExecutionEventEmitter):
    """Deliver every event to each child; a failing child never stops the others."""

    def __init__(self, emitters: Iterable[Sink], *, strict: bool = False) -> None:
        super().__init__(strict=strict)
        self.emitters: tuple[Sink, ...] = tuple(emitters)

    @guarded
    def emit(self, event: ExecutionEvent) -> None:
        if self._closed:
            self._drop("emit after close")
            return
        failed = False
        for child in self.emitters:
            try:
                child.emit(event)
            except Exception as exc:  # a child outside our base class may raise
                failed = True
                self._handle_error(exc, f"child {_describe(child)}")
        if not failed:
            self._stats.emitted += 1

    def flush(self, timeout: float | None = None) -> bool:
        """Flush every child within one shared deadline; ``True`` only if all succeeded."""
        deadline = None if timeout is None else time.monotonic() + timeout
        ok = True
        for child in self.emitters:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                ok = bool(child.flush(remaining)) and ok
            except Exception as exc:
                ok = False
                self._handle_error(exc, f"flush of {_describe(child)}")
        return ok

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for child in self.emitters:
            try:
                child.close()
            except Exception as exc:
                self._handle_error(exc, f"close of {_describe(child)}")

    def health(self) -> JsonObject:
        children: list[object] = []
        for child in self.emitters:
            describe = getattr(child, "health", None)
            children.append(describe() if callable(describe) else {"emitter": _describe(child)})
        return {**super().health(), "children": children}


def _describe(child: object) -> str:
    namer = getattr(child, "_name", None)
    return str(namer()) if callable(namer) else type(child).__name__
