"""A bounded queue in front of a slow sink, so the trading thread never waits on it.

``emit`` only appends to a bounded deque (no lock, no I/O). A worker thread drains it in
batches into the wrapped sink. When the queue is full the new event is dropped and counted:
losing telemetry is acceptable, delaying an order is not. ``close()`` drains with a timeout.
After ``fork`` the child starts its own worker on the next emit.

An inner sink that has ``emit_batch(events) -> int`` gets up to ``batch_size`` events per
call (one network round trip for a remote sink); the return value is how many it delivered,
the rest are counted as dropped.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable

from src.execution.events import ExecutionEvent
from src.execution.jsontypes import JsonObject
from src.execution.telemetry.base import ExecutionEventEmitter, Sink, guarded

__all__ = ["QueuedEmitter"]

_live: weakref.WeakSet[QueuedEmitter] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for emitter in list(_live):
        emitter._reset_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


class QueuedEmitter(ExecutionEventEmitter):
    """Wrap ``inner`` behind a queue of at most ``maxsize`` events drained by a thread."""

    def __init__(
        self,
        inner: Sink,
        *,
        maxsize: int = 10_000,
        batch_size: int = 512,
        close_timeout: float = 5.0,
        strict: bool = False,
    ) -> None:
        super().__init__(strict=strict)
        if maxsize < 1:
            raise ValueError(f"invalid maxsize {maxsize!r}: must be >= 1")
        if batch_size < 1:
            raise ValueError(f"invalid batch_size {batch_size!r}: must be >= 1")
        self.inner = inner
        self.maxsize = maxsize
        self.batch_size = batch_size
        self.close_timeout = close_timeout
        self._reset_after_fork()
        _live.add(self)

    def _reset_after_fork(self) -> None:
        self._queue: deque[ExecutionEvent] = deque()
        self._wakeup = threading.Event()
        self._idle = threading.Condition()
        self._busy = False
        self._stopping = False
        self._worker: threading.Thread | None = None

    @guarded
    def emit(self, event: ExecutionEvent) -> None:
        if self._closed:
            self._drop("emit after close")
            return
        queue = self._queue
        if len(queue) >= self.maxsize:
            self._drop(f"queue full ({self.maxsize})")
            return
        queue.append(event)
        if self._worker is None:
            self._start_worker()
        if not self._wakeup.is_set():
            self._wakeup.set()

    @property
    def queued(self) -> int:
        """Events waiting for the worker."""
        return len(self._queue)

    # -- the worker ------------------------------------------------------------------------
    def _start_worker(self) -> None:
        with self._idle:
            if self._worker is not None:
                return
            self._worker = threading.Thread(
                target=self._run, name=f"telemetry-queue-{self._name()}", daemon=True
            )
            self._worker.start()

    def _run(self) -> None:
        queue, wakeup = self._queue, self._wakeup
        while True:
            wakeup.wait(0.5)
            wakeup.clear()
            while queue:
                with self._idle:
                    self._busy = True
                try:
                    self._deliver(queue)
                finally:
                    with self._idle:
                        self._busy = False
                        self._idle.notify_all()
            with self._idle:
                self._idle.notify_all()
                if self._stopping and not queue:
                    return

    def _deliver(self, queue: deque[ExecutionEvent]) -> None:
        inner = self.inner
        emit_batch = getattr(inner, "emit_batch", None)
        if emit_batch is not None:
            self._deliver_batch(queue, emit_batch)
            return
        for _ in range(self.batch_size):
            try:
                event = queue.popleft()
            except IndexError:
                return
            try:
                inner.emit(event)
            except Exception as exc:  # an inner sink outside our base class may raise
                self.stats.errors += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                self._report(f"inner sink failed: {self.stats.last_error}")
            else:
                self._stats.emitted += 1

    def _deliver_batch(
        self, queue: deque[ExecutionEvent], emit_batch: Callable[[list[ExecutionEvent]], int | None]
    ) -> None:
        batch: list[ExecutionEvent] = []
        for _ in range(self.batch_size):
            try:
                batch.append(queue.popleft())
            except IndexError:
                break
        if not batch:
            return
        try:
            delivered = emit_batch(batch)
        except Exception as exc:  # an inner sink outside our base class may raise
            delivered = 0
            self.stats.errors += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            self._report(f"inner sink failed: {self.stats.last_error}")
        delivered = len(batch) if delivered is None else max(0, min(len(batch), int(delivered)))
        self._stats.emitted += delivered
        self._stats.dropped += len(batch) - delivered

    # -- flush and close -------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the queue is drained and the inner sink flushed, or the timeout passes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._queue and self._worker is None:
            self._start_worker()
        self._wakeup.set()
        with self._idle:
            while self._queue or self._busy:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(0.05 if remaining is None else min(remaining, 0.05))
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            return bool(self.inner.flush(remaining))
        except Exception as exc:
            self._handle_error(exc, "inner flush")
            return False

    def close(self) -> None:
        if self._closed:
            return
        drained = self.flush(self.close_timeout)
        self._closed = True
        with self._idle:
            self._stopping = True
        self._wakeup.set()
        worker = self._worker
        if worker is not None:
            worker.join(self.close_timeout)
        if not drained and self._queue:
            lost = len(self._queue)
            self.stats.dropped += lost
            self._report(f"closed with {lost} events undelivered after {self.close_timeout}s")
        try:
            self.inner.close()
        except Exception as exc:
            self._handle_error(exc, "inner close")

    def _name(self) -> str:
        namer = getattr(self.inner, "_name", None)
        inner = namer() if callable(namer) else type(self.inner).__name__
        return f"QueuedEmitter({inner})"

    def health(self) -> JsonObject:
        inner = getattr(self.inner, "health", None)
        return {
            **super().health(),
            "queued": len(self._queue),
            "maxsize": self.maxsize,
            "inner": inner() if callable(inner) else None,
        }
