"""Live feed: follow a session's newest file and push new events to connected clients.

One poller per watched session reads appended lines (in a worker thread, never on the event
loop) and publishes them synchronously to every subscriber's own bounded queue. A client
whose queue is full is dropped, never waited for: one slow browser cannot delay the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from src.query.files import session_files
from src.query.paging import decode_position, encode_position
from src.query.records import decode_record
from src.query.timeline import row_from_record

__all__ = ["FeedHub", "Subscriber", "decode_position", "encode_position", "read_rows"]

_RESOLVE_EVERY_S = 2.0


def newest_plain_file(base: Path, session_id: str) -> Path | None:
    session = session_files(base, session_id)
    if session is None:
        return None
    plain = [p for p in session.files if not p.name.endswith(".gz")]
    return plain[-1] if plain else None


def read_rows(path: Path, start: int, end: int | None = None) -> tuple[list[dict[str, Any]], int]:
    """Rows for the complete lines in ``[start, end)`` and the offset after the last one."""
    try:
        with open(path, "rb") as fh:
            fh.seek(start)
            data = fh.read() if end is None else fh.read(max(0, end - start))
    except FileNotFoundError:
        return [], start
    cut = data.rfind(b"\n") + 1
    rows = []
    for line in data[:cut].splitlines():
        rec = decode_record(line)
        if rec is not None:
            rows.append(row_from_record(rec).to_dict())
    return rows, start + cut


@dataclass(eq=False)
class Subscriber:
    queue: asyncio.Queue[dict[str, Any] | None]
    session_id: str
    start_file: Path | None = None
    start_offset: int = 0
    dropped: bool = False


@dataclass(eq=False)
class _Feed:
    session_id: str
    path: Path | None
    offset: int
    subscribers: set[Subscriber] = field(default_factory=set)
    task: asyncio.Task[None] | None = None


class FeedHub:
    def __init__(self, base: Path, *, poll_interval: float, queue_size: int) -> None:
        self.base = base
        self.poll_interval = poll_interval
        self.queue_size = queue_size
        self._feeds: dict[str, _Feed] = {}
        self.dropped_clients = 0
        self.events_published = 0

    @property
    def clients(self) -> int:
        return sum(len(f.subscribers) for f in self._feeds.values())

    async def subscribe(self, session_id: str) -> Subscriber:
        feed = self._feeds.get(session_id)
        if feed is None:
            path = await asyncio.to_thread(newest_plain_file, self.base, session_id)
            offset = await asyncio.to_thread(_size, path)
            feed = self._feeds.setdefault(session_id, _Feed(session_id, path, offset))
        sub = Subscriber(asyncio.Queue(self.queue_size), session_id, feed.path, feed.offset)
        feed.subscribers.add(sub)
        if feed.task is None:
            feed.task = asyncio.create_task(self._follow(feed))
        return sub

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
        while not sub.queue.empty():  # make room for the end-of-stream marker
            sub.queue.get_nowait()
        sub.queue.put_nowait(None)

    async def _follow(self, feed: _Feed) -> None:
        loop = asyncio.get_running_loop()
        next_resolve = loop.time() + _RESOLVE_EVERY_S
        while feed.subscribers:
            await asyncio.sleep(self.poll_interval)
            if feed.path is not None:
                rows, feed.offset = await asyncio.to_thread(read_rows, feed.path, feed.offset)
                if rows:
                    self.publish(feed, rows)
            if feed.path is None or loop.time() >= next_resolve:
                next_resolve = loop.time() + _RESOLVE_EVERY_S
                newest = await asyncio.to_thread(newest_plain_file, self.base, feed.session_id)
                if newest is not None and newest != feed.path:
                    if feed.path is not None:  # finish the old file, then switch (rotation)
                        rows, _ = await asyncio.to_thread(read_rows, feed.path, feed.offset)
                        self.publish(feed, rows)
                    feed.path, feed.offset = newest, 0

    async def close(self) -> None:
        for feed in list(self._feeds.values()):
            if feed.task is not None:
                feed.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await feed.task
        self._feeds.clear()


def _size(path: Path | None) -> int:
    if path is None:
        return 0
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
