"""What the live charts need of a session, kept as its summary is kept: incrementally.

The dashboard's incremental summary (:class:`~src.query.incremental.IncrementalSummary`)
reads only what was appended; its builder calls an observer for every event it accounts
for. :class:`ChartIndex` is that observer: it counts events per kind in
:data:`BUCKET_S`-second buckets of event time, and notes for each bucket where the
pairer's latency and slippage samples stood when the bucket opened. A chart for "the last
15 minutes" then takes the samples after that mark: the same numbers the summary uses,
none re-read from the log.

Memory: one small dict of counts and one mark per bucket with events (a busy day-long
session is 17,280 buckets, a few MB; at most :data:`MAX_BUCKETS`); the samples themselves
are the pairer's.

The index is part of the builder and so of the dashboard's saved summary state
(:mod:`src.webui.summaries`): plain dicts, lists, sets and ``Counter``s, which the state
codec saves (it refuses a ``defaultdict``, which once kept the dashboard from saving).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from src.query.analytics.summary import SummaryBuilder

__all__ = [
    "BUCKET_S",
    "MAX_BUCKETS",
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
# At most this many buckets with events are kept (~69 h of a busy session); beyond, the
# oldest are forgotten, so times scattered over years cannot grow the index without bound.
MAX_BUCKETS = 50_000
# The time ranges a page may ask for, in seconds of event time back from the newest
# event (None: the whole session).
RANGES: dict[str, int | None] = {"5m": 300, "15m": 900, "1h": 3600, "session": None}


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


_FILLS = frozenset({"fill", "partial_fill"})  # the kinds that may add slippage samples


class ChartIndex:
    """Per-bucket kind counts and sample marks (see the module docstring).

    :meth:`observe` runs for every event of a session's first load (a million, for a big
    one): a range check, a dict increment and a kind test; the rest happens once a bucket.
    Slippage marks are kept per symbol, and only for symbols that filled since the last
    bucket opened (a session with many symbols costs what its fills cost).
    """

    def __init__(self, pairer: Any, newest: Callable[[], float | None]) -> None:
        self.counts: dict[int, Counter[str]] = {}  # bucket -> kind -> events
        self.marks: dict[int, tuple[int, int]] = {}  # bucket -> latency sample counts
        # symbol -> (buckets, slippage sample counts when each opened), in opening order
        self.symbol_marks: dict[Any, tuple[list[int], list[int]]] = {}
        self.pairer = pairer
        self._newest = newest  # POSIX seconds of the newest event read (None: none yet)
        self._lo = self._hi = 0.0  # the current bucket's span
        self._row: Counter[str] = Counter()
        self._filled: set[Any] = set()  # symbols with fills since the last bucket opened
        self.dropped = False  # the oldest buckets were forgotten (see MAX_BUCKETS)

    def observe(self, rec: Any) -> None:
        """Called by the summary builder for every event it accounted for."""
        t = rec.t
        if not self._lo <= t < self._hi:
            self._open(t)
        kind = rec.kind
        self._row[kind] += 1
        if kind in _FILLS:
            self._filled.add(rec.symbol)

    def _open(self, t: float) -> None:
        b = int(t // BUCKET_S)
        self._lo, self._hi = b * BUCKET_S, (b + 1) * BUCKET_S
        row = self.counts.get(b)
        if row is None:
            if len(self.counts) >= MAX_BUCKETS:
                self._drop_oldest()
            row = self.counts[b] = Counter()
            p = self.pairer  # where the samples stood (this event's own may be in)
            self.marks[b] = (len(p.intent_to_order), len(p.order_to_fill))
            for symbol in self._filled:
                samples = p.slippage.get(symbol)
                if samples is None:
                    continue
                buckets, sizes = self.symbol_marks.setdefault(symbol, ([], []))
                if not sizes or sizes[-1] != len(samples):
                    buckets.append(b)
                    sizes.append(len(samples))
            self._filled = set()
        self._row = row

    def window(self, seconds: int | None) -> RangeData:
        """The last ``seconds`` of event time up to the newest event (None: everything).

        Only buckets that have events are listed (a session whose times span years costs
        what its events cost, not its span). Safe while the summary consumes lines in
        another thread: it works on copies taken in single C-level steps (a few new events
        may or may not be in).
        """
        keys = sorted(self.counts)
        newest = self._newest()
        if not keys or newest is None:
            return RangeData(None, None, [], [], [], {})
        first = keys[0]
        if seconds is not None:
            first = max(first, int((newest - seconds) // BUCKET_S) + 1)
        last = int(newest // BUCKET_S)
        buckets = []
        for b in keys:
            row = self.counts.get(b) if first <= b <= last else None
            if row is not None:
                buckets.append((float(b * BUCKET_S), dict(row)))
        p = self.pairer
        opened = bisect_left(keys, first)  # the first bucket of the range that has events
        start_bucket = keys[opened] if opened < len(keys) else None
        i2o, o2f = self._marks_at(start_bucket, keys[0])
        intent_to_order, order_to_fill = p.intent_to_order, p.order_to_fill
        slippage = {}
        for symbol, samples in list(p.slippage.items()):
            mark = self._symbol_mark(symbol, start_bucket, len(samples), keys[0])
            slippage[str(symbol)] = _newest(samples, mark)
        return RangeData(
            start=float(first * BUCKET_S),
            end=newest,
            buckets=buckets,
            intent_to_order=_newest(intent_to_order, i2o),
            order_to_fill=_newest(order_to_fill, o2f),
            slippage={k: v for k, v in slippage.items() if v},
            totals={
                "intent_to_order": len(intent_to_order) - i2o,
                "order_to_fill": len(order_to_fill) - o2f,
            },
        )

    def _marks_at(self, bucket: int | None, oldest: int) -> tuple[int, int]:
        """The latency sample counts when ``bucket`` opened (None: after the newest)."""
        p = self.pairer
        if bucket is None:
            return len(p.intent_to_order), len(p.order_to_fill)
        if bucket == oldest and not self.dropped:
            return 0, 0
        return self.marks.get(bucket, (0, 0))

    def _symbol_mark(self, symbol: Any, bucket: int | None, size: int, oldest: int) -> int:
        """How many slippage samples ``symbol`` had when ``bucket`` opened."""
        if bucket is None:
            return size
        if bucket == oldest and not self.dropped:
            return 0
        buckets, sizes = self.symbol_marks.get(symbol, ((), ()))
        i = bisect_right(buckets, bucket)  # opening order is time order but for stragglers
        return sizes[i - 1] if i else 0

    def _drop_oldest(self) -> None:
        """Forget the oldest tenth of the buckets (the index holds at most MAX_BUCKETS)."""
        for b in sorted(self.counts)[: MAX_BUCKETS // 10]:
            del self.counts[b]
            self.marks.pop(b, None)
        self.dropped = True


def _newest(samples: Any, start: int) -> list[float]:
    """``samples[start:]``, at most its last :data:`MAX_SAMPLES`."""
    return list(samples[max(start, len(samples) - MAX_SAMPLES) :])


class ChartedSummaryBuilder(SummaryBuilder):
    """A summary builder that also keeps a :class:`ChartIndex` (``charts``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.charts = ChartIndex(self.pairer, self._newest)
        self.observe = self.charts.observe

    def _newest(self) -> float | None:
        return self.last_ts.timestamp() if self.event_count else None
