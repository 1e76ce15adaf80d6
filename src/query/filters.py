"""What a query selects: session, kinds, symbols and a time window (as instants)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from src.execution.session_ids import validate_session_id

__all__ = ["EventFilter", "parse_instant"]


def parse_instant(value: str | datetime) -> float:
    """POSIX seconds of an ISO 8601 time (``Z`` or offset; naive means UTC).

    Raises ``ValueError`` naming the value when it is not a time.
    """
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise ValueError(
                f"invalid time {value!r}: expected ISO 8601, e.g. 2025-12-20T10:15:00Z"
            ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _as_set(value: str | Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset(v for v in value.split(",") if v) or None
    return frozenset(value) or None


@dataclass(frozen=True)
class EventFilter:
    """Selection applied to every record before any limit."""

    session_id: str | None = None
    kinds: frozenset[str] | None = None
    symbols: frozenset[str] | None = None
    start: float | None = None
    end: float | None = None

    @classmethod
    def build(
        cls,
        *,
        session_id: str | None = None,
        kind: str | Iterable[str] | None = None,
        symbol: str | Iterable[str] | None = None,
        start: str | datetime | None = None,
        end: str | datetime | None = None,
    ) -> EventFilter:
        """Validate user-facing values (``ValueError`` naming the bad one) into a filter."""
        if session_id is not None:
            validate_session_id(session_id)
        lo = parse_instant(start) if start is not None else None
        hi = parse_instant(end) if end is not None else None
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"invalid time range: from {start!r} is after to {end!r}")
        return cls(session_id, _as_set(kind), _as_set(symbol), lo, hi)

    @property
    def is_trivial(self) -> bool:
        """True when the filter selects every event of the chosen session(s)."""
        return (
            self.kinds is None and self.symbols is None and self.start is None and self.end is None
        )

    def matches(self, kind: object, symbol: object, t: float) -> bool:
        if self.kinds is not None and kind not in self.kinds:
            return False
        if self.symbols is not None and symbol not in self.symbols:
            return False
        if self.start is not None and t < self.start:
            return False
        return not (self.end is not None and t > self.end)
