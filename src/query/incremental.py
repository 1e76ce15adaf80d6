"""A session summary kept up to date by reading only what was appended since last time.

Session files are append-only, so the builder's state plus a byte offset per file is
enough to bring a summary up to date in time proportional to the new lines. A line still
being written (no newline yet) is left for the next refresh. If a file is replaced (for
example compressed by retention), rewritten in place (it shrank, or the bytes just before
the read position changed: truncated and written again) or a new file sorts before a known
one, the summary is rebuilt from scratch.

``builder_factory`` lets a reader keep more state per event than the summary does (the alert
engine's sliding windows, via the builder's ``observe`` hook); it is called again on every
rebuild. ``match(kind, symbol, t)`` selects the events the summary accounts for.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from src.query.analytics.sorted_samples import SortedSamples
from src.query.analytics.summary import Matcher, SummaryBuilder
from src.query.analytics.summary_model import Summary
from src.query.files import GZIP_ERRORS, open_segment, session_files
from src.query.lines import BLOCK_SIZE, bytes_before, iter_blocks, split_lines
from src.query.records import ParseStats

__all__ = ["ChartSamples", "IncrementalSummary"]


@dataclass(frozen=True, slots=True)
class ChartSamples:
    """The newest samples of a session, in file order: latency in ms, slippage in bps by
    symbol (as text)."""

    intent_to_order: list[float]
    order_to_fill: list[float]
    slippage: dict[str, list[float]]


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
    ) -> None:
        self.base = Path(base)
        self.session_id = session_id
        self.max_age_s = max_age_s
        self._factory = builder_factory
        self._match = match
        self._lock = threading.Lock()
        self._result: Summary | None = None
        self._result_at = float("-inf")
        self._dirty = True
        self._reset()

    def _reset(self) -> None:
        self._dirty = True
        self._builder = self._factory()
        self._sorted = SortedSamples()
        self._stats = ParseStats()
        self._files: list[tuple[Path, int]] = []  # (path, inode) in read order
        self._offsets: dict[Path, int] = {}
        self._guards: dict[Path, bytes] = {}  # plain files: the bytes before the offset
        self._size = 0

    def refresh(self, *, as_of: float | None = None) -> Summary:
        """Read what is new and return the summary (as ``summarize`` would)."""
        with self._lock:
            session = session_files(self.base, self.session_id)
            paths = list(session.files) if session else []
            known = [p for p, _ in self._files]
            if paths[: len(known)] != known or not self._same_inodes() or self._rewritten():
                self._reset()
                known = []
            for path in paths:
                if path not in self._offsets:
                    self._files.append((path, _inode(path)))
                    self._offsets[path] = 0
                    self._stats.files += 1
                    self._dirty = True
                if self._consume(path):
                    self._dirty = True
            now = time.monotonic()
            as_of = time.time() if as_of is None else as_of
            stale = self._dirty and now - self._result_at >= self.max_age_s
            if self._result is None or stale:
                out = self._builder.result(self._stats, as_of=as_of, keep=self._sorted).located(
                    session_id=self.session_id,
                    found=session is not None,
                    size_bytes=session.size_bytes if session else 0,
                )
                self._result, self._result_at, self._dirty = out, now, False
                return out
            return self._result.aged(as_of)

    @property
    def builder(self) -> SummaryBuilder:
        """The builder behind the summary (replaced by a new one on every rebuild)."""
        return self._builder

    def samples(self, last: int = 20_000) -> ChartSamples:
        """The newest latency (ms) and slippage (bps) samples, for charts."""
        with self._lock:
            pairer = self._builder.pairer
            return ChartSamples(
                intent_to_order=list(pairer.intent_to_order[-last:]),
                order_to_fill=list(pairer.order_to_fill[-last:]),
                slippage={str(k): list(v[-last:]) for k, v in pairer.slippage.items()},
            )

    def _same_inodes(self) -> bool:
        return all(_inode(path) == inode for path, inode in self._files)

    def _rewritten(self) -> bool:
        """True when a plain file read before is no longer what was read (shrunk, or
        truncated and written again: the bytes before the read position differ)."""
        for path, guard in self._guards.items():
            offset = self._offsets[path]
            try:
                if os.stat(path).st_size < offset:
                    return True
            except OSError:
                continue  # gone: the inode check saw it
            if bytes_before(path, offset) != guard:
                return True
        return False

    def _consume(self, path: Path) -> bool:
        """Read what is new in ``path``; True when anything was."""
        offset = self._offsets[path]
        gz = path.name.endswith(".gz")
        if gz and offset:
            return False  # a compressed file never grows
        try:
            if not gz and os.stat(path).st_size <= offset:
                return False
            with open_segment(path) as fh:
                if not gz:
                    fh.seek(offset)
                reader = _CompleteLines(iter_blocks(fh, BLOCK_SIZE), offset)
                self._builder.consume(reader, self._stats, self._match)
                if gz:
                    self._offsets[path] = 1
                    return True
                self._offsets[path] = offset + reader.consumed
                self._guards[path] = bytes_before(path, offset + reader.consumed)
                return reader.consumed > 0
        except FileNotFoundError:
            return False
        except GZIP_ERRORS:  # what decoded before the damage was consumed
            self._stats.note_unreadable(path)
            self._offsets[path] = 1
            return True


class _CompleteLines:
    """The newline-terminated lines in ``blocks`` (read from offset ``start``), each as a
    block of its own, oversized ones as their stand-in; ``consumed`` is how many bytes
    they cover, once iterated."""

    def __init__(self, blocks: Iterator[bytes], start: int) -> None:
        self._blocks = blocks
        self._start = start
        self._read = 0
        self.consumed = 0

    def _counted(self) -> Iterator[bytes]:
        for block in self._blocks:
            self._read += len(block)
            yield block

    def __iter__(self) -> Iterator[bytes]:
        for pos, line, complete in split_lines(self._counted(), self._start):
            if not complete:  # still being written: next refresh picks it up whole
                self.consumed = pos - self._start
                return
            yield line + b"\n"
        self.consumed = self._read


def _inode(path: Path) -> int:
    try:
        return os.stat(path).st_ino
    except OSError:
        return -1
