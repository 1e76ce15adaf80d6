"""Follow the event stream live, for dashboards and the alert engine.

    for entry in follow_stream(url, stream="execution:events", session_id="s1"):
        print(entry.entry_id, entry.event.kind)

A follower reads with plain ``XREAD`` (no consumer group, nothing acknowledged): every
follower sees every event and none disturbs the collector. It starts after the newest entry
(``last_id="$"``, resolved once so nothing added between two reads is missed) or wherever it
is told (``"0"`` = from the first entry still in the stream), and keeps its place across
Redis outages, reconnecting with back-off. Entries that are not events are skipped and
counted in :attr:`StreamFollower.skipped`.

It stops when ``stop`` is set, when ``close()`` is called, when ``idle_timeout`` seconds pass
without an event, or when the consumer breaks out of the loop. A follower that falls further
behind than the stream's ``maxlen`` loses the trimmed entries (the ``seq`` gap shows it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from src.common.backoff import Backoff
from src.execution.events import ExecutionEvent
from src.execution.telemetry.redis_common import (
    DEFAULT_STREAM,
    DEFAULT_URL,
    connect,
    decode_line,
    redact_url,
    scrubber,
    stream_entries,
    transient_errors,
)

__all__ = ["StreamEntry", "StreamFollower", "follow_stream"]

log = logging.getLogger("src.streaming.follow")


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """One event read from the stream, with its stream id (to resume from) and raw line."""

    entry_id: str
    event: ExecutionEvent
    line: bytes


class StreamFollower(Iterator[StreamEntry]):
    """An iterator over new stream entries; see :func:`follow_stream`."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        stream: str = DEFAULT_STREAM,
        last_id: str = "$",
        session_id: str | None = None,
        kinds: Iterable[str] | None = None,
        block_ms: int = 1000,
        count: int = 500,
        idle_timeout: float | None = None,
        stop: threading.Event | None = None,
        backoff_max: float = 5.0,
    ) -> None:
        self.stream = stream
        self.safe_url = redact_url(url)
        self._scrub = scrubber(url)
        self._client = connect(url, timeout=block_ms / 1000 + 5.0, client_name="telemetry-follower")
        self._transient = transient_errors()
        self.last_id = last_id
        self.session_id = session_id
        self.kinds = frozenset(kinds) if kinds is not None else None
        self.block_ms = block_ms
        self.count = count
        self.idle_timeout = idle_timeout
        self._stop = stop if stop is not None else threading.Event()
        self._backoff = Backoff(0.05, backoff_max)
        self._buffer: deque[StreamEntry] = deque()
        self._last_event = time.monotonic()
        self.skipped = 0
        self.reconnects = 0
        self._closed = False

    def __iter__(self) -> StreamFollower:
        return self

    def __next__(self) -> StreamEntry:
        while not self._buffer:
            if (
                self._closed
                or self._stop.is_set()
                or (
                    self.idle_timeout is not None
                    and time.monotonic() - self._last_event >= self.idle_timeout
                )
            ):
                self.close()  # a finished iterator holds no connection
                raise StopIteration
            self._fill()
        self._last_event = time.monotonic()
        return self._buffer.popleft()

    def position(self) -> str:
        """The id after which the follower reads; resolves ``"$"`` to the newest entry now.

        Call it before announcing that you are following, so nothing added in between is
        missed (the first read would otherwise resolve it). Raises if Redis is unreachable.
        """
        if self.last_id == "$":
            newest = self._client.xrevrange(self.stream, count=1)
            self.last_id = _text(newest[0][0]) if newest else "0-0"
        return self.last_id

    def _fill(self) -> None:
        try:
            self.position()
            block = self.block_ms
            if self.idle_timeout is not None:
                left = self.idle_timeout - (time.monotonic() - self._last_event)
                block = max(1, min(block, int(left * 1000) + 1))
            reply = self._client.xread({self.stream: self.last_id}, count=self.count, block=block)
        except Exception as exc:
            if self._closed or self._stop.is_set():
                return  # close() from another thread cut the read short: just stop
            if not isinstance(exc, self._transient):
                raise
            delay = self._backoff.next_delay()
            if self._backoff.failures == 1:  # once per outage, not once per attempt
                log.warning(
                    "follower of %r at %s: Redis unavailable, retrying: %s",
                    self.stream,
                    self.safe_url,
                    self._scrub(f"{type(exc).__name__}: {exc}"),
                )
            self._stop.wait(delay)
            return
        if self._backoff.reset():
            self.reconnects += 1
            log.warning("follower of %r: Redis reachable again", self.stream)
        for entry_id, fields in stream_entries(reply):
            self.last_id = _text(entry_id)
            try:
                line, event = decode_line(fields)
            except Exception:
                self.skipped += 1
                continue
            if self.session_id is not None and event.session_id != self.session_id:
                continue
            if self.kinds is not None and event.kind not in self.kinds:
                continue
            self._buffer.append(StreamEntry(self.last_id, event, line))

    def close(self) -> None:
        """Stop iterating (also from another thread: the current read ends within block_ms)."""
        self._closed = True
        self._stop.set()
        try:
            self._client.close()
        except Exception:
            pass

    def __enter__(self) -> StreamFollower:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def follow_stream(
    url: str = DEFAULT_URL,
    *,
    stream: str = DEFAULT_STREAM,
    last_id: str = "$",
    session_id: str | None = None,
    kinds: Iterable[str] | None = None,
    block_ms: int = 1000,
    idle_timeout: float | None = None,
    stop: threading.Event | None = None,
) -> StreamFollower:
    """Iterate events as they reach ``stream``: ``StreamEntry(entry_id, event, line)``."""
    return StreamFollower(
        url,
        stream=stream,
        last_id=last_id,
        session_id=session_id,
        kinds=kinds,
        block_ms=block_ms,
        idle_timeout=idle_timeout,
        stop=stop,
    )
