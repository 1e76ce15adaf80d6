"""A session summary kept up to date by reading only what was appended since last time.

The session is read through the query layer's one follower
(:class:`~src.query.follow.SessionFollower`): only complete appended lines reach the
builder (a line still being written waits for the next refresh), and when the follower
resets (a file replaced, for example compressed by retention, shrunk, rewritten in place,
or a new file sorting before a known one) the summary is rebuilt from scratch.

``builder_factory`` lets a reader keep more state per event than the summary does (the alert
engine's sliding windows, via the builder's ``observe`` hook); it is called again on every
rebuild. ``match(kind, symbol, t)`` selects the events the summary accounts for.

Without ``match``, the summary starts from the session's saved state when the files still
hold what it covers (:mod:`src.query.summary_state`; one state per kind of builder), and
saves its own after the first read and then at most every :data:`SAVE_EVERY_S` seconds
when something new was read (``persist=False``: neither). A builder the state codec cannot
save turns saving off for that summary: logged as a warning and kept in
:attr:`IncrementalSummary.persist_error`, never silently. A state records each file as
the follower read it: how far, and how many bytes it saw (a torn last line beyond that
point is counted as one, so a line appended after the read must not be taken for it).

Torn last lines are counted as one pass over the files counts them (each a line, invalid,
torn: an older day's file, a compressed one), except the newest plain file's: that line is
still being written and is read once complete.

``plain_too``: a reader whose builder only adds to the summary's (an observer's extras: the
dashboard's chart index, the alert engine's windows) also keeps the plain builder's state
current (the CLI's, the bridge's, exports'), saved from a copy of its builder without the
extras, so those readers resume after it. Only where that copy is exactly what a plain
builder would hold: the builder's settings are the plain one's, and no ``match``.
``defer(job)``: where that extra save runs (the dashboard's background worker, off the
request path); it is skipped when the summary read more meanwhile (the next save redoes it).

``stop()``: while it returns True, a refresh that is reading lines raises
:class:`Cancelled` within :data:`_BATCH` lines (the summary is then half-read: drop it).
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

from src.query.analytics.sorted_samples import SortedSamples
from src.query.analytics.summary import Matcher, SummaryBuilder
from src.query.analytics.summary_model import OrderClock, Summary
from src.query.files import session_files
from src.query.follow import Line, Reset, SessionFollower, Unreadable
from src.query.records import ParseStats
from src.query.state_codec import StateError
from src.query.state_marks import mark_of_followed
from src.query.summary_state import Mark, Saved, StateStore, torn_lines, with_torn

__all__ = ["Cancelled", "ChartSamples", "IncrementalSummary"]

log = logging.getLogger("src.query.incremental")


class Cancelled(Exception):
    """A refresh stopped by the summary's ``stop``; the summary must be dropped."""


@dataclass(frozen=True, slots=True)
class ChartSamples:
    """The newest samples of a session, in file order: latency in ms, slippage in bps by
    symbol (as text)."""

    intent_to_order: list[float]
    order_to_fill: list[float]
    slippage: dict[str, list[float]]


_BATCH = 1024  # lines handed to the builder per block
SAVE_EVERY_S = 30.0


class IncrementalSummary:
    """``max_age_s``: on a session that keeps growing, the (sorting) result is recomputed at
    most this often; in between callers get the previous one with open-order ages updated.
    Lines are still consumed on every refresh, so nothing is missed, only reported later."""

    def __init__(
        self,
        base: str | os.PathLike[str],
        session_id: str,
        *,
        max_age_s: float = 1.0,
        builder_factory: Callable[[], SummaryBuilder] = SummaryBuilder,
        match: Matcher | None = None,
        persist: bool = True,
        stop: Callable[[], bool] | None = None,
        plain_too: bool = False,
        defer: Callable[[Callable[[], None]], object] | None = None,
    ) -> None:
        self.base = Path(base)
        self.session_id = session_id
        self.max_age_s = max_age_s
        self._factory = builder_factory
        self._match = match
        self._stop = stop
        self._lock = threading.Lock()
        self._result: Summary | None = None
        self._clock = OrderClock([], [])  # measures _result at another as_of
        self._result_at = float("-inf")
        self._dirty = True
        self._follower = SessionFollower(self.base, session_id)
        self._size = 0  # the session's size in bytes at the last refresh
        self._generation = 0  # bumped whenever the builder reads lines or starts over
        self._builder: SummaryBuilder
        self._reset()
        self._store: StateStore | None = None
        self.persist_error: str | None = None  # why saved state is off, when it failed
        if persist and match is None:
            try:
                self._store = StateStore(self.base, session_id, self._builder)
            except StateError as exc:  # a builder this codec cannot save: no saved state
                self.persist_error = f"{type(self._builder).__name__}: {exc}"
                log.warning(
                    "summary state of session %r is off (neither saved nor resumed): %s",
                    session_id,
                    self.persist_error,
                )
        # The plain builder's state, kept current too (see plain_too in the module docstring).
        self._plain_store: StateStore | None = None
        self._defer = defer
        if persist and match is None and plain_too and type(self._builder) is not SummaryBuilder:
            self._plain_store = _plain_store(self.base, session_id, self._builder)
        self._resumed = self._store is None
        self.resumed = False  # True when the summary started from a saved state
        self._pending: Saved | None = None  # a saved state whose builder is not decoded yet
        self._saved_at = float("-inf")  # monotonic time of the last save (-inf: none since build)
        self._unsaved = False
        self._torn = 0  # torn last lines counted (the follower's, see torn_lines)
        # The newest result without its torn lines, its clock and instant: what is saved.
        self._clean: tuple[Summary, OrderClock, float] | None = None

    def _reset(self) -> None:
        self._generation += 1
        self._dirty = True
        self._builder = self._factory()
        self._sorted = SortedSamples()
        self._stats = ParseStats()

    def resume(self) -> bool:
        """Start from the saved state now, if one holds (otherwise the first refresh looks):
        True when the summary starts from it (then nothing of the session was read)."""
        with self._lock:
            if not self._resumed:
                self._resumed = True
                self._resume()
            return self.resumed

    def refresh(self, *, as_of: float | None = None) -> Summary:
        """Read what is new and return the summary (as ``summarize`` would)."""
        with self._lock:
            if not self._resumed:
                self._resumed = True
                self._resume()
            return self._refresh(as_of)

    def _refresh(self, as_of: float | None) -> Summary:
        items = self._follower.poll()
        first = next(items, None)
        if isinstance(first, Reset):
            self._pending = None
            self._reset()
            self._saved_at = float("-inf")
            first = next(items, None)
        if first is not None and not self._ensure_builder():
            return self._refresh(as_of)  # the saved builder was damaged: read it all
        if first is not None:
            self._generation += 1
            self._builder.consume(self._blocks(first, items), self._stats, self._match)
            self._dirty = self._unsaved = True
        if self._stats.files != len(self._follower.files):
            self._generation += 1
            self._stats.files = len(self._follower.files)
            self._dirty = True
        session = self._follower.session
        size = session.size_bytes if session else 0
        if size != self._size:  # grew without a line (blank, or one being written)
            self._size = size
            self._dirty = True
        torn = self._follower.torn_lines()
        if torn != self._torn:
            self._torn = torn
            self._dirty = True
        now = time.monotonic()
        as_of = time.time() if as_of is None else as_of
        stale = self._dirty and now - self._result_at >= self.max_age_s
        if self._result is None or stale:
            if not self._ensure_builder():
                return self._refresh(as_of)
            out, clock = self._builder.clocked_result(self._stats, as_of=as_of, keep=self._sorted)
            out = out.located(
                session_id=self.session_id, found=session is not None, size_bytes=size
            )
            self._clean = out, clock, as_of
            out = with_torn(out, torn)
            self._result, self._clock, self._result_at, self._dirty = out, clock, now, False
        else:
            out = self._clock.age(self._result, as_of)
        # Saved once the result holds every line read (not only when it is recomputed: a
        # session that stopped growing is saved too, by the next refresh after the wait).
        if self._unsaved and not self._dirty and now - self._saved_at >= SAVE_EVERY_S:
            assert self._clean is not None
            self._save(*self._clean, now)
        return out

    def _resume(self) -> None:
        """Start from the saved state, if the session's files still hold what it covers."""
        store = self._store
        assert store is not None
        saved = store.load()
        if saved is None:
            return
        listed = session_files(self.base, self.session_id)
        paths = list(listed.files) if listed else []
        torn = torn_lines(saved.marks)  # None: a compressed file's torn line is not known
        if torn is None or not store.holds(saved, paths):
            saved.close()
            return
        newest = saved.marks[-1]
        torn += bool(newest.gz and newest.torn)  # as the follower counts them
        # The builder is decoded when first needed: an unchanged session never needs it.
        self._pending = saved
        p = saved.summary.parse
        self._stats = ParseStats(
            p.total_lines,
            p.valid_events,
            p.invalid_lines,
            p.torn_lines,
            p.files,
            p.unreadable_files,
            list(p.unreadable_paths),
        )
        self._follower.adopt(
            [
                (p, m.dev, m.ino, m.offset, m.gz, bool(m.torn))
                for p, m in zip(paths, saved.marks, strict=False)
            ]
        )
        size = listed.size_bytes if listed else 0
        self._torn = torn
        self._result = with_torn(
            saved.summary.located(session_id=self.session_id, found=True, size_bytes=size), torn
        )
        self._clock = saved.clock
        self._size, self._dirty, self._result_at = size, False, float("-inf")
        self._saved_at = time.monotonic()
        self.resumed = True

    def _ensure_builder(self) -> bool:
        """Decode the saved builder if that is still to be done. False when it could not
        be: the summary then starts over (a new follower, a fresh builder)."""
        saved, self._pending = self._pending, None
        if saved is None:
            return True
        state = saved.state()
        if state is not None:
            files = self._stats.files  # kept up to date by refresh meanwhile
            self._generation += 1
            self._builder, self._stats, self._sorted = state
            self._stats.files = files
            return True
        self._follower.close()
        self._follower = SessionFollower(self.base, self.session_id)
        self._reset()
        self._result, self._saved_at, self._torn = None, float("-inf"), 0
        return False

    def _read_builder(self) -> None:
        """Decode the saved builder if that is still to be done; if it could not be, read
        the session again (a builder that started over has read nothing yet)."""
        if not self._ensure_builder():
            self._refresh(None)

    def _save(self, summary: Summary, clock: OrderClock, as_of: float, now: float) -> None:
        store = self._store or self._plain_store
        if store is None:
            return
        self._saved_at, self._unsaved = now, False
        marks = self._marks(store)
        if marks is None:
            return
        if self._store is not None:
            self._store.save(marks, self._builder, self._stats, self._sorted, summary, clock, as_of)
        if self._plain_store is None:
            return
        plain_store, generation = self._plain_store, self._generation
        stats = copy.deepcopy(self._stats)

        def save_plain() -> None:  # under the lock, the builder as it was read for ``marks``
            builder = _plain(self._builder)
            plain_store.save(marks, builder, stats, self._sorted, summary, clock, as_of)

        if self._defer is None:
            save_plain()  # refresh holds the lock
            return

        def later() -> None:
            with self._lock:
                if self._generation == generation:  # else read more since: the next save
                    save_plain()

        self._defer(later)

    def _marks(self, store: StateStore) -> list[Mark] | None:
        """The marks of the files as the follower read them (None: one changed since)."""
        marks = []
        for followed in self._follower.followed():
            name = store.rel(followed[0])
            mark = None if name is None else mark_of_followed(followed, name)
            if mark is None:
                return None
            marks.append(mark)
        return marks

    def _blocks(
        self, first: Line | Reset | Unreadable, rest: Iterator[Line | Reset | Unreadable]
    ) -> Iterator[bytes]:
        """The followed lines as blocks of whole lines, for the builder."""
        batch: list[bytes] = []
        stop = self._stop
        for item in chain((first,), rest):
            if stop is not None and not batch and stop():
                raise Cancelled(self.session_id)
            if isinstance(item, Unreadable):  # what decoded before the damage was consumed
                self._stats.note_unreadable(item.path)
            elif isinstance(item, tuple):
                batch.append(item[2])
                if len(batch) >= _BATCH:
                    yield b"\n".join(batch) + b"\n"
                    batch = []
        if batch:
            yield b"\n".join(batch) + b"\n"

    @property
    def builder(self) -> SummaryBuilder:
        """The builder behind the summary (replaced by a new one on every rebuild)."""
        with self._lock:
            self._read_builder()
            return self._builder

    def samples(self, last: int = 20_000) -> ChartSamples:
        """The newest latency (ms) and slippage (bps) samples, for charts."""
        with self._lock:
            self._read_builder()
            pairer = self._builder.pairer
            return ChartSamples(
                intent_to_order=list(pairer.intent_to_order[-last:]),
                order_to_fill=list(pairer.order_to_fill[-last:]),
                slippage={str(k): list(v[-last:]) for k, v in pairer.slippage.items()},
            )


def _plain(builder: SummaryBuilder) -> SummaryBuilder:
    """``builder``'s summary state as a plain :class:`SummaryBuilder` (its parts shared, not
    copied): what a subclass keeps besides (an observer and its extras) is left out."""
    plain = SummaryBuilder.__new__(SummaryBuilder)
    keys = _plain_keys()
    plain.__dict__.update({k: v for k, v in builder.__dict__.items() if k in keys})
    plain.observe = None
    return plain


_keys: frozenset[str] | None = None


def _plain_keys() -> frozenset[str]:
    global _keys
    if _keys is None:
        _keys = frozenset(SummaryBuilder().__dict__)
    return _keys


def _plain_store(base: Path, session_id: str, fresh: SummaryBuilder) -> StateStore | None:
    """The plain builder's store, when a copy of ``fresh`` (a new builder of the reader's
    kind) is exactly a new plain builder: the same state file, the same content (None:
    its settings differ, or it cannot be saved)."""
    try:
        plain = StateStore(base, session_id, SummaryBuilder())
        mine = StateStore(base, session_id, _plain(fresh))
    except StateError:
        return None
    if mine.name != plain.name or mine.code != plain.code:
        return None
    return plain
