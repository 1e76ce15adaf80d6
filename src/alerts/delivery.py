"""Delivery: a bounded queue and a worker thread per channel, so nothing waits on a network.

The engine only ``submit``s (append to a bounded deque, never blocking): rule evaluation goes
on whatever a webhook or mail server does, and a dead endpoint holds up only its own
channel. The worker makes up to ``max_attempts`` attempts, each bounded by ``timeout_s``,
waiting ``backoff_initial_s`` doubling up to ``backoff_max_s`` between them, and retries only
what is worth retrying (timeouts, refused connections, HTTP 5xx/429, SMTP 4xx). Every
attempt is recorded in the delivery log with its outcome, secrets scrubbed. ``on_done(item,
outcome)`` reports the end of each notification (``ok``, ``failed``, ``dropped``) so the
engine can clear it from the state's outbox.

``close(timeout)`` lets the queues drain for up to ``timeout`` seconds, then stops the workers
(a back-off wait is cut short); what was not delivered stays in the outbox for the next start.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from src.alerts.channels.base import Channel, DeliveryError, scrub
from src.alerts.config import DeliveryConfig
from src.alerts.deliverylog import DeliveryLog
from src.common.backoff import doubling_delays

__all__ = ["Dispatcher", "OutboxItem", "backoff_delays"]

log = logging.getLogger("src.alerts.delivery")

OutboxItem = dict[str, Any]  # {"id", "channel", "notification", "created_at"}
DoneFn = Callable[[OutboxItem, str], None]


def backoff_delays(config: DeliveryConfig) -> list[float]:
    """The waits between attempts: initial, doubling, capped (one fewer than attempts)."""
    return doubling_delays(config.backoff_initial_s, config.backoff_max_s, config.max_attempts - 1)


class _Worker:
    def __init__(
        self, channel: Channel, config: DeliveryConfig, record: DeliveryLog, on_done: DoneFn | None
    ) -> None:
        self.channel = channel
        self.config = config
        self.record = record
        self.on_done = on_done
        self.queue: deque[OutboxItem] = deque()
        self.cond = threading.Condition()
        self.busy = False
        self.stop = threading.Event()
        self.counts = {"ok": 0, "failed": 0, "dropped": 0, "retries": 0}
        self.thread = threading.Thread(target=self._run, name=f"alerts-{channel.name}", daemon=True)
        self.thread.start()

    def submit(self, item: OutboxItem) -> bool:
        with self.cond:
            if self.stop.is_set() or len(self.queue) >= self.config.queue_size:
                full = True
            else:
                self.queue.append(item)
                self.cond.notify()
                full = False
        if full:
            why = "stopped" if self.stop.is_set() else f"queue full ({self.config.queue_size})"
            self._log(item, 0, "dropped", why, None, 0.0)
            self._finish(item, "dropped")
        return not full

    def idle(self) -> bool:
        with self.cond:
            return not self.queue and not self.busy

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.queue and not self.stop.is_set():
                    self.cond.wait()
                if self.stop.is_set():
                    return
                item = self.queue.popleft()
                self.busy = True
            try:
                self._deliver(item)
            finally:
                with self.cond:
                    self.busy = False
                    self.cond.notify_all()

    def _deliver(self, item: OutboxItem) -> None:
        delays = backoff_delays(self.config)
        note = item["notification"]
        for attempt in range(1, self.config.max_attempts + 1):
            started = time.monotonic()
            try:
                detail = self.channel.send(note, self.config.timeout_s)
            except DeliveryError as exc:
                error, retryable, status = str(exc), exc.retryable, exc.status
            except Exception as exc:  # a channel bug must not kill the worker
                error, retryable, status = f"{type(exc).__name__}: {exc}", False, None
            else:
                self._log(item, attempt, "ok", detail, None, time.monotonic() - started)
                self._finish(item, "ok")
                return
            elapsed = time.monotonic() - started
            last = attempt == self.config.max_attempts or not retryable
            self._log(item, attempt, "failed" if last else "retry", error, status, elapsed)
            if last:
                log.warning(
                    "alert %s not delivered to %s after %d attempt(s): %s",
                    note["id"],
                    self.channel.name,
                    attempt,
                    scrub(error, self.channel.secrets),
                )
                self._finish(item, "failed")
                return
            self.counts["retries"] += 1
            if self.stop.wait(delays[attempt - 1]):
                return  # closing: the item stays in the outbox for the next start

    def _log(
        self,
        item: OutboxItem,
        attempt: int,
        outcome: str,
        detail: str,
        status: int | None,
        seconds: float,
    ) -> None:
        note = item["notification"]
        try:
            self.record.record(
                id=item["id"],
                key=note["key"],
                event=note["event"],
                severity=note["severity"],
                channel=self.channel.name,
                target=self.channel.target,
                attempt=attempt,
                outcome=outcome,
                detail=scrub(detail, self.channel.secrets),
                status=status,
                duration_ms=round(seconds * 1000, 1),
            )
        except OSError as exc:
            log.error("cannot write the delivery log %s: %s", self.record.path, exc)

    def _finish(self, item: OutboxItem, outcome: str) -> None:
        self.counts[outcome] += 1
        if self.on_done is None:
            return
        try:
            self.on_done(item, outcome)
        except Exception:
            log.exception("recording the delivery of %s failed", item["id"])


class Dispatcher:
    """One :class:`_Worker` per channel; see the module docstring."""

    def __init__(
        self,
        channels: Mapping[str, Channel],
        config: DeliveryConfig,
        record: DeliveryLog,
        *,
        on_done: DoneFn | None = None,
    ) -> None:
        self.record = record
        self._workers = {
            name: _Worker(channel, config, record, on_done) for name, channel in channels.items()
        }
        self._on_done = on_done

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self._workers)

    def submit(self, item: OutboxItem) -> bool:
        """Queue one notification for its channel; never blocks. False when dropped."""
        worker = self._workers.get(item["channel"])
        if worker is not None:
            return worker.submit(item)
        note = item["notification"]
        self.record.record(
            id=item["id"],
            key=note["key"],
            event=note["event"],
            severity=note["severity"],
            channel=item["channel"],
            target="",
            attempt=0,
            outcome="dropped",
            detail="channel not configured",
            status=None,
            duration_ms=0.0,
        )
        if self._on_done is not None:
            self._on_done(item, "dropped")
        return False

    def stats(self) -> dict[str, dict[str, int]]:
        """Per channel: ok, failed, dropped, retries, and the channel's own counts if any
        (the alertmanager channel's re-posts and silences)."""
        return {
            name: {**w.counts, **getattr(w.channel, "counts", {})}
            for name, w in self._workers.items()
        }

    def sync(
        self, alerts: list[dict[str, Any]], silences: list[dict[str, Any]], now: float
    ) -> None:
        """Hand this evaluation's open alerts and snoozes to the channels that keep a live
        copy elsewhere (``sync``: Alertmanager). Never raises, never blocks."""
        for name, worker in self._workers.items():
            sync = getattr(worker.channel, "sync", None)
            if sync is None:
                continue
            try:
                sync(alerts, silences, now)
            except Exception:
                log.exception("channel %s: sync failed; the engine goes on", name)

    def drain(self, timeout: float) -> bool:
        """Wait until every queue is empty and no attempt is in flight (True) or timeout."""
        deadline = time.monotonic() + timeout
        for worker in self._workers.values():
            with worker.cond:
                while worker.queue or worker.busy:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    worker.cond.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> bool:
        """Drain for up to ``timeout`` seconds, then stop every worker. True if all drained."""
        drained = self.drain(timeout)
        for worker in self._workers.values():
            with worker.cond:
                worker.stop.set()
                worker.cond.notify_all()
        for worker in self._workers.values():
            worker.thread.join(timeout=max(1.0, worker.config.timeout_s + 1.0))
            close = getattr(worker.channel, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    log.exception("channel %s: close failed", worker.channel.name)
        return drained
