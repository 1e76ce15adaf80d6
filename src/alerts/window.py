"""Sliding windows over a session's newest events, for the rules that judge "the last N minutes".

:class:`WindowedBuilder` is the query layer's :class:`SummaryBuilder` (whole-session counts,
parse statistics, open orders, all from the same decoder every reader uses) plus a
:class:`WindowStats` fed through the builder's ``observe`` hook. The window keeps, for the
newest ``horizon_s`` seconds of event time, what the windowed rules need: event, error,
order and reject instants, gate decisions, and latency samples stamped with the instant of
the event that completed them (pairing itself stays in
:class:`~src.query.analytics.pairing.Pairer`).

Queries take ``(since, until]`` in event time; iterating from the newest entry stops at the
first one older than ``since``, so a query costs what is in the window, not the session.

``floor``: events older than it can never fall in a window again (windows end at the
evaluation instant, which only moves forward), so they are only counted in the summary. The
first scan of a long session therefore does almost no window work.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from src.query.analytics.stats import percentile
from src.query.analytics.summary import SummaryBuilder
from src.query.records import ScanRecord

__all__ = ["GateWindow", "WindowStats", "WindowedBuilder"]

LEGS = ("intent_to_order", "order_to_fill", "intent_to_fill", "order_to_ack")


@dataclass
class GateWindow:
    """Gate decisions in a window: blocked intents / intents, and per gate."""

    intents: int = 0
    blocks: int = 0
    by_gate: dict[str, list[int]] = field(default_factory=dict)  # name -> [evaluations, blocks]

    @property
    def rejection_rate(self) -> float | None:
        return self.blocks / self.intents if self.intents else None


class WindowStats:
    """Timestamped facts of the newest ``horizon_s`` seconds (event time) of one session."""

    def __init__(self, builder: SummaryBuilder, horizon_s: float) -> None:
        self.horizon_s = horizon_s
        self._pairer = builder.pairer
        self.floor = float("-inf")
        self.newest = float("-inf")
        self.events: deque[float] = deque()
        self.errors: deque[float] = deque()
        self.intents: deque[float] = deque()
        self.orders: deque[float] = deque()
        self.rejects: deque[float] = deque()
        self.gates: deque[tuple[float, str, bool]] = deque()
        self.latency: dict[str, deque[tuple[float, float]]] = {leg: deque() for leg in LEGS}
        self._seen = dict.fromkeys(LEGS, 0)

    def observe(self, rec: ScanRecord) -> None:
        t = rec.t
        kind = rec.kind
        if t < self.floor:
            # Too old for any window: only keep the sample counters in step with the pairer.
            if kind == "fill":
                self._seen["order_to_fill"] = len(self._pairer.order_to_fill)
                self._seen["intent_to_fill"] = len(self._pairer.intent_to_fill)
            elif kind == "order":
                self._seen["intent_to_order"] = len(self._pairer.intent_to_order)
            elif kind == "ack":
                self._seen["order_to_ack"] = len(self._pairer.order_to_ack)
            return
        if t > self.newest:
            self.newest = t
        self.events.append(t)
        if kind == "gate":
            p = rec.payload
            name = p.gate_name if isinstance(p.gate_name, str) else "?"
            self.gates.append((t, name, p.passed is not True))  # gates fail closed
        elif kind == "intent":
            self.intents.append(t)
        elif kind == "error":
            self.errors.append(t)
        elif kind == "order":
            self.orders.append(t)
            self._samples("intent_to_order", t)
        elif kind == "reject":
            self.rejects.append(t)
        elif kind == "ack":
            self._samples("order_to_ack", t)
        elif kind == "fill":
            self._samples("order_to_fill", t)
            self._samples("intent_to_fill", t)
        if len(self.events) & 0x3FF == 0:
            self.prune()

    def _samples(self, leg: str, t: float) -> None:
        values = getattr(self._pairer, leg)
        n = len(values)
        seen = self._seen[leg]
        if n > seen:
            into = self.latency[leg]
            for value in values[seen:n]:
                into.append((t, value))
            self._seen[leg] = n

    def prune(self) -> None:
        """Forget what is older than the horizon before the newest event (or the floor)."""
        cutoff = max(self.newest - self.horizon_s, self.floor)
        for times in (self.events, self.errors, self.intents, self.orders, self.rejects):
            while times and times[0] < cutoff:
                times.popleft()
        for entries in (self.gates, *self.latency.values()):
            while entries and entries[0][0] < cutoff:
                entries.popleft()

    # -- queries: (since, until] in event time ---------------------------------------------
    def count(self, times: deque[float], since: float, until: float) -> int:
        return sum(1 for _ in _newest_first(times, since, until, key=None))

    def gate_window(self, since: float, until: float) -> GateWindow:
        out = GateWindow(intents=self.count(self.intents, since, until))
        for _, name, blocked in _newest_first(self.gates, since, until, key=0):
            counts = out.by_gate.setdefault(name, [0, 0])
            counts[0] += 1
            if blocked:
                counts[1] += 1
                out.blocks += 1
        return out

    def latency_p95(self, leg: str, since: float, until: float) -> tuple[float | None, int]:
        """Nearest-rank p95 (ms) of the leg's samples in the window, and how many there were."""
        values = sorted(v for _, v in _newest_first(self.latency[leg], since, until, key=0))
        return percentile(values, 95), len(values)


def _newest_first(
    entries: deque[Any], since: float, until: float, key: int | None
) -> Iterator[Any]:
    for entry in reversed(entries):
        t = entry if key is None else entry[key]
        if t <= since:
            return
        if t <= until:
            yield entry


class WindowedBuilder(SummaryBuilder):
    """A summary builder that also keeps :attr:`window` for the newest ``horizon_s`` seconds."""

    def __init__(self, horizon_s: float, *, floor: float = float("-inf")) -> None:
        super().__init__()
        self.window = WindowStats(self, horizon_s)
        self.window.floor = floor
        self.observe = self.window.observe
