"""The collector: the Redis event stream -> the central per-session JSONL archive.

It reads the stream as a member of a consumer group and writes every event through a
:class:`~src.execution.telemetry.JsonlExecutionLogger`, so the archive has the same
layout, line format and guarantees as a local log and every reader works on it unchanged.

Delivery:

* an entry is acknowledged (``XACK``) only after its line is written (and fsynced, unless
  the fsync policy is ``none``); a crash in between makes Redis deliver it again;
* on start-up, after a Redis error and every ``claim_idle_ms``, it first takes over entries
  other consumers left pending for that long (``XAUTOCLAIM``), then works through its own
  pending entries oldest first (``XREADGROUP ... 0``), and only then reads new ones; the
  default consumer name is the host name, so a restarted collector resumes its own
  entries at once;
* duplicates (a producer's re-sent batch, a re-delivered entry whose line was written
  before a crash) are recognised by ``event_id`` and acknowledged without a second line;
  see :mod:`src.streaming.dedup` for how that survives a restart;
* an entry that can never be written (not our format, an invalid session id) goes to the
  ``<stream>:dead`` stream with the reason, and is acknowledged;
* a failing archive (a full disk) leaves the rest of the batch unacknowledged and is
  retried with back-off, oldest first, so each session's order is kept.

One collector per stream and group keeps each session's lines in stream order; scale out
by giving each collector its own stream (see docs/scale-out.md).
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from src.common.backoff import Backoff
from src.execution.telemetry.jsonl import JsonlExecutionLogger
from src.execution.telemetry.redis_common import (
    DEFAULT_STREAM,
    connect,
    decode_line,
    import_redis,
    redact_url,
    scrubber,
    stream_entries,
    transient_errors,
)
from src.streaming.dedup import SeenEvents, seed_from_archive

__all__ = ["ArchiveWriteError", "Collector", "CollectorStats"]

log = logging.getLogger("src.streaming.collector")

DEAD_LETTER_SUFFIX = ":dead"
DEAD_LETTER_MAXLEN = 100_000
_REPORT_INTERVAL_S = 30.0
_SUMMARY_INTERVAL_S = 60.0


class ArchiveWriteError(OSError):
    """Writing the archive failed; the entries stay pending and are retried."""


@dataclass
class CollectorStats:
    """What the collector did since it started."""

    read: int = 0
    written: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    trimmed: int = 0
    claimed: int = 0
    acked: int = 0
    write_failures: int = 0
    redis_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Collector:
    """Move events from the stream into the archive; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        archive_path: str,
        stream: str = DEFAULT_STREAM,
        group: str = "archive",
        consumer: str | None = None,
        batch_size: int = 500,
        block_ms: int = 1000,
        claim_idle_ms: int = 30_000,
        start_id: str = "0",
        dedup_capacity: int = 200_000,
        dedup_tail_bytes: int = 1 << 20,
        rotation: str = "none",
        fsync: str = "interval",
        fsync_interval: float = 1.0,
        timeout: float = 5.0,
        backoff_max: float = 5.0,
    ) -> None:
        import_redis("the collector")
        if batch_size < 1 or block_ms < 1 or claim_idle_ms < 0:
            raise ValueError(
                f"invalid batch_size/block_ms/claim_idle_ms {batch_size}/{block_ms}/"
                f"{claim_idle_ms}: need >= 1, >= 1, >= 0"
            )
        self.safe_url = redact_url(url)
        self._scrub = scrubber(url)
        self.stream = stream
        self.dead_letter_stream = stream + DEAD_LETTER_SUFFIX
        self.group = group
        self.consumer = consumer or socket.gethostname()
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.start_id = start_id
        self.archive = JsonlExecutionLogger(
            archive_path,
            fsync=fsync,  # type: ignore[arg-type]
            fsync_interval=fsync_interval,
            rotation=rotation,  # type: ignore[arg-type]
            strict=True,  # a failed write must raise here, or we would acknowledge it
        )
        self.seen = SeenEvents(dedup_capacity)
        self.seeded = seed_from_archive(self.seen, archive_path, dedup_tail_bytes)
        self.stats = CollectorStats()
        self._redis = import_redis()
        self._transient = transient_errors()
        # A blocking read answers after up to block_ms: the socket must wait longer.
        self._client = connect(
            url,
            timeout=block_ms / 1000 + timeout,
            client_name=f"telemetry-collector-{self.consumer}",
        )
        self._backoff = Backoff(0.05, backoff_max)
        self._group_ready = False
        self._recovering = True
        self._next_claim = 0.0
        self._last_report: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    # -- the loop ------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Collect until ``stop`` is set; Redis or archive trouble is waited out, not fatal."""
        log.info(
            "collecting stream %r from %s into %s (group %r, consumer %r, %d event ids "
            "remembered from the archive)",
            self.stream,
            self.safe_url,
            self.archive.base_path,
            self.group,
            self.consumer,
            self.seeded,
        )
        next_summary = time.monotonic() + _SUMMARY_INTERVAL_S
        while not stop.is_set():
            try:
                self.step()
            except ArchiveWriteError as exc:
                self._problem("archive", f"archive write failed, will retry: {exc}")
                stop.wait(self._backoff.next_delay())
                continue
            except self._transient as exc:
                self.stats.redis_errors += 1
                self._group_ready = False
                self._recovering = True
                self._problem("redis", f"Redis at {self.safe_url} unavailable: {self._err(exc)}")
                stop.wait(self._backoff.next_delay())
                continue
            failures = self._backoff.reset()
            if failures:
                log.warning("collector: working again after %d failed attempts", failures)
            if time.monotonic() >= next_summary:
                next_summary = time.monotonic() + _SUMMARY_INTERVAL_S
                log.info("collector: %s", self.stats.as_dict())

    def step(self) -> int:
        """One round: read a batch, write it, acknowledge it. Returns entries handled."""
        self._ensure_group()
        if not self._recovering and time.monotonic() >= self._next_claim:
            self._recovering = True
        if self._recovering:
            if time.monotonic() >= self._next_claim:
                self._claim_stale()
            entries = self._read("0", block=None)
            if not entries:
                self._recovering = False
                return 0
        else:
            entries = self._read(">", block=self.block_ms)
        return self._handle(entries)

    # -- reading -------------------------------------------------------------------------
    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            self._client.xgroup_create(self.stream, self.group, id=self.start_id, mkstream=True)
        except self._redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def _read(self, last_id: str, *, block: int | None) -> list[tuple[Any, dict[Any, Any]]]:
        try:
            reply = self._client.xreadgroup(
                self.group, self.consumer, {self.stream: last_id}, count=self.batch_size,
                block=block,
            )  # fmt: skip
        except self._redis.exceptions.ResponseError as exc:
            if "NOGROUP" in str(exc):  # the stream was deleted (or Redis lost its data)
                self._group_ready = False
                self._recovering = True
                return []
            raise
        return stream_entries(reply)

    def _claim_stale(self) -> None:
        """Take over entries other consumers left pending for ``claim_idle_ms``."""
        self._next_claim = time.monotonic() + max(1.0, self.claim_idle_ms / 1000)
        cursor: Any = "0-0"
        while True:
            reply = self._client.xautoclaim(
                self.stream, self.group, self.consumer, self.claim_idle_ms,
                start_id=cursor, count=self.batch_size,
            )  # fmt: skip
            cursor, claimed = reply[0], reply[1]
            self.stats.claimed += sum(1 for entry in claimed if entry and entry[0] is not None)
            if len(reply) > 2 and reply[2]:
                self.stats.trimmed += len(reply[2])  # deleted while pending: nothing to write
            if cursor in (b"0-0", "0-0"):
                return

    # -- writing and acknowledging -------------------------------------------------------
    def _handle(self, entries: list[tuple[Any, dict[Any, Any]]]) -> int:
        done: list[Any] = []
        dead: list[tuple[Any, dict[Any, Any], str]] = []
        failure: OSError | None = None
        for entry_id, fields in entries:
            self.stats.read += 1
            if not fields:
                self.stats.trimmed += 1  # trimmed away before we wrote it: nothing to write
                done.append(entry_id)
                continue
            try:
                _line, event = decode_line(fields)
            except Exception as exc:
                dead.append((entry_id, fields, f"undecodable: {type(exc).__name__}: {exc}"))
                continue
            if event.event_id in self.seen:
                self.stats.duplicates += 1
                done.append(entry_id)
                continue
            try:
                self.archive.emit(event)
            except OSError as exc:
                self.stats.write_failures += 1
                failure = exc
                break  # the rest stays pending, to be retried in order
            except Exception as exc:
                dead.append((entry_id, fields, f"unwritable: {type(exc).__name__}: {exc}"))
                continue
            self.seen.add(event.event_id)
            self.stats.written += 1
            done.append(entry_id)
        if failure is not None:
            self._recovering = True
        if done or dead:
            if not self._durable():
                # Written but not on disk: acknowledge later, after the retry re-reads them
                # (they are duplicates by then, so no second line).
                self._recovering = True
                raise ArchiveWriteError(errno.EIO, "fsync of the archive failed")
            self._acknowledge(done, dead)
        if failure is not None:
            raise ArchiveWriteError(failure.errno, f"{type(failure).__name__}: {failure}")
        return len(done) + len(dead)

    def _durable(self) -> bool:
        if self.archive.fsync == "none":
            return True
        try:
            return bool(self.archive.flush())
        except OSError:
            return False

    def _acknowledge(self, done: list[Any], dead: list[tuple[Any, dict[Any, Any], str]]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for entry_id, fields, reason in dead:
            record = {**fields, b"error": reason.encode(), b"source_id": entry_id}
            pipe.xadd(self.dead_letter_stream, record, maxlen=DEAD_LETTER_MAXLEN, approximate=True)
            shown = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            self._problem("dead", f"entry {shown} moved to {self.dead_letter_stream}: {reason}")
        ids = done + [entry_id for entry_id, _fields, _reason in dead]
        pipe.xack(self.stream, self.group, *ids)
        pipe.execute()
        self.stats.acked += len(ids)
        self.stats.dead_lettered += len(dead)

    # -- reporting -----------------------------------------------------------------------
    def _err(self, exc: BaseException) -> str:
        return self._scrub(f"{type(exc).__name__}: {exc}")

    def _problem(self, key: str, message: str) -> None:
        now = time.monotonic()
        last = self._last_report.get(key)
        if last is not None and now - last < _REPORT_INTERVAL_S:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        self._last_report[key] = now
        suppressed = self._suppressed.pop(key, 0)
        extra = f" ({suppressed} similar messages suppressed)" if suppressed else ""
        log.warning("collector: %s%s", self._scrub(message), extra)

    def pending(self) -> int:
        """Entries of the group delivered but not yet acknowledged (all consumers)."""
        summary = self._client.xpending(self.stream, self.group)
        return int(summary["pending"] if isinstance(summary, dict) else summary[0])

    def close(self) -> None:
        self.archive.close()
        try:
            self._client.close()
        except Exception:
            pass
        log.info("collector stopped: %s", self.stats.as_dict())

    def __enter__(self) -> Collector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
