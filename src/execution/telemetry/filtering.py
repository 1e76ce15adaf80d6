"""Drop events a deployment does not want to store (config ``[execution.telemetry.filters]``)."""

from __future__ import annotations

from collections.abc import Iterable

from src.execution.events import KINDS, SEVERITIES, ExecutionEvent, event_severity
from src.execution.jsontypes import JsonObject
from src.execution.telemetry.base import ExecutionEventEmitter, Sink, guarded

__all__ = ["FilteringEmitter"]


class FilteringEmitter(ExecutionEventEmitter):
    """Pass to ``inner`` only events whose kind is included and severity high enough."""

    def __init__(
        self,
        inner: Sink,
        *,
        include_kinds: Iterable[str] = KINDS,
        min_severity: str = "debug",
        strict: bool = False,
    ) -> None:
        super().__init__(strict=strict)
        kinds = frozenset(include_kinds)
        unknown = sorted(kinds - set(KINDS))
        if unknown:
            raise ValueError(f"invalid include_kinds value {unknown[0]!r}: expected one of {KINDS}")
        if min_severity not in SEVERITIES:
            raise ValueError(f"invalid min_severity {min_severity!r}: expected one of {SEVERITIES}")
        self.inner = inner
        self.include_kinds = kinds
        self.min_severity = min_severity
        self._min_rank = SEVERITIES.index(min_severity)
        self.filtered = 0

    @guarded
    def emit(self, event: ExecutionEvent) -> None:
        if self._closed:
            self._drop("emit after close")
            return
        if event.kind not in self.include_kinds or (
            self._min_rank and SEVERITIES.index(event_severity(event)) < self._min_rank
        ):
            self.filtered += 1
            return
        try:
            self.inner.emit(event)
        except Exception as exc:
            self._handle_error(exc, "inner emit")
            return
        self._stats.emitted += 1

    def flush(self, timeout: float | None = None) -> bool:
        return bool(self.inner.flush(timeout))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.inner.close()

    def _name(self) -> str:
        namer = getattr(self.inner, "_name", None)
        return f"FilteringEmitter({namer() if callable(namer) else type(self.inner).__name__})"

    def health(self) -> JsonObject:
        inner = getattr(self.inner, "health", None)
        return {
            **super().health(),
            "filtered": self.filtered,
            "inner": inner() if callable(inner) else None,
        }
