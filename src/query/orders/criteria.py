"""Which orders a page shows: statuses, symbols, a creation-time window, a page size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from src.execution.schema import ORDER_STATUSES
from src.query.filters import parse_instant
from src.query.orders.state import OrderState

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "OrderQuery"]

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_MAX_NAMES = 64


def _names(value: str | None, what: str) -> frozenset[str] | None:
    if value is None:
        return None
    names = frozenset(v.strip() for v in value.split(",") if v.strip())
    if not names:
        raise ValueError(f"invalid {what} {value!r}: empty")
    if len(names) > _MAX_NAMES:
        raise ValueError(f"invalid {what} {value[:80]!r}: more than {_MAX_NAMES} values")
    return names


@dataclass(frozen=True)
class OrderQuery:
    """Selection of orders (all of a session when every field is None). ``since`` and
    ``until`` bound the creation time (POSIX seconds, inclusive)."""

    statuses: frozenset[str] | None = None
    symbols: frozenset[str] | None = None
    since: float | None = None
    until: float | None = None
    limit: int = DEFAULT_LIMIT

    @classmethod
    def build(
        cls,
        *,
        status: str | None = None,
        symbol: str | None = None,
        since: str | datetime | float | None = None,
        until: str | datetime | float | None = None,
        limit: int | None = None,
        max_limit: int = MAX_LIMIT,
    ) -> OrderQuery:
        """Validate user-facing values (``ValueError`` naming the bad one)."""
        statuses = _names(status, "status")
        for name in sorted(statuses or ()):
            if name not in ORDER_STATUSES:
                raise ValueError(
                    f"invalid status {name!r}: expected one of {', '.join(ORDER_STATUSES)}"
                )
        lo = _instant(since)
        hi = _instant(until)
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"invalid time range: since {since!r} is after until {until!r}")
        n = DEFAULT_LIMIT if limit is None else limit
        if not 1 <= n <= max_limit:
            raise ValueError(f"invalid limit {limit!r}: expected 1..{max_limit}")
        return cls(statuses, _names(symbol, "symbol"), lo, hi, n)

    def wants(self, status: str) -> bool:
        return self.statuses is None or status in self.statuses

    def matches(self, st: OrderState) -> bool:
        """True when ``st`` passes the symbol and time conditions (status is the caller's)."""
        if self.symbols is not None and st.symbol not in self.symbols:
            return False
        if self.since is None and self.until is None:
            return True
        t = st.created.timestamp()
        if self.since is not None and t < self.since:
            return False
        return not (self.until is not None and t > self.until)


def _instant(value: str | datetime | float | None) -> float | None:
    if value is None or isinstance(value, float):
        return value
    return parse_instant(value)
