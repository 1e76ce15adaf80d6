"""Live feed: follow a session's newest file and push new events to connected clients.

One poller per watched session reads appended lines (in a worker thread, never on the event
loop) and publishes them synchronously to every subscriber's own bounded queue. A client
whose queue is full is dropped, never waited for: one slow browser cannot delay the others.

The poller keeps the followed file open, so it can finish it after retention moved or
compressed it away. It notices when the session's name now refers to another file (device
and inode differ: retention compressed the old one and the logger started anew), when the
file shrank (truncated in place) and when another plain file became the newest (daily
rotation); then it finishes the old file and continues from the start of the new one.

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
from src.query.lines import BLOCK_SIZE, bytes_before, iter_range_blocks, split_lines
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


def plain_files_after(base: Path, session_id: str, current: Path | None) -> list[Path]:
    """The plain files of the session that come after ``current`` in its order (also when
    ``current`` was compressed since); the newest one when ``current`` is None or gone."""
    session = session_files(base, session_id)
    if session is None:
        return []
    files = list(session.files)
    for known in (current, Path(f"{current}.gz")) if current is not None else ():
        if known in files:
            later = files[files.index(known) + 1 :]
            return [p for p in later if not p.name.endswith(".gz")]
    return [p for p in files if not p.name.endswith(".gz")][-1:]


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
    path: Path | None
    offset: int
    subscribers: set[Subscriber] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    fd: int | None = None  # the followed file, open (read after it is moved away)
    ident: tuple[int, int] | None = None  # its (device, inode)
    guard: bytes = b""  # the bytes before ``offset``, as read
    switches: int = 0  # times the feed moved on to another file
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
                self.close()

    def open(self) -> None:
        """Open ``path`` (if it exists) as the followed file."""
        self.close()
        if self.path is None:
            return
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return
        st = os.fstat(fd)
        self.fd, self.ident = fd, (st.st_dev, st.st_ino)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
        self.fd = self.ident = None

    def read(self) -> list[dict[str, Any]]:
        """The rows appended to the followed file since ``offset``."""
        if self.fd is None:
            self.open()
            if self.fd is None:
                return []
        if (
            os.fstat(self.fd).st_size < self.offset
            or bytes_before(self.fd, self.offset) != self.guard
        ):  # truncated in place (and maybe written again): start over
            self.offset = 0
        rows, self.offset = _rows_from_fd(self.fd, self.offset, None)
        self.guard = bytes_before(self.fd, self.offset)
        return rows

    def replaced(self) -> bool:
        """True when ``path`` names another file than the one open (or none)."""
        try:
            st = os.stat(self.path) if self.path is not None else None
        except OSError:
            st = None
        return st is None or (st.st_dev, st.st_ino) != self.ident

    def switch(self, path: Path | None) -> list[dict[str, Any]]:
        """Finish the open file, then follow ``path`` from its start."""
        rows = self.read() if self.fd is not None else []
        self.close()
        self.path, self.offset, self.guard = path, 0, b""
        self.switches += 1
        self.open()
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
            path = await asyncio.to_thread(newest_plain_file, self.base, session_id)
            feed = self._feeds.get(session_id)
            if feed is None:
                feed = self._feeds[session_id] = _Feed(session_id, path, 0)
                try:
                    await asyncio.to_thread(_start, feed)
                finally:
                    feed.started.set()
        # Clients joining meanwhile wait for the start position: theirs is the feed's.
        await feed.started.wait()
        sub = Subscriber(asyncio.Queue(self.queue_size), session_id, feed.path, feed.offset)
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
                resolve = feed.path is None or loop.time() >= next_resolve
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
            return self._step(feed, resolve)
        finally:
            with feed.lock:
                feed.busy = False
                if feed.retired:
                    feed.close()

    def _step(self, feed: _Feed, resolve: bool) -> list[dict[str, Any]]:
        rows = feed.read() if feed.path is not None else []
        if feed.path is not None and feed.replaced():
            # Compressed or moved away by retention, or truncated and recreated: finish the
            # open file, then read the one its name refers to now (if any) and the newer ones.
            targets = plain_files_after(self.base, feed.session_id, feed.path)
            if feed.path.exists():
                targets.insert(0, feed.path)
            if not targets:
                rows += feed.switch(None)
        elif resolve:  # daily rotation: newer files, each read in turn
            targets = plain_files_after(self.base, feed.session_id, feed.path)
        else:
            targets = []
        for path in targets:
            rows += feed.switch(path)
            rows += feed.read() if feed.fd is not None else []
        return rows

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


def _start(feed: _Feed) -> None:
    """Open the feed's file and start at its current end."""
    feed.open()
    if feed.fd is not None:
        feed.offset = os.fstat(feed.fd).st_size
        feed.guard = bytes_before(feed.fd, feed.offset)
