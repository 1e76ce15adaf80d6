"""Events into a Redis stream, so many trading processes and hosts meet in one place.

``RedisStreamEmitter`` is a :class:`~.queued.QueuedEmitter` whose worker thread XADDs to a
stream: the trading thread only appends to a bounded in-memory queue and never waits on the
network. The worker sends up to ``batch_size`` events per pipelined round trip, each entry
trimmed approximately (``XADD key MAXLEN ~ maxlen * line <jsonl line>``).

When Redis goes away the worker keeps the batch in hand and retries with exponential
back-off; meanwhile the queue fills up to ``queue_size`` and further events are dropped and
counted. When Redis is back the held batch and the queue are delivered, oldest first.
A batch is re-sent whole after a connection error, so an event can reach the stream twice
(at-least-once); the collector de-duplicates by ``event_id``.

redis-py is imported when the emitter is built, not when this module is imported.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from src.common.backoff import Backoff
from src.execution.events import ExecutionEvent
from src.execution.jsontypes import JsonObject
from src.execution.serialization import encode_event_line
from src.execution.telemetry.base import ExecutionEventEmitter, log
from src.execution.telemetry.queued import QueuedEmitter
from src.execution.telemetry.redis_common import (
    DEFAULT_STREAM,
    DEFAULT_URL,
    LINE_FIELD,
    connect,
    import_redis,
    redact_url,
    scrubber,
    transient_errors,
)

__all__ = ["RedisStreamEmitter"]

if TYPE_CHECKING:
    from src.execution.config import RedisConfig


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(value), value)


def _xadd_prefix(stream: str, maxlen: int) -> bytes:
    """RESP for ``XADD <stream> [MAXLEN ~ <maxlen>] * line``; the line's bulk string follows."""
    args = [b"XADD", stream.encode()]
    if maxlen:
        args += [b"MAXLEN", b"~", str(maxlen).encode()]
    args += [b"*", LINE_FIELD]
    return b"*%d\r\n" % (len(args) + 1) + b"".join(_bulk(arg) for arg in args)


class _StreamWriter(ExecutionEventEmitter):
    """The network half, run by the queue's worker: pipelined XADD with reconnect back-off."""

    def __init__(
        self,
        url: str,
        *,
        stream: str,
        maxlen: int,
        connect_timeout: float,
        timeout: float,
        backoff_max: float,
    ) -> None:
        super().__init__()
        if maxlen < 0:
            raise ValueError(f"invalid maxlen {maxlen!r}: must be >= 0 (0 = no trimming)")
        if not stream:
            raise ValueError("invalid stream '': must not be empty")
        self.url = url
        self.safe_url = redact_url(url)
        self._scrub = scrubber(url)
        self.stream = stream
        self.maxlen = maxlen
        self._transient = transient_errors()
        self._client = connect(
            url,
            connect_timeout=connect_timeout,
            timeout=timeout,
            client_name=f"telemetry-producer-{socket.gethostname()}",
        )
        self._response_error = import_redis().exceptions.ResponseError
        self._prefix = _xadd_prefix(stream, maxlen)
        self._backoff = Backoff(0.05, backoff_max)
        self._abort = threading.Event()
        self.connected = False
        self.reconnects = 0

    def emit(self, event: ExecutionEvent) -> None:
        self.emit_batch([event])

    def emit_batch(self, events: Sequence[ExecutionEvent]) -> int:
        """XADD ``events`` in one round trip, retrying until delivered or aborted."""
        lines: list[bytes] = []
        for event in events:
            try:
                lines.append(encode_event_line(event))
            except Exception as exc:  # an unencodable payload costs that event only
                self._handle_error(exc, f"encoding an event of session {event.session_id!r}")
        if not lines:
            return 0
        while True:
            if self._abort.is_set():
                return 0
            try:
                replies = self._send(lines)
            except self._transient as exc:
                self.connected = False
                self._handle_error(exc, f"XADD to {self.safe_url}")
                if self._abort.wait(self._backoff.next_delay()):
                    return 0
                continue
            except Exception as exc:  # not a connectivity problem: retrying will not help
                self._handle_error(exc, f"XADD to {self.safe_url}")
                return 0
            failures = self._backoff.reset()
            if not self.connected and failures:
                self.reconnects += 1
                log.warning(
                    "telemetry sink %s: Redis reachable again after %d failed attempts",
                    self._name(),
                    failures,
                )
            self.connected = True
            delivered = 0
            for reply in replies:
                if isinstance(reply, Exception):
                    self._handle_error(reply, f"XADD to stream {self.stream!r}")
                else:
                    delivered += 1
            self._stats.emitted += delivered
            return delivered

    def _send(self, lines: list[bytes]) -> list[object]:
        """One round trip: every XADD written at once, then one reply read per command.

        XADD always has the same shape here, so it is packed by hand (a cached prefix plus
        the line): redis-py's generic packing was half of the worker's time.
        """
        prefix = self._prefix
        packed = b"".join([b"%b$%d\r\n%b\r\n" % (prefix, len(line), line) for line in lines])
        pool = self._client.connection_pool
        try:
            conn = pool.get_connection()
        except TypeError:  # redis-py < 5.3 wants a command name
            conn = pool.get_connection("XADD")
        response_error = self._response_error
        replies: list[object] = []
        try:
            conn.send_packed_command([packed])  # a list of chunks, as redis-py packs them
            for _ in lines:
                try:
                    replies.append(conn.read_response())
                except response_error as exc:  # this command failed; the rest still count
                    replies.append(exc)
        except BaseException:
            conn.disconnect()  # never hand a half-read connection back to the pool
            raise
        finally:
            pool.release(conn)
        return replies

    def abort(self) -> None:
        """Stop retrying: a batch held while Redis is away is given up (and counted).

        Closing the connections also wakes a worker blocked reading from a server that does
        not answer, so its batch is accounted for before ``close()`` returns.
        """
        self._abort.set()
        try:
            self._client.connection_pool.disconnect()
        except Exception:
            pass

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._abort.set()
        try:
            self._client.close()
        except Exception:
            pass

    def _handle_error(self, exc: BaseException, where: str) -> None:
        # As the base class does, but no password in the URL may reach a message.
        stats = self.stats
        stats.errors += 1
        stats.last_error = self._scrub(f"{type(exc).__name__}: {exc}")
        stats.last_error_at = time.time()
        if self.strict:
            raise exc
        self._report(f"{where} failed: {stats.last_error}")

    def _name(self) -> str:
        return f"RedisStreamEmitter({self.safe_url}, stream={self.stream!r})"

    def health(self) -> JsonObject:
        return {
            **super().health(),
            "url": self.safe_url,
            "stream": self.stream,
            "connected": self.connected,
            "reconnects": self.reconnects,
        }


class RedisStreamEmitter(QueuedEmitter):
    """Send events to the Redis stream ``stream`` at ``url`` from a background thread.

    ``stats.emitted`` counts events Redis confirmed; ``stats.dropped`` those lost to a full
    queue, to an emit after close, or still undelivered when ``close()`` gave up;
    ``health()["inner"]`` has the connection state and the network errors.
    """

    inner: _StreamWriter  # always the writer built below

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        stream: str = DEFAULT_STREAM,
        maxlen: int = 1_000_000,
        queue_size: int = 100_000,
        batch_size: int = 512,
        connect_timeout: float = 1.0,
        timeout: float = 2.0,
        backoff_max: float = 5.0,
        close_timeout: float = 5.0,
        strict: bool = False,
    ) -> None:
        import_redis("RedisStreamEmitter")  # fail at start-up, not silently at the first emit
        writer = _StreamWriter(
            url,
            stream=stream,
            maxlen=maxlen,
            connect_timeout=connect_timeout,
            timeout=timeout,
            backoff_max=backoff_max,
        )
        super().__init__(
            writer,
            maxsize=queue_size,
            batch_size=batch_size,
            close_timeout=close_timeout,
            strict=strict,
        )

    @classmethod
    def from_config(cls, config: RedisConfig) -> RedisStreamEmitter:
        """Build from a :class:`~src.execution.config.RedisConfig`."""
        return cls(
            config.url,
            stream=config.stream,
            maxlen=config.maxlen,
            queue_size=config.queue_size,
            batch_size=config.batch_size,
            connect_timeout=config.connect_timeout_s,
            timeout=config.timeout_s,
            backoff_max=config.backoff_max_s,
        )

    @property
    def stream(self) -> str:
        return str(self.inner.stream)

    @property
    def connected(self) -> bool:
        """Whether the last round trip to Redis succeeded."""
        return bool(self.inner.connected)

    def close(self) -> None:
        """Deliver what is queued within ``close_timeout``; count the rest as dropped."""
        if self._closed:
            return
        self.flush(self.close_timeout)
        self._closed = True
        self.inner.abort()  # a batch held while Redis is away is now given up, and counted
        with self._idle:
            self._stopping = True
        self._wakeup.set()
        worker = self._worker
        if worker is not None:
            worker.join(self.close_timeout)
        lost = len(self._queue)
        if lost:
            self._queue.clear()
            self.stats.dropped += lost
        if self.stats.dropped:
            self._report(f"closed; {self.stats.dropped} events were dropped in all")
        self.inner.close()

    def _name(self) -> str:
        return self.inner._name()  # the writer names itself with its URL and stream
