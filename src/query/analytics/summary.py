"""One pass over a session's lines builds the whole summary.

:class:`SummaryBuilder` is what every reader (bridge, CLI, dashboard, alerts) uses, so the
numbers an operator sees are the same everywhere. :meth:`SummaryBuilder.consume` is the hot
loop of every scan (millions of lines): decoding, counting, time range and timestamp health
are inlined there on purpose; pairing and gate statistics live in their own modules.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import msgspec

from src.query.analytics.gates import GateStats
from src.query.analytics.pairing import Pairer
from src.query.analytics.timestamps import DEFAULT_GAP_THRESHOLD_S, TimestampHealth
from src.query.records import ParseStats, ScanRecord, decode_scan_slow, is_utf8, scan_decoder

__all__ = ["Matcher", "Observer", "SummaryBuilder"]

Matcher = Callable[[Any, Any, float], bool]
# observe(record): called for every matching event after it was accounted for (alerts keep
# sliding windows this way without a second decoder).
Observer = Callable[[ScanRecord], None]


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat()


class SummaryBuilder:
    """Feed lines (:meth:`consume`) or records (:meth:`add`); :meth:`result` gives the dict."""

    def __init__(
        self, *, gap_threshold_s: float = DEFAULT_GAP_THRESHOLD_S, observe: Observer | None = None
    ) -> None:
        self.observe = observe
        self.kind_counts: dict[str, int] = {}
        self.symbols: set[Any] = set()
        self.sessions: set[Any] = set()
        self.start = float("inf")
        self.end = float("-inf")
        self.pairer = Pairer()
        self.gates = GateStats()
        self.timestamps = TimestampHealth(gap_threshold_s)
        self.errors: dict[str, int] = {}
        self.last_error: dict[str, Any] | None = None

    def add(self, rec: ScanRecord) -> None:
        """Account for one decoded record (the slow, simple path; tests and small inputs)."""
        self._account(rec)

    def consume(
        self, lines: Iterable[bytes], stats: ParseStats, match: Matcher | None = None
    ) -> None:
        """Decode and account for raw lines (each with its newline, as a file yields them)."""
        decode = scan_decoder.decode
        validation_error = msgspec.ValidationError
        decode_error = (msgspec.DecodeError, UnicodeDecodeError)
        counts = self.kind_counts
        symbols_add = self.symbols.add
        sessions_add = self.sessions.add
        gate_add = self.gates.add
        blocked = self.pairer.blocked
        intent, order, fill = self.pairer.intent, self.pairer.order, self.pairer.fill
        ts_add = self.timestamps.add
        observe = self.observe
        start, end = self.start, self.end
        total = valid = invalid = torn = 0
        utc = UTC
        for line in lines:
            if line[-1:] != b"\n":
                if line:
                    total += 1
                    invalid += 1
                    torn += 1
                continue
            if len(line) == 1:
                continue  # blank lines are neither events nor errors
            total += 1
            if not line.isascii() and not is_utf8(line):
                invalid += 1
                continue
            try:
                rec = decode(line)
            except validation_error:
                rec = decode_scan_slow(line)
                if rec is None:
                    invalid += 1
                    continue
            except decode_error:
                invalid += 1
                continue
            kind = rec.kind
            if kind.__class__ is not str or not kind:
                invalid += 1
                continue
            ts = rec.ts
            if ts.tzinfo is None:
                ts = rec.ts = ts.replace(tzinfo=utc)
            t = rec.t = ts.timestamp()
            valid += 1
            if match is not None and not match(kind, rec.symbol, t):
                continue
            if rec.payload is None:
                rec.payload = _EMPTY
            counts[kind] = counts.get(kind, 0) + 1
            if t < start:
                start = t
            if t > end:
                end = t
            symbols_add(rec.symbol)
            sid = rec.session_id
            sessions_add(sid)
            ts_add(sid, t)
            if kind == "gate":
                if gate_add(rec):
                    blocked(rec)
            elif kind == "intent":
                intent(rec)
            elif kind == "order":
                order(rec)
            elif kind == "fill":
                fill(rec)
            elif kind == "error":
                self._error(rec)
            if observe is not None:
                observe(rec)
        self.start, self.end = start, end
        stats.total_lines += total
        stats.valid_events += valid
        stats.invalid_lines += invalid
        stats.torn_lines += torn

    def _account(self, rec: ScanRecord) -> None:
        kind = rec.kind
        self.kind_counts[kind] = self.kind_counts.get(kind, 0) + 1
        self.start = min(self.start, rec.t)
        self.end = max(self.end, rec.t)
        self.symbols.add(rec.symbol)
        self.sessions.add(rec.session_id)
        self.timestamps.add(rec.session_id, rec.t)
        if kind == "gate":
            if self.gates.add(rec):
                self.pairer.blocked(rec)
        elif kind in ("intent", "order", "fill"):
            getattr(self.pairer, kind)(rec)
        elif kind == "error":
            self._error(rec)
        if self.observe is not None:
            self.observe(rec)

    def _error(self, rec: ScanRecord) -> None:
        message = rec.payload.error
        text = message if isinstance(message, str) else "(no message)"
        key = text[:200]
        self.errors[key] = self.errors.get(key, 0) + 1
        self.last_error = {"ts": rec.ts.isoformat(), "error": text, "symbol": rec.symbol}

    @property
    def event_count(self) -> int:
        return sum(self.kind_counts.values())

    def result(self, parse: ParseStats, *, as_of: float | None = None) -> dict[str, Any]:
        as_of = time.time() if as_of is None else as_of
        has_events = self.event_count > 0
        out: dict[str, Any] = {
            "found": parse.files > 0,
            "event_count": self.event_count,
            "kind_counts": dict(sorted(self.kind_counts.items())),
            "symbols": sorted(s for s in self.symbols if isinstance(s, str) and s),
            "sessions": sorted(str(s) for s in self.sessions if s is not None),
            "start_time": _iso(self.start) if has_events else None,
            "end_time": _iso(self.end) if has_events else None,
            "parse": parse.as_dict(),
        }
        out.update(self.pairer.result(as_of))
        out["gates"] = self.gates.result(self.kind_counts.get("intent", 0))
        out["timestamps"] = self.timestamps.result()
        top = sorted(self.errors.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        out["errors"] = {
            "count": self.kind_counts.get("error", 0),
            "top": [{"error": e, "count": c} for e, c in top],
            "last": self.last_error,
        }
        return out


from src.query.records import EMPTY_PAYLOAD as _EMPTY  # noqa: E402
