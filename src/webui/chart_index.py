"""What the live charts need of a session, kept as its summary is kept: incrementally.

The dashboard's incremental summary (:class:`~src.query.incremental.IncrementalSummary`)
reads only what was appended; its builder calls an observer for every event it accounts
for. :class:`ChartIndex` is that observer: it counts events per kind in
:data:`BUCKET_S`-second buckets of event time, and notes for each bucket where the
pairer's latency and slippage samples stood when the bucket opened. A chart for "the last
15 minutes" then takes the samples after that mark: the same numbers the summary uses,
none re-read from the log.

Memory: one small list of counts and one mark per bucket (a day-long session is 17,280
buckets, a few MB); the samples themselves are the pairer's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from src.execution.schema import KINDS
from src.query.analytics.summary import SummaryBuilder

__all__ = [
    "BUCKET_S",
    "MAX_SAMPLES",
    "RANGES",
    "ChartIndex",
    "ChartedSummaryBuilder",
    "RangeData",
]

BUCKET_S = 5
# A chart takes at most this many of a range's newest samples per series (a histogram of a
# whole 1M-event session would otherwise sort a million values on every refresh).
MAX_SAMPLES = 20_000
# The time ranges a page may ask for, in seconds of event time back from the newest
# event (None: the whole session).
RANGES: dict[str, int | None] = {"5m": 300, "15m": 900, "1h": 3600, "session": None}
_KIND_INDEX = {kind: i for i, kind in enumerate(KINDS)}


@dataclass(frozen=True, slots=True)
class RangeData:
    """One time range of a session: kind counts per bucket and the samples in it."""

    start: float | None  # POSIX seconds of the first bucket (None: no events)
    end: float | None  # of the newest event
    buckets: list[tuple[float, dict[str, int]]]  # (bucket start, kind -> count), in time order
    intent_to_order: list[float]  # the newest MAX_SAMPLES of the range
    order_to_fill: list[float]
    slippage: dict[str, list[float]]  # by symbol, the newest MAX_SAMPLES of each
    totals: dict[str, int] = field(default_factory=dict)  # samples in the range, per series


class ChartIndex:
    """Per-bucket kind counts and sample marks (see the module docstring)."""

    def __init__(self) -> None:
        self.counts: dict[int, list[int]] = {}  # bucket -> counts by KINDS index (+ other)
        self.marks: dict[int, tuple[int, int, dict[Any, int]]] = {}
        self.newest = float("-inf")
        self.pairer: Any = None  # the builder's (set by ChartedSummaryBuilder)
        self._bucket: int | None = None
        self._row: list[int] = []

    def observe(self, rec: Any) -> None:
        """Called by the summary builder for every event it accounted for."""
        t = rec.t
        b = int(t // BUCKET_S)
        if b != self._bucket:
            self._open(b)
        self._row[_KIND_INDEX.get(rec.kind, len(KINDS))] += 1
        if t > self.newest:
            self.newest = t

    def _open(self, b: int) -> None:
        self._bucket = b
        row = self.counts.get(b)
        if row is None:
            row = self.counts[b] = [0] * (len(KINDS) + 1)
            p = self.pairer  # where the samples stood (this event's own may be in)
            self.marks[b] = (
                len(p.intent_to_order),
                len(p.order_to_fill),
                {k: len(v) for k, v in p.slippage.items()},
            )
        self._row = row

    def window(self, seconds: int | None) -> RangeData:
        """The last ``seconds`` of event time up to the newest event (None: everything).

        Safe while the summary consumes lines in another thread: it works on copies taken
        in single C-level steps (a few new events may or may not be in).
        """
        keys = list(self.counts)
        if not keys:
            return RangeData(None, None, [], [], [], {})
        newest = self.newest
        first = min(keys)
        if seconds is not None:
            first = max(first, int((newest - seconds) // BUCKET_S) + 1)
        buckets = []
        for b in range(first, int(newest // BUCKET_S) + 1):
            row = self.counts.get(b)
            kinds = {} if row is None else {k: row[i] for i, k in enumerate(KINDS) if row[i]}
            buckets.append((float(b * BUCKET_S), kinds))
        p = self.pairer
        i2o, o2f, slip = self._mark_at(first, dict(self.marks))
        intent_to_order, order_to_fill = p.intent_to_order, p.order_to_fill
        slippage = {str(k): (v, slip.get(k, 0)) for k, v in list(p.slippage.items())}
        totals = {
            "intent_to_order": len(intent_to_order) - i2o,
            "order_to_fill": len(order_to_fill) - o2f,
        }
        return RangeData(
            start=float(first * BUCKET_S),
            end=newest,
            buckets=buckets,
            intent_to_order=_newest(intent_to_order, i2o),
            order_to_fill=_newest(order_to_fill, o2f),
            slippage={sym: _newest(v, mark) for sym, (v, mark) in slippage.items()},
            totals=totals,
        )

    def _mark_at(
        self, bucket: int, marks: dict[int, tuple[int, int, dict[Any, int]]]
    ) -> tuple[int, int, dict[Any, int]]:
        """Where the samples stood when the first bucket at or after ``bucket`` opened."""
        if not marks or bucket <= min(marks):
            return 0, 0, {}
        later = [b for b in marks if b >= bucket]
        if later:
            return marks[min(later)]
        p = self.pairer
        return (
            len(p.intent_to_order),
            len(p.order_to_fill),
            {k: len(v) for k, v in list(p.slippage.items())},
        )


def _newest(samples: Any, start: int) -> list[float]:
    """``samples[start:]``, at most its last :data:`MAX_SAMPLES`."""
    return list(samples[max(start, len(samples) - MAX_SAMPLES) :])


class ChartedSummaryBuilder(SummaryBuilder):
    """A summary builder that also keeps a :class:`ChartIndex` (``charts``)."""

    def __init__(self, **kwargs: Any) -> None:
        self.charts = ChartIndex()
        super().__init__(observe=self.charts.observe, **kwargs)
        self.charts.pairer = self.pairer
