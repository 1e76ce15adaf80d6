"""The newest page of a session, kept up to date by reading only what was appended.

A live dashboard asks for the same first page (the newest ``limit`` matching events) over
and over while the session grows a few lines at a time. :class:`LiveHead` keeps that page,
each row already rendered, and on :meth:`~LiveHead.refresh` reads only the lines appended
to the session's newest file since last time: the new rows go in front and as many of the
oldest drop out. Anything else rebuilds the page from the end with
:func:`~src.query.paging.collect_back`: a new file, a file replaced, an older file that
changed size (a writer still finishing yesterday's file after the daily rollover), a newest
file that shrank or whose bytes before the read position are no longer the ones read (a
rewrite in place). So the result is what :func:`~src.query.paging.page_back` returns at
that moment; the one change it cannot see is a rewrite in place that keeps the file's size
and the last bytes read, which no writer of ours does (they only append).

A line still being written (no newline yet) is left for the next refresh, as the page
readers do.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from src.query.files import SessionFiles, session_files
from src.query.filters import EventFilter
from src.query.lines import BLOCK_SIZE, bytes_before, iter_range_blocks, split_lines
from src.query.paging import collect_back, encode_cursor
from src.query.records import Record, decode_record

__all__ = ["LiveHead"]

T = TypeVar("T")

_TAIL_PROBE = 1 << 16


class LiveHead(Generic[T]):
    """The newest ``limit`` events of ``flt.session_id`` matching ``flt``, newest first,
    each turned into a ``T`` by ``render`` exactly once."""

    def __init__(
        self,
        base: str | os.PathLike[str],
        flt: EventFilter,
        limit: int,
        render: Callable[[Record], T],
    ) -> None:
        if flt.session_id is None:
            raise ValueError("a live head needs a session")
        if limit <= 0:
            raise ValueError(f"limit must be positive, got {limit}")
        self.base = Path(base)
        self.flt = flt
        self.limit = limit
        self._render = render
        self._lock = threading.Lock()
        # (path, inode, size or None for the newest), in read order
        self._files: tuple[tuple[Path, int, int | None], ...] | None = None
        self._offset = 0  # the newest file is read up to here (a line start)
        self._guard = b""  # the bytes just before _offset, as read
        # (file index, line start, rendered), newest first
        self._rows: deque[tuple[int, int, T]] = deque(maxlen=limit)
        self.rebuilds = 0

    def refresh(self) -> tuple[list[T], str | None]:
        """The page now: rendered rows newest first, and the cursor for the older page
        (``None`` when fewer than ``limit`` events match)."""
        with self._lock:
            session = session_files(self.base, self.flt.session_id)  # type: ignore[arg-type]
            if session is None:
                self._files = None
                self._rows.clear()
                return [], None
            files = _identify(session)
            if files != self._files or not self._read_appended(session):
                self._rebuild(session, files)
            rows = [row for _, _, row in self._rows]
            cursor = None
            if len(self._rows) >= self.limit:
                index, start, _ = self._rows[-1]
                cursor = encode_cursor(self.base, session.files[index], start)
            return rows, cursor

    def _read_appended(self, session: SessionFiles) -> bool:
        """Take in the complete lines appended to the newest file; False when it cannot
        be read that way (shrunk, vanished, compressed): the caller rebuilds."""
        newest = session.files[-1]
        if newest.name.endswith(".gz"):
            return True  # a compressed file never grows; identity was checked already
        index = len(session.files) - 1
        fresh: deque[tuple[int, int, T]] = deque(maxlen=self.limit)
        try:
            with open(newest, "rb") as fh:
                fd = fh.fileno()
                size = os.fstat(fd).st_size
                if size < self._offset:
                    return False
                guard = self._guard
                if guard and os.pread(fd, len(guard), self._offset - len(guard)) != guard:
                    return False  # rewritten in place
                if size == self._offset:
                    return True
                end = size
                blocks = iter_range_blocks(fd, self._offset, size, BLOCK_SIZE)
                for start, line, complete in split_lines(blocks, self._offset):
                    if not complete:  # still being written: left for the next refresh
                        end = start
                        break
                    rec = decode_record(line)
                    if rec is not None and self.flt.matches(rec.kind, rec.symbol, rec.t):
                        fresh.appendleft((index, start, self._render(rec)))
                if end > self._offset:
                    self._guard = bytes_before(newest, end)
                    self._offset = end
        except OSError:
            return False
        self._rows.extendleft(reversed(fresh))  # the newest ends up first; the oldest fall off
        return True

    def _rebuild(self, session: SessionFiles, files: tuple[tuple[Path, int], ...]) -> None:
        self.rebuilds += 1
        index = len(session.files) - 1
        newest = session.files[index]
        end = None if newest.name.endswith(".gz") else _last_line_end(newest)
        entries = collect_back(session, self.flt, self.limit, index, end)
        self._rows.clear()
        self._rows.extend((i, start, self._render(rec)) for i, start, rec in entries)
        self._files = files
        self._offset = end or 0
        self._guard = bytes_before(newest, self._offset) if end else b""


def _identify(session: SessionFiles) -> tuple[tuple[Path, int, int | None], ...]:
    """Each file's inode, and the size of every file but the newest (which is followed)."""
    out = []
    last = len(session.files) - 1
    for i, path in enumerate(session.files):
        try:
            st = os.stat(path)
        except OSError:
            out.append((path, -1, None))
            continue
        out.append((path, st.st_ino, None if i == last else st.st_size))
    return tuple(out)


def _last_line_end(path: Path) -> int:
    """The offset just after the last newline in ``path`` (0 when there is none)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return 0
    try:
        pos = os.fstat(fd).st_size
        while pos > 0:
            step = min(_TAIL_PROBE, pos)
            block = os.pread(fd, step, pos - step)
            newline = block.rfind(b"\n")
            if newline >= 0:
                return pos - step + newline + 1
            pos -= step
        return 0
    finally:
        os.close(fd)
