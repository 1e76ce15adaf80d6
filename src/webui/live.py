"""Live feed: follow a session's newest file and push new events to connected clients.

One poller per watched session reads appended lines (in a worker thread, never on the event
loop) and publishes them synchronously to every subscriber's own bounded queue. A client
whose queue is full is dropped, never waited for: one slow browser cannot delay the others.

Each feed reads through the query layer's one follower
(:class:`~src.query.follow.SessionFollower`, from the end, resuming after a reset and
holding the newest file open): it finishes a file that retention moved or compressed away,
reads a file truncated and written again from its start, and goes on with each newer file
of the session in turn (daily rotation), never sending a line twice.

A client that reconnects with ``since=`` gets what it missed first, at most
:data:`MAX_BACKLOG_BYTES` of log; one further behind is sent a ``reload`` event instead (the
page then asks the operator to reload), so no client can make the server read a whole file.

When the server is told to stop, :meth:`FeedHub.stop` ends every stream at once (the server
waits for open responses before it exits) and any stream opened afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from src.query.files import session_files
from src.query.follow import SessionFollower
from src.query.lines import BLOCK_SIZE, iter_range_blocks, split_lines
from src.query.paging import decode_position, encode_position
from src.query.records import decode_record
from src.query.timeline import row_from_record

__all__ = [
    "MAX_BACKLOG_BYTES",
    "FeedHub",
    "Subscriber",
    "backlog_rows",
    "decode_position",
    "encode_position",
    "read_rows",
]

_RESOLVE_EVERY_S = 2.0
MAX_BACKLOG_BYTES = 1 << 20
"""The most a ``since=`` reconnect replays: 1 MiB of log (a few thousand events)."""


def newest_plain_file(base: Path, session_id: str) -> Path | None:
    session = session_files(base, session_id)
    if session is None:
        return None
    plain = [p for p in session.files if not p.name.endswith(".gz")]
    return plain[-1] if plain else None


def _rows_from_fd(fd: int, start: int, end: int | None) -> tuple[list[dict[str, Any]], int]:
    """Rows for the complete lines in ``[start, end)`` of ``fd`` and the offset after the
    last one."""
    read = 0

    def counted():  # type: ignore[no-untyped-def]
        nonlocal read
        for block in iter_range_blocks(fd, start, end, BLOCK_SIZE):
            read += len(block)
            yield block

    rows = []
    for pos, line, complete in split_lines(counted(), start):
        if not complete:  # still being written: read again from its start next time
            return rows, pos
        rec = decode_record(line)
        if rec is not None:
            rows.append(row_from_record(rec).to_dict())
    return rows, start + read


def read_rows(path: Path, start: int, end: int | None = None) -> tuple[list[dict[str, Any]], int]:
    """Rows for the complete lines in ``[start, end)`` and the offset after the last one."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return [], start
    try:
        return _rows_from_fd(fd, start, end)
    finally:
        os.close(fd)


def backlog_rows(
    base: Path, session_id: str, position: tuple[str, int], sub: Subscriber
) -> list[dict[str, Any]] | None:
    """What a client that read the session up to ``position`` (a file relative to
    ``base`` and an offset) missed before ``sub`` started following; ``None`` when that
    is more than :data:`MAX_BACKLOG_BYTES` or cannot be read any more (the file was
    compressed or removed since): the client must reload."""
    if sub.start_file is None:
        return []
    rel, offset = position
    if sub.start_file.relative_to(base).as_posix() == rel:
        if offset >= sub.start_offset:
            return []
        if sub.start_offset - offset > MAX_BACKLOG_BYTES:
            return None
        rows, _ = read_rows(sub.start_file, offset, sub.start_offset)
        return rows
    # The client's file is no longer the newest (rotated since): its rest, any file in
    # between, then the new file up to where the feed started.
    session = session_files(base, session_id)
    files = list(session.files) if session else []
    names = [p.relative_to(base).as_posix() for p in files]
    if rel not in names or sub.start_file not in files:
        return None
    first, last = names.index(rel), files.index(sub.start_file)
    between = files[first + 1 : last]
    if first >= last or any(p.name.endswith(".gz") for p in (files[first], *between)):
        return None  # compressed since: not replayed
    size = _size(files[first])
    cost = max(0, size - offset) + sum(_size(p) for p in between) + sub.start_offset
    if cost > MAX_BACKLOG_BYTES:
        return None
    rows, _ = read_rows(files[first], offset, size) if offset < size else ([], 0)
    for path in between:
        rows += read_rows(path, 0, _size(path))[0]
    rows += read_rows(sub.start_file, 0, sub.start_offset)[0]
    return rows


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


@dataclass(eq=False)
class Subscriber:
    queue: asyncio.Queue[dict[str, Any] | None]
    session_id: str
    start_file: Path | None = None
    start_offset: int = 0
    dropped: bool = False  # fell behind; ``None`` in the queue then, as on a stop


@dataclass(eq=False)
class _Feed:
    session_id: str
    follower: SessionFollower
    subscribers: set[Subscriber] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    # A poll runs in a worker thread; the descriptor is closed only when none runs.
    lock: threading.Lock = field(default_factory=threading.Lock)
    busy: bool = False
    retired: bool = False
    started: asyncio.Event = field(default_factory=asyncio.Event)  # start position taken

    def retire(self) -> None:
        """Close the followed file now, or when the poll running now ends."""
        with self.lock:
            self.retired = True
            if not self.busy:
                self.follower.close()

    def read(self, rescan: bool) -> list[dict[str, Any]]:
        """The rows appended since the last read (``rescan``: also look for newer files)."""
        rows = []
        for item in self.follower.poll(rescan=rescan):
            if isinstance(item, tuple):
                rec = decode_record(item[2])
                if rec is not None:
                    rows.append(row_from_record(rec).to_dict())
        return rows


class FeedHub:
    def __init__(self, base: Path, *, poll_interval: float, queue_size: int) -> None:
        self.base = base
        self.poll_interval = poll_interval
        self.queue_size = queue_size
        self._feeds: dict[str, _Feed] = {}
        self.dropped_clients = 0
        self.events_published = 0
        self.stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def clients(self) -> int:
        return sum(len(f.subscribers) for f in self._feeds.values())

    async def subscribe(self, session_id: str) -> Subscriber:
        self._loop = asyncio.get_running_loop()
        feed = self._feeds.get(session_id)
        if feed is None:
            follower = SessionFollower(self.base, session_id, from_end=True, resume=True, hold=True)
            feed = self._feeds[session_id] = _Feed(session_id, follower)
            try:
                await asyncio.to_thread(feed.read, True)  # takes the start position
            finally:
                feed.started.set()
        # Clients joining meanwhile wait for the start position: theirs is the feed's.
        await feed.started.wait()
        path, offset = feed.follower.position
        sub = Subscriber(asyncio.Queue(self.queue_size), session_id, path, offset)
        feed.subscribers.add(sub)
        if feed.task is None:
            feed.task = asyncio.create_task(self._follow(feed))
        if self.stopping:  # the stop came while this subscription was being set up
            self._end_streams()
        return sub

    def stop(self) -> None:
        """End every stream (a ``None`` in each queue) and every one opened later.

        Safe from any thread and from a signal handler: the streams are ended by the event
        loop, soon after this returns.
        """
        self.stopping = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._end_streams)

    def _end_streams(self) -> None:
        for feed in list(self._feeds.values()):
            for sub in list(feed.subscribers):
                feed.subscribers.discard(sub)
                _end(sub)
            if feed.task is not None:
                feed.task.cancel()

    def unsubscribe(self, sub: Subscriber) -> None:
        feed = self._feeds.get(sub.session_id)
        if feed is None:
            return
        feed.subscribers.discard(sub)
        if not feed.subscribers:
            if feed.task is not None:
                feed.task.cancel()
            self._feeds.pop(sub.session_id, None)

    def publish(self, feed: _Feed, rows: list[dict[str, Any]]) -> None:
        for sub in list(feed.subscribers):
            for row in rows:
                try:
                    sub.queue.put_nowait(row)
                except asyncio.QueueFull:
                    self._drop(feed, sub)
                    break
        self.events_published += len(rows)

    def _drop(self, feed: _Feed, sub: Subscriber) -> None:
        sub.dropped = True
        feed.subscribers.discard(sub)
        self.dropped_clients += 1
        _end(sub)

    async def _follow(self, feed: _Feed) -> None:
        loop = asyncio.get_running_loop()
        next_resolve = loop.time() + _RESOLVE_EVERY_S
        try:
            while feed.subscribers:
                await asyncio.sleep(self.poll_interval)
                resolve = feed.follower.position[0] is None or loop.time() >= next_resolve
                if resolve:
                    next_resolve = loop.time() + _RESOLVE_EVERY_S
                rows = await asyncio.to_thread(self._poll, feed, resolve)
                if rows:
                    self.publish(feed, rows)
        finally:
            feed.retire()

    def _poll(self, feed: _Feed, resolve: bool) -> list[dict[str, Any]]:
        """One step of following ``feed`` (in a worker thread)."""
        with feed.lock:
            if feed.retired:
                return []
            feed.busy = True
        try:
            return feed.read(resolve)
        finally:
            with feed.lock:
                feed.busy = False
                if feed.retired:
                    feed.follower.close()

    async def close(self) -> None:
        for feed in list(self._feeds.values()):
            if feed.task is not None:
                feed.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await feed.task
            feed.retire()
        self._feeds.clear()


def _end(sub: Subscriber) -> None:
    """Put the end-of-stream marker in ``sub``'s queue, making room for it."""
    while not sub.queue.empty():
        sub.queue.get_nowait()
    sub.queue.put_nowait(None)
