"""The summary of a read, as typed values: what every reader of a summary gets.

:meth:`~src.query.analytics.summary.SummaryBuilder.result` builds one :class:`Summary` at
the end of a read (a few dozen small objects: nothing in the scan loop). Consumers read
attributes; the edges that publish a plain dict (the spec's ``get_execution_summary``)
call :meth:`Summary.to_dict` once. The classes are frozen standard dataclasses, so the
dashboard's JSON API can declare them as its response model (pydantic builds the OpenAPI
schema from them) and ``orjson`` encodes them directly, without the query layer depending
on either.

Field order is the order of the keys in the dict and in the JSON.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace

import msgspec

from src.execution.jsontypes import JsonObject
from src.query.analytics.stats import moments

__all__ = [
    "ErrorCount",
    "ErrorReport",
    "FillReport",
    "GapReport",
    "GateReason",
    "GateReport",
    "GatesReport",
    "JsonScalar",
    "LastError",
    "LatencyReport",
    "LatencyStats",
    "OpenOrder",
    "OrderClock",
    "OrderReport",
    "ParseReport",
    "SlippageReport",
    "SlippageStats",
    "Summary",
    "TimestampReport",
    "latency_stats",
    "open_order_times",
    "slippage_stats",
]

# A raw value from a log line that the summary shows as it was written (a symbol, a client
# id, a session id in a gap): the lean decoders accept any JSON scalar there.
JsonScalar = str | int | float | bool | None

_FROZEN = {"frozen": True, "slots": True}


@dataclass(**_FROZEN)
class ParseReport:
    """How many lines were read, and how many of them were not valid events."""

    total_lines: int
    valid_events: int
    invalid_lines: int
    torn_lines: int
    error_rate: float
    files: int
    unreadable_files: int
    unreadable_paths: list[str]


@dataclass(**_FROZEN)
class LatencyStats:
    """A latency distribution in milliseconds (nearest-rank percentiles; None when empty)."""

    count: int
    avg_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None


@dataclass(**_FROZEN)
class SlippageStats:
    """A slippage distribution in basis points (positive = worse for the trader)."""

    count: int
    avg_bps: float | None
    p50_bps: float | None
    p95_bps: float | None
    p99_bps: float | None
    max_bps: float | None


def latency_stats(values: Sequence[float], *, presorted: bool = False) -> LatencyStats:
    return LatencyStats(*moments(values, presorted=presorted))


def slippage_stats(values: Sequence[float], *, presorted: bool = False) -> SlippageStats:
    return SlippageStats(*moments(values, presorted=presorted))


@dataclass(**_FROZEN)
class LatencyReport:
    """``order_to_fill`` ends at the fill that completes the order (partial fills are
    their own kind); ``order_to_ack`` at the venue's first acknowledgement;
    ``order_to_cancel`` at the cancel (how long cancelled orders lived)."""

    intent_to_order: LatencyStats
    order_to_fill: LatencyStats
    intent_to_fill: LatencyStats
    negative_intervals: int
    order_to_ack: LatencyStats
    order_to_cancel: LatencyStats


@dataclass(**_FROZEN)
class SlippageReport:
    overall: SlippageStats
    by_symbol: dict[str, SlippageStats]


@dataclass(**_FROZEN)
class OpenOrder:
    """An order still open (no fill, cancel, expire, reject or execute error yet);
    ``age_s`` is measured at the summary's ``as_of``. ``deadline``: when it should have
    ended (:func:`src.query.lifecycle.deadline`; None: it works until cancelled);
    ``overdue_s``: how long ago that was, None while it is still inside its time in force.
    ``filled_quantity`` counts its partial fills."""

    client_id: JsonScalar
    symbol: JsonScalar
    ts: str
    age_s: float
    filled_quantity: float
    quantity: float | None
    order_type: JsonScalar = None
    time_in_force: JsonScalar = None
    stage: str = "sent"
    deadline: str | None = None
    overdue_s: float | None = None


@dataclass(**_FROZEN)
class FillReport:
    orders: int
    fills: int
    filled_orders: int
    fill_rate: float | None
    orders_without_fills: int
    open_orders: list[OpenOrder]  # the oldest 50
    fills_without_orders: int
    duplicate_fills: int


@dataclass(**_FROZEN)
class OrderReport:
    """Orders by how their life ended, and the working ones (see docs/events.md).

    ``by_status`` has every status of :data:`src.execution.schema.ORDER_STATUSES`: logged
    orders by final state (``cancelled`` and ``expired`` include partly filled ones,
    counted again in ``partly_filled_then_ended``), ``open`` for those still working, and
    ``blocked`` for intents a gate stopped (they never became orders). Rates are per order
    sent (None without order events). ``unmatched``: events that end an order whose order
    event is not in the read. ``overdue_orders``: open orders past their deadline at
    ``as_of`` (most overdue first, at most 50; ``overdue`` counts them all).
    """

    sent: int
    by_status: dict[str, int]
    partly_filled_then_ended: int
    acknowledged: int
    partial_fills: int
    partially_filled_orders: int
    cancel_rate: float | None
    reject_rate: float | None
    open: int
    oldest_open_ts: str | None
    oldest_open_age_s: float | None
    overdue: int
    overdue_orders: list[OpenOrder]
    unmatched: int


@dataclass(**_FROZEN)
class GateReason:
    reason: str
    count: int


@dataclass(**_FROZEN)
class GateReport:
    """One gate's decisions; ``top_reasons`` are its three commonest blocking reasons."""

    evaluations: int
    blocks: int
    rejection_rate: float
    top_reasons: list[GateReason]


@dataclass(**_FROZEN)
class GatesReport:
    evaluations: int
    blocks: int
    intents: int
    rejection_rate: float | None  # blocked intents / intents
    by_gate: dict[str, GateReport]  # "?" for a missing or non-string gate name


@dataclass(**_FROZEN)
class GapReport:
    after: str
    seconds: float
    session_id: JsonScalar


@dataclass(**_FROZEN)
class TimestampReport:
    non_monotonic_steps: int
    max_backward_jump_s: float
    gap_threshold_s: float
    gaps_over_threshold: int
    max_gap_s: float
    largest_gaps: list[GapReport]  # the ten longest


@dataclass(**_FROZEN)
class ErrorCount:
    error: str
    count: int


@dataclass(**_FROZEN)
class LastError:
    ts: str
    error: str
    symbol: JsonScalar


@dataclass(**_FROZEN)
class ErrorReport:
    count: int
    top: list[ErrorCount]  # the five commonest messages (first 200 characters)
    last: LastError | None


@dataclass(**_FROZEN)
class Summary:
    """Counts, time range, parse statistics and analytics of the events a read matched.

    ``session_id`` is the session the read was limited to (None: all sessions);
    ``size_bytes`` the size of the files read.
    """

    found: bool
    event_count: int
    kind_counts: dict[str, int]
    symbols: list[str]
    sessions: list[str]
    start_time: str | None
    end_time: str | None
    parse: ParseReport
    latency: LatencyReport
    slippage: SlippageReport
    fills: FillReport
    gates: GatesReport
    timestamps: TimestampReport
    errors: ErrorReport
    orders: OrderReport
    session_id: str | None = None
    size_bytes: int = 0

    def to_dict(self) -> JsonObject:
        """The summary as plain dicts and lists (the spec's ``get_execution_summary``)."""
        out: JsonObject = msgspec.to_builtins(self)
        return out

    def located(self, *, session_id: str | None, found: bool, size_bytes: int) -> Summary:
        """A copy that says which session was read, whether it exists and its size."""
        return replace(self, session_id=session_id, found=found, size_bytes=size_bytes)


OPEN_ORDER_LIST_MAX = 50  # open orders listed, and overdue ones listed


def open_order_times(placed: float, due: float | None, as_of: float) -> tuple[float, float | None]:
    """(``age_s``, ``overdue_s``) of an open order placed at ``placed`` with deadline ``due``
    (POSIX seconds; None: none) at ``as_of``: the one formula of every reader."""
    late = None if due is None else as_of - due
    return max(0.0, as_of - placed), late if late is not None and late >= 0 else None


@dataclass(**_FROZEN)
class OrderClock:
    """What the parts of a :class:`Summary` that depend on ``as_of`` are measured from, kept
    beside the summary (not in it: the summary is the published contract), so that a summary
    answered later (from saved state, or between two refreshes) by :meth:`age` equals a
    fresh read at that instant, field for field.

    ``shown``: (placed, deadline) of each listed open order (``fills.open_orders``, in that
    order); ``due``: every open order with a deadline as (deadline, position among the open
    orders, placed, row), by deadline then position, so those overdue at any instant are a
    prefix. Times are the exact POSIX seconds (the rows show them rounded to microseconds).
    """

    shown: list[tuple[float, float | None]]
    due: list[tuple[float, int, float, OpenOrder]]

    def overdue(self, as_of: float) -> tuple[int, list[OpenOrder]]:
        """How many open orders are past their deadline at ``as_of``, and the most overdue
        (at most :data:`OPEN_ORDER_LIST_MAX`; equal ones in the order they were placed)."""
        n = bisect_right(self.due, as_of, key=lambda d: d[0])
        if not n:
            return 0, []
        end = min(n, OPEN_ORDER_LIST_MAX)
        last = as_of - self.due[end - 1][0]
        while end < n and as_of - self.due[end][0] == last:  # a tie after rounding
            end += 1
        rows = []
        for due, pos, placed, row in self.due[:end]:
            age, late = open_order_times(placed, due, as_of)
            rows.append((-(late or 0.0), pos, replace(row, age_s=age, overdue_s=late)))
        rows.sort(key=lambda r: (r[0], r[1]))
        return n, [r[2] for r in rows[:OPEN_ORDER_LIST_MAX]]

    def age(self, summary: Summary, as_of: float) -> Summary:
        """``summary`` (built from the same state) with everything measured at ``as_of``."""
        fills, orders = summary.fills, summary.orders
        if not fills.open_orders:
            return summary
        listed = []
        for row, (placed, due) in zip(fills.open_orders, self.shown, strict=True):
            age, late = open_order_times(placed, due, as_of)
            listed.append(replace(row, age_s=age, overdue_s=late))
        count, overdue = self.overdue(as_of)
        return replace(
            summary,
            fills=replace(fills, open_orders=listed),
            orders=replace(
                orders, oldest_open_age_s=listed[0].age_s, overdue=count, overdue_orders=overdue
            ),
        )
