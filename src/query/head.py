"""The newest page of a session, kept up to date by reading only what was appended.

A live dashboard asks for the same first page (the newest ``limit`` matching events) over
and over while the session grows a few lines at a time. :class:`LiveHead` keeps that page,
each row already rendered, and follows the session with the query layer's one follower
(:class:`~src.query.follow.SessionFollower`, from the end): lines appended to the newest
file (or to a newer file of the session: daily rotation) go in front and as many of the
oldest rows drop out. Anything else rebuilds the page from the end with
:func:`~src.query.paging.collect_back`: a follower reset (a file replaced, compressed,
shrunk or rewritten in place) or lines appended to an older file (a writer still finishing
yesterday's file after the daily rollover). So the result is what
:func:`~src.query.paging.page_back` returns at that moment.

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

from src.query.files import SessionFiles
from src.query.filters import EventFilter
from src.query.follow import Reset, SessionFollower, Unreadable
from src.query.paging import collect_back, encode_cursor
from src.query.records import Record, decode_record

__all__ = ["LiveHead"]

T = TypeVar("T")


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
        self._follower = SessionFollower(base, flt.session_id, from_end=True)
        self._built = False  # the page was collected since the last reset
        self._newest = 0  # the index of the newest file when the page was last brought up
        # (file index, line start, rendered), newest first
        self._rows: deque[tuple[int, int, T]] = deque(maxlen=limit)
        self.rebuilds = 0

    def refresh(self) -> tuple[list[T], str | None]:
        """The page now: rendered rows newest first, and the cursor for the older page
        (``None`` when fewer than ``limit`` events match)."""
        with self._lock:
            rebuild = not self._built
            fresh: deque[tuple[int, int, T]] = deque(maxlen=self.limit)
            index: dict[Path, int] = {}
            for item in self._follower.poll():
                if isinstance(item, Reset):
                    rebuild = True
                    continue
                if rebuild or isinstance(item, Unreadable):
                    rebuild = True
                    continue
                if not index and self._follower.session is not None:
                    index = {p: i for i, p in enumerate(self._follower.session.files)}
                path, start, line = item
                i = index.get(path)
                if i is None or i < self._newest:
                    rebuild = True  # appended to an older file: its rows go in between
                    continue
                rec = decode_record(line)
                if rec is not None and self.flt.matches(rec.kind, rec.symbol, rec.t):
                    fresh.appendleft((i, start, self._render(rec)))
            session = self._follower.session
            if session is None:
                self._built = False
                self._rows.clear()
                return [], None
            if rebuild:
                self._rebuild(session)
            else:
                self._newest = len(session.files) - 1
                self._rows.extendleft(reversed(fresh))  # newest first; the oldest fall off
            rows = [row for _, _, row in self._rows]
            cursor = None
            if len(self._rows) >= self.limit:
                i, start, _ = self._rows[-1]
                cursor = encode_cursor(self.base, session.files[i], start)
            return rows, cursor

    def _rebuild(self, session: SessionFiles) -> None:
        self.rebuilds += 1
        index = len(session.files) - 1
        newest = session.files[index]
        end = None if newest.name.endswith(".gz") else self._follower.offset(newest)
        entries = collect_back(session, self.flt, self.limit, index, end)
        self._rows.clear()
        self._rows.extend((i, start, self._render(rec)) for i, start, rec in entries)
        self._newest = index
        self._built = True
