"""The emitter contract every sink follows.

Contract (for built-in and user sinks alike):

* ``emit(event)`` never raises into the caller. A failure is counted in :attr:`stats`,
  reported through the ``src.execution.telemetry`` logger (rate-limited) and the event is
  dropped. Trading goes on. ``strict=True`` re-raises instead, for tests.
* ``flush(timeout=None) -> bool`` pushes buffered events out; ``True`` when everything was
  delivered within the timeout.
* ``close()`` releases resources and is idempotent; emits after close are counted as
  dropped, not raised.
* Every emitter is a context manager that closes on exit.

A subclass that only defines ``emit`` (as the spec's ``PrometheusEmitter`` does) gets this
behaviour automatically: ``__init_subclass__`` wraps its ``emit`` in the guard.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Protocol, TypeVar

from src.execution.events import ExecutionEvent
from src.execution.jsontypes import JsonObject

__all__ = [
    "Emitter",
    "EmitterStats",
    "ExecutionEventEmitter",
    "NullEmitter",
    "Sink",
    "guarded",
]

log = logging.getLogger("src.execution.telemetry")

_F = TypeVar("_F", bound=Callable[..., object])


class Emitter(Protocol):
    """What the pipeline needs of a sink: ``emit(event)``, which should never raise.

    :class:`ExecutionEventEmitter` (subclass it to get the guard, stats and rate-limited
    reports) satisfies it, and so does any object with such a method.
    """

    def emit(self, event: ExecutionEvent) -> None: ...


class Sink(Emitter, Protocol):
    """An emitter that can also be flushed and closed: what the wrapping sinks
    (queued, filtering, composite) accept as their inner sinks."""

    def flush(self, timeout: float | None = None) -> bool: ...

    def close(self) -> None: ...


# One log line per emitter per this many seconds, plus a count of what was suppressed.
ERROR_REPORT_INTERVAL_S = 60.0


@dataclass
class EmitterStats:
    """Counters an emitter keeps about itself; read them for health checks."""

    emitted: int = 0
    errors: int = 0
    dropped: int = 0
    last_error: str | None = None
    last_error_at: float | None = None

    def as_dict(self) -> JsonObject:
        return asdict(self)


def guarded(method: _F) -> _F:
    """Mark an ``emit`` that already catches its own errors, so it is not wrapped twice."""
    method._telemetry_guarded = True  # type: ignore[attr-defined]
    return method


def _guard(
    user_emit: Callable[[ExecutionEventEmitter, ExecutionEvent], None],
) -> Callable[[ExecutionEventEmitter, ExecutionEvent], None]:
    @functools.wraps(user_emit)
    def emit(self: ExecutionEventEmitter, event: ExecutionEvent) -> None:
        if self.__dict__.get("_closed"):
            self._drop("emit after close")
            return
        try:
            user_emit(self, event)
        except Exception as exc:
            self._handle_error(exc, "emit")
            return
        self.stats.emitted += 1

    emit._telemetry_guarded = True  # type: ignore[attr-defined]
    return emit


class ExecutionEventEmitter:
    """Base class of all sinks. Subclasses override :meth:`emit`; the rest is optional."""

    strict: bool = False

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        own_emit = cls.__dict__.get("emit")
        if own_emit is not None and not getattr(own_emit, "_telemetry_guarded", False):
            setattr(cls, "emit", _guard(own_emit))  # noqa: B010 (assigning a method)

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self._closed = False
        self._stats = EmitterStats()

    # -- the interface -------------------------------------------------------------------
    def emit(self, event: ExecutionEvent) -> None:
        raise NotImplementedError

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self) -> None:
        self._closed = True

    @property
    def closed(self) -> bool:
        return bool(self.__dict__.get("_closed"))

    def __enter__(self) -> ExecutionEventEmitter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- bookkeeping shared by all sinks -------------------------------------------------
    @property
    def stats(self) -> EmitterStats:
        # Created on first use so user subclasses need not call super().__init__().
        stats: EmitterStats | None = self.__dict__.get("_stats")
        if stats is None:
            stats = self.__dict__.setdefault("_stats", EmitterStats())
        return stats

    def _drop(self, reason: str) -> None:
        self.stats.dropped += 1
        self._report(f"{reason}; event dropped")

    def _handle_error(self, exc: BaseException, where: str) -> None:
        """Count a failure, report it (rate-limited) and drop the event, or raise if strict."""
        stats = self.stats
        stats.errors += 1
        stats.last_error = f"{type(exc).__name__}: {exc}"
        stats.last_error_at = time.time()
        if self.strict:
            raise exc
        self._report(f"{where} failed: {stats.last_error}")

    def _report(self, message: str) -> None:
        state = self.__dict__.get("_report_state")
        if state is None:
            state = self.__dict__.setdefault("_report_state", [threading.Lock(), 0.0, 0])
        lock, last, _suppressed = state
        now = time.monotonic()
        with lock:
            if last and now - last < ERROR_REPORT_INTERVAL_S:
                state[2] += 1
                return
            suppressed = state[2]
            state[1] = now
            state[2] = 0
        extra = f" ({suppressed} similar messages suppressed)" if suppressed else ""
        log.warning("telemetry sink %s: %s%s", self._name(), message, extra)

    def _name(self) -> str:
        return type(self).__name__

    def health(self) -> JsonObject:
        """A JSON-ready description of this sink and its counters."""
        return {"emitter": self._name(), "closed": self.closed, **self.stats.as_dict()}


class NullEmitter(ExecutionEventEmitter):
    """Telemetry disabled: accepts every event and does nothing with it."""

    @guarded
    def emit(self, event: ExecutionEvent) -> None:
        if self._closed:
            self._drop("emit after close")
