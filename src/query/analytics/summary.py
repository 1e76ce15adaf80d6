"""One pass over a session's lines builds the whole summary.

:class:`SummaryBuilder` is what every reader (bridge, CLI, dashboard, alerts) uses, so the
numbers an operator sees are the same everywhere. :meth:`SummaryBuilder.consume` is the hot
loop of every scan (millions of lines): splitting, decoding, counting, time range,
timestamp health and gate counts are inlined there on purpose; the rare paths and the
pairing of intents, orders and fills live in their own modules.

A builder can also summarise one part of a read on its own (a byte range of a big file,
for parallel scans) and be merged into the builder of the part before it with
:meth:`SummaryBuilder.absorb`; the result is identical to one pass over both parts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

import msgspec

from src.query.analytics.gates import GateStats
from src.query.analytics.pairing import Pairer
from src.query.analytics.pairing_ranges import RangePairer
from src.query.analytics.pairing_report import report
from src.query.analytics.sorted_samples import SortedSamples
from src.query.analytics.summary_model import (
    ErrorCount,
    ErrorReport,
    LastError,
    OrderClock,
    ParseReport,
    Summary,
)
from src.query.analytics.timestamps import (
    ALWAYS,
    DEFAULT_GAP_THRESHOLD_S,
    TimestampHealth,
    fast_window,
    in_exact_range,
)
from src.query.lifecycle import LIFECYCLE_KINDS
from src.query.records import (
    EARLIEST,
    EMPTY_PAYLOAD,
    LATEST,
    ParseStats,
    Scalar,
    ScanRecord,
    scan_line,
)
from src.query.records import scan_decoder as _decoder

__all__ = ["LineProgress", "Matcher", "Observer", "SummaryBuilder"]

Matcher = Callable[[str, Scalar, float], bool]  # (kind, symbol, POSIX seconds)
# observe(record): called for every matching event after it was accounted for (the alert
# engine keeps its sliding windows this way without a second decoder). The record has
# ``kind``, ``t`` (POSIX seconds), ``ts``, ``session_id``, ``symbol`` and ``payload``.
Observer = Callable[["_Observed"], None]
LineProgress = Callable[[int], None]  # called with the lines read so far, about every 64 K

_NEVER = datetime.max.replace(tzinfo=UTC)
_EVER = datetime.min.replace(tzinfo=UTC)
_NO_SESSION = object()
_LIFECYCLE = frozenset(LIFECYCLE_KINDS)


class _Observed:
    """What an observer sees of a record, whatever decoder produced it."""

    __slots__ = ("kind", "payload", "session_id", "symbol", "t", "ts")

    def __init__(self, rec: Any, ts: datetime) -> None:
        self.kind = rec.kind
        self.payload = rec.payload or EMPTY_PAYLOAD
        self.session_id = rec.session_id
        self.symbol = rec.symbol
        self.ts = ts
        self.t = ts.timestamp()


class _Always:
    """A limit every instant is past: each timestamp step gets the exact check."""

    def __lt__(self, other: object) -> bool:
        return True

    def __gt__(self, other: object) -> bool:
        return False


_ALWAYS = _Always()


# The latest instant a line may have: a limit never goes past it, so that every later
# instant takes the branch of consume() that checks the range.
_LAST_VALID = LATEST - timedelta(microseconds=1)


def _limit(ts: datetime, window: timedelta) -> datetime | _Always:
    if window is ALWAYS:
        return _ALWAYS
    try:
        return min(ts + window, _LAST_VALID)
    except OverflowError:
        return _LAST_VALID


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat()


class SummaryBuilder:
    """Feed byte blocks (:meth:`consume`) or records (:meth:`add`); :meth:`result` gives
    the :class:`~src.query.analytics.summary_model.Summary`.

    ``follows_unknown`` marks a builder for a part of a read whose earlier part is being
    summarised elsewhere; it must then be :meth:`absorb`-ed into that part's builder.
    ``seq_base`` starts this part's order numbers above every earlier part's (parallel
    scans use the range's index times 2**48): open orders with equal times are listed
    in file order across parts.
    ``exact_steps`` checks every timestamp step in float seconds (see
    :mod:`src.query.analytics.timestamps`); :attr:`needs_exact_steps` says when a read must
    be redone that way.
    """

    def __init__(
        self,
        *,
        gap_threshold_s: float = DEFAULT_GAP_THRESHOLD_S,
        follows_unknown: bool = False,
        seq_base: int = 0,
        exact_steps: bool = False,
        observe: Observer | None = None,
    ) -> None:
        self.observe = observe
        self.kind_counts: dict[str, int] = {}
        self.symbols: set[Any] = set()
        self.first_ts = _NEVER
        self.last_ts = _EVER
        self.pairer = RangePairer(seq_base) if follows_unknown else Pairer(seq_base)
        self.gates = GateStats()
        self.timestamps = TimestampHealth(gap_threshold_s)
        self.errors: dict[str, int] = {}
        self.last_error: LastError | None = None
        self.exact_steps = exact_steps
        self._window = fast_window(gap_threshold_s, exact=exact_steps)

    def add(self, rec: ScanRecord) -> None:
        """Account for one decoded record (the slow, simple path; tests and small inputs)."""
        self._account(rec)
        if self.observe is not None:
            self.observe(_Observed(rec, rec.ts))

    def consume(
        self,
        blocks: Iterable[bytes],
        stats: ParseStats,
        match: Matcher | None = None,
        *,
        progress: LineProgress | None = None,
    ) -> None:
        """Decode and account for the lines in consecutive blocks of one file's bytes.

        Blocks may split lines anywhere; a last line without its newline is counted as
        torn.
        """
        self.pairer.start_changes()
        # The scan decoder of src.query.records: every key our logger writes, typed as a
        # scalar (so whatever it accepts is valid but for the time range, checked below).
        # One record class for every kind: the loop's attribute caches stay monomorphic.
        decode = _decoder.decode
        rec: ScanRecord | None
        # msgspec may also give up on deep nesting (RecursionError): the full rules judge.
        validation_error = (msgspec.ValidationError, RecursionError)
        decode_error = (msgspec.DecodeError, UnicodeDecodeError)
        symbols = self.symbols
        evaluations = self.gates.evaluations
        gate_names: list[Scalar] = []
        pairer = self.pairer
        intent, order, fill = pairer.intent, pairer.order, pairer.fill
        health = self.timestamps
        step, window = health.step, self._window
        first, last = self.first_ts, self.last_ts
        # Within a run of one session's lines whose instants never step back, the earliest
        # is the run's first and the latest its last; runs end at a session switch or a
        # backward step, where `first` and `last` are updated. `limit` trails the latest
        # instant by at most `window`: only a line past it can open a long gap.
        observe = self.observe
        earliest, latest = EARLIEST, LATEST
        session: Any = _NO_SESSION
        last_symbol: Any = _NO_SESSION
        previous = first
        limit: datetime | _Always = first
        total = invalid = gates = intents = orders = fills = 0
        next_report = 1 << 16
        carry = b""
        try:
            for block in blocks:
                lines = BytesIO(block).readlines()
                if carry:
                    lines[0] = carry + lines[0]
                carry = b"" if lines[-1][-1:] == b"\n" else lines.pop()
                total += len(lines)
                for line in lines:
                    # msgspec checks the UTF-8 of every string it decodes, and this decoder
                    # decodes every value: a line it accepts is UTF-8. The full rules
                    # (orjson) reject undecodable bytes too, and recover a valid line glued
                    # to a fragment cut inside a character, as decode_record does.
                    try:
                        rec = decode(line)
                    except validation_error:
                        rec = None
                    except decode_error:
                        if line == b"\n":
                            total -= 1  # blank lines are neither events nor errors
                            continue
                        rec = None
                    if rec is None:
                        # The full rules (and a line glued to a fragment: two lines).
                        rec, fragment = scan_line(line)
                        if fragment:
                            total += 1
                            invalid += 1
                        if rec is None:
                            invalid += 1
                            continue
                    ts, symbol, sid = rec.ts, rec.symbol, rec.session_id
                    if match is not None:
                        # Out-of-range instants are otherwise caught where steps are
                        # checked, below; a filter must not see them first.
                        if not earliest <= ts < latest:
                            invalid += 1
                            continue
                        if not match(rec.kind, symbol, ts.timestamp()):
                            continue
                    if sid == session:
                        if ts < previous or ts > limit:
                            if not earliest <= ts < latest:
                                invalid += 1
                                continue
                            if ts < previous:
                                if previous > last:
                                    last = previous
                                if ts < first:
                                    first = ts
                            step(sid, previous, ts)
                            limit = _limit(ts, window)
                    else:
                        if not earliest <= ts < latest:
                            invalid += 1
                            continue
                        if session is not _NO_SESSION:
                            health.last[session] = previous
                            if previous > last:
                                last = previous
                        session = sid
                        before = health.last.get(sid)
                        if before is None:
                            health.first[sid] = ts
                        else:
                            step(sid, before, ts)
                        if ts < first:
                            first = ts
                        limit = _limit(ts, window)
                    previous = ts
                    if symbol != last_symbol:  # runs of one symbol: no hashing
                        last_symbol = symbol
                        if symbol not in symbols:
                            symbols.add(symbol)
                    kind = rec.kind
                    if kind == "gate":
                        # Gates fail closed: a decision that does not say passed=true
                        # blocks (the timeline shows it as BLOCK too).
                        # Names are counted as they come (GateStats shows a name that
                        # is not a string as "?").
                        p = rec.payload
                        if p is None:
                            gate_names.append(None)
                            self._gate_block(None, rec)
                        else:
                            gate_names.append(p.gate_name)
                            if p.passed is not True:
                                self._gate_block(p.gate_name, rec)
                    elif kind == "intent":
                        intents += 1
                        intent(rec, session)
                    elif kind == "fill":
                        fills += 1
                        fill(rec, session)
                    elif kind == "order":
                        orders += 1
                        order(rec, session)
                    else:
                        self._other(rec)
                    if observe is not None:
                        observe(_Observed(rec, ts))
                evaluations.update(gate_names)  # counted in C, a block at a time
                gates += len(gate_names)
                gate_names.clear()
                if progress is not None and total >= next_report:
                    progress(total)
                    next_report = (total | 0xFFFF) + 1
        finally:
            # Also after a read error (a corrupt gzip stream): what was read counts.
            evaluations.update(gate_names)
            gates += len(gate_names)
            if session is not _NO_SESSION:
                health.last[session] = previous
                if previous > last:
                    last = previous
            self.first_ts, self.last_ts = first, last
            counts = self.kind_counts
            for kind, n in (
                ("gate", gates),
                ("intent", intents),
                ("order", orders),
                ("fill", fills),
            ):
                if n:
                    counts[kind] = counts.get(kind, 0) + n
            torn = 1 if carry else 0
            stats.total_lines += total + torn
            stats.valid_events += total - invalid
            stats.invalid_lines += invalid + torn
            stats.torn_lines += torn

    def _gate_block(self, name: Scalar, rec: ScanRecord) -> None:
        shown = name if isinstance(name, str) else "?"
        self.gates.block(shown, (rec.payload or EMPTY_PAYLOAD).reason)
        self.pairer.blocked(rec)

    def _other(self, rec: Any) -> None:
        """An error or another kind (from :meth:`add`, any kind: gate, intent, order and
        fill records are paired here too)."""
        kind = rec.kind
        self.kind_counts[kind] = self.kind_counts.get(kind, 0) + 1
        if kind == "error":
            self._error(rec)
            if rec.payload is not None and rec.payload.stage == "execute":
                self.pairer.lifecycle(rec)  # the order failed: its life is over
        elif kind in _LIFECYCLE:
            self.pairer.lifecycle(rec)
        elif rec.__class__ is ScanRecord:
            self._pair(rec)

    def _pair(self, rec: ScanRecord) -> None:
        kind = rec.kind
        if kind == "gate":
            p = rec.payload or EMPTY_PAYLOAD
            name = p.gate_name if isinstance(p.gate_name, str) else None
            self.gates.evaluations[name] += 1
            if p.passed is not True:  # fail closed, as in consume()
                self.gates.block("?" if name is None else name, p.reason)
                self.pairer.blocked(rec)
        elif kind == "intent":
            self.pairer.intent(rec)
        elif kind == "order":
            self.pairer.order(rec)
        elif kind == "fill":
            self.pairer.fill(rec)

    def _account(self, rec: ScanRecord) -> None:
        self.first_ts = min(self.first_ts, rec.ts)
        self.last_ts = max(self.last_ts, rec.ts)
        self.symbols.add(rec.symbol)
        self.timestamps.add(rec.session_id, rec.ts)
        self._other(rec)

    def _error(self, rec: ScanRecord) -> None:
        message = (rec.payload or EMPTY_PAYLOAD).error
        text = message if isinstance(message, str) else "(no message)"
        key = text[:200]
        self.errors[key] = self.errors.get(key, 0) + 1
        self.last_error = LastError(rec.ts.isoformat(), text, rec.symbol)

    @property
    def event_count(self) -> int:
        return sum(self.kind_counts.values())

    @property
    def needs_exact_steps(self) -> bool:
        """True when this read has instants the fast timestamp-step check cannot judge."""
        return (
            not self.exact_steps
            and self.event_count > 0
            and not in_exact_range(self.first_ts, self.last_ts)
        )

    def absorb(self, later: SummaryBuilder, *, last: bool = False) -> bool:
        """Merge in the builder of the part that follows this one (``follows_unknown``).

        Returns False, changing nothing, when the parts cannot be merged exactly (a fill
        event id of ``later`` was already seen here); that part must then be re-read into
        this builder instead. ``last`` (no part follows) skips merging state that only
        later parts would need; this builder can then only give its :meth:`result`.
        """
        assert isinstance(later.pairer, RangePairer)
        if self.pairer.last_merged:
            raise RuntimeError("this builder was merged as the last part: only result() is left")
        if not later.pairer.can_follow(self.pairer):
            return False
        later.pairer.merge_into(self.pairer, last=last)
        for kind, count in later.kind_counts.items():
            self.kind_counts[kind] = self.kind_counts.get(kind, 0) + count
        self.symbols |= later.symbols
        self.first_ts = min(self.first_ts, later.first_ts)
        self.last_ts = max(self.last_ts, later.last_ts)
        self.gates.absorb(later.gates)
        self.timestamps.absorb(later.timestamps)
        for text, count in later.errors.items():
            self.errors[text] = self.errors.get(text, 0) + count
        if later.last_error is not None:
            self.last_error = later.last_error
        return True

    def result(
        self,
        parse: ParseStats,
        *,
        as_of: float | None = None,
        keep: SortedSamples | None = None,
    ) -> Summary:
        """The summary so far. ``keep``: sorted samples kept between results, for a reader
        that asks again as the session grows (see :mod:`~src.query.analytics.sorted_samples`).
        """
        return self.clocked_result(parse, as_of=as_of, keep=keep)[0]

    def clocked_result(
        self,
        parse: ParseStats,
        *,
        as_of: float | None = None,
        keep: SortedSamples | None = None,
    ) -> tuple[Summary, OrderClock]:
        """:meth:`result`, and what to measure it again at a later ``as_of`` from
        (:meth:`OrderClock.age`) for a reader that keeps the summary."""
        as_of = time.time() if as_of is None else as_of
        has_events = self.event_count > 0
        pairing = report(self.pairer, as_of, keep, blocked=sum(self.gates.blocks.values()))
        top = sorted(self.errors.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        summary = Summary(
            found=parse.files > 0,
            event_count=self.event_count,
            kind_counts=dict(sorted(self.kind_counts.items())),
            symbols=sorted(s for s in self.symbols if isinstance(s, str) and s),
            sessions=sorted(str(s) for s in self.timestamps.sessions if s is not None),
            start_time=_iso(self.first_ts.timestamp()) if has_events else None,
            end_time=_iso(self.last_ts.timestamp()) if has_events else None,
            parse=ParseReport(
                total_lines=parse.total_lines,
                valid_events=parse.valid_events,
                invalid_lines=parse.invalid_lines,
                torn_lines=parse.torn_lines,
                error_rate=parse.error_rate,
                files=parse.files,
                unreadable_files=parse.unreadable_files,
                unreadable_paths=list(parse.unreadable_paths),
            ),
            latency=pairing.latency,
            slippage=pairing.slippage,
            fills=pairing.fills,
            gates=self.gates.result(self.kind_counts.get("intent", 0)),
            timestamps=self.timestamps.result(),
            errors=ErrorReport(
                count=self.kind_counts.get("error", 0),
                top=[ErrorCount(e, c) for e, c in top],
                last=self.last_error,
            ),
            orders=pairing.orders,
        )
        return summary, pairing.clock
