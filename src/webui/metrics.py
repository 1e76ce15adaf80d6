"""The dashboard's Prometheus metrics, in a registry per app (no global state).

Two groups at ``/metrics``:

* the dashboard's own (``telemetry_dashboard_*``): requests by route template and status,
  request duration, live-feed clients, and the log lines it read by outcome;
* the execution metrics (``execution_*``) of the session logs under ``base_path``, built by
  :class:`~src.execution.telemetry.metrics_def.ExecutionMetrics`, the one definition the
  trading process and ``telemetry-metrics`` use too, so the names agree. Each scrape first
  reads what was appended to every session since the previous one (the query layer's
  follower, in its no-repeat mode: retention compressing a file does not count it twice).
  The first scrape ever folds what the logs hold; its state is saved next to the logs
  (:mod:`src.webui.metrics_state`), so after a restart the counters go on from the saved
  values and only what was appended since is read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from src.execution.events import ExecutionEvent
from src.execution.telemetry.metrics_def import ExecutionMetrics
from src.query.files import list_sessions
from src.query.follow import Reset, SessionFollower, Unreadable
from src.query.records import decode_record
from src.webui.metrics_state import Followed, Loaded, MetricsState, load_state, save_state

log = logging.getLogger("src.webui.metrics")

__all__ = [
    "RESTARTED_FRESH",
    "SAVE_EVERY_S",
    "SCRAPE_WAIT_S",
    "LogMetrics",
    "RequestMetricsMiddleware",
    "WebMetrics",
]

RESTARTED_FRESH = (
    "telemetry_dashboard_request",
    "telemetry_dashboard_sse",
    "telemetry_dashboard_metrics_state",
    "telemetry_dashboard_metrics_read_failures",
)
"""Name prefixes of the dashboard's own series about its own process, which a restart starts
afresh by design (every other series goes on from the saved state)."""

SAVE_EVERY_S = 60.0
"""The /metrics state is saved at most this often while the logs grow (and at shutdown):
a dashboard killed without a shutdown re-reads at most this long's appended lines."""

SCRAPE_WAIT_S = 5.0
"""A scrape waits at most this long for the logs to be read (half Prometheus' default
scrape timeout). A longer read - a first fold, a rebuild, a long catch-up - goes on in the
background: until the first one completes the scrape answers without the ``execution_*``
series (so no partial counts are exposed), later ones with the values as far as read."""
_IDLE_S = 60.0  # the reading thread ends after this long without a scrape


class LogMetrics:
    """A collector: the execution metrics of the logs under ``base``, brought up to date
    when scraped. Sessions that disappear (retired) are forgotten; their counts stay.

    Its state is saved next to the logs (:mod:`src.webui.metrics_state`) after the first
    fold, then at most every ``save_every_s`` seconds while it changes, and by
    :meth:`close`; a new dashboard starts from it (the counters go on from the saved
    values, their creation times kept: no reset) and reads only what was appended since.
    A missing, damaged or outdated state, or one whose log files were rewritten, is
    counted and the logs are folded again.

    The logs are read by a thread of its own, which a scrape wakes and waits for at most
    ``wait_s`` seconds (see :data:`SCRAPE_WAIT_S`)."""

    def __init__(
        self,
        base: Path,
        *,
        save_every_s: float = SAVE_EVERY_S,
        persist: bool = True,
        wait_s: float = SCRAPE_WAIT_S,
    ) -> None:
        self.base = base
        self.save_every_s = save_every_s
        self.persist = persist  # False: neither load nor save a state (memory only)
        self.wait_s = wait_s
        self._own = CollectorRegistry(auto_describe=False)
        self._loads = Counter(
            "telemetry_dashboard_metrics_state_loads",
            "Saved /metrics states looked for at start, by outcome (restored; missing; "
            "invalid: damaged or another version; changed: a log file was rewritten).",
            ["outcome"],
            registry=self._own,
        )
        self._saves = Counter(
            "telemetry_dashboard_metrics_state_saves",
            "Saves of the /metrics state, by outcome (saved; skipped: read-only or busy "
            "root, a file changing meanwhile, or an error).",
            ["outcome"],
            registry=self._own,
        )
        self._read_failures = Counter(
            "telemetry_dashboard_metrics_read_failures",
            "Reads of the logs for the execution_* series that failed part way (logged; the "
            "next scrape reads again, and execution_* stay hidden until one completes).",
            registry=self._own,
        )
        for outcome in ("restored", "missing", "invalid", "changed"):
            self._loads.labels(outcome)
        for outcome in ("saved", "skipped"):
            self._saves.labels(outcome)
        self._ready_gauge = Gauge(
            "telemetry_dashboard_execution_metrics_ready",
            "1 once the logs were read to their end since the dashboard started (the "
            "execution_* series are exposed from then on), 0 while a first read goes on.",
            registry=self._own,
        )
        self._fresh()
        self._followers: dict[str, SessionFollower] = {}
        self._lock = threading.Lock()  # held while reading, restoring or saving
        self._loaded = False
        self._dirty = False
        self._saved_at: float | None = None
        # The reading thread: scrapes ask for a read (generation ``_wanted``) and wait
        # for ``_done`` to reach it.
        self._cond = threading.Condition()
        self._worker: threading.Thread | None = None
        self._wanted = 0
        self._done = 0
        self._ready = False
        self._closing = False
        self._interrupted = False  # a read stopped midway: its state is never saved

    def _fresh(self) -> None:
        self._inner = CollectorRegistry(auto_describe=False)
        # In the inner registry: collected after the refresh that counts them.
        self._lines = Counter(
            "telemetry_dashboard_log_lines",
            "Session log lines read for the execution metrics, by outcome (valid, invalid).",
            ["outcome"],
            registry=self._inner,
        )
        for outcome in ("valid", "invalid"):
            self._lines.labels(outcome)
        self.metrics = ExecutionMetrics(prometheus_client, self._inner)

    def refresh(self) -> None:
        """Read what was appended since the last read (the first one: restore the saved
        state or fold the logs), in the calling thread."""
        with self._lock:
            if self._interrupted:
                return
            if not self._loaded:
                self._loaded = True
                if self.persist:
                    self._load()
            seen: set[str] = set()
            for listed in list_sessions(self.base):
                sid = listed.session_id
                seen.add(sid)
                follower = self._followers.get(sid)
                if follower is None:
                    follower = self._followers[sid] = SessionFollower(self.base, sid, resume=True)
                    self._dirty = True
                for item in follower.poll(listed=listed):
                    if self._closing:  # shutting down: leave the rest, save nothing
                        self._interrupted = True
                        return
                    self._dirty = True
                    if isinstance(item, (Reset, Unreadable)):
                        continue
                    self._observe(item[2])
            for sid in [sid for sid in self._followers if sid not in seen]:
                self._followers.pop(sid).close()
                self._dirty = True
            if self.persist and self._dirty and self._save_due():
                self._save()

    def _save_due(self) -> bool:
        last = self._saved_at
        return last is None or time.monotonic() - last >= self.save_every_s

    def close(self) -> None:
        """At shutdown: stop reading (a read midway is abandoned, its state not saved)
        and save what changed since the last save; never raises."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        with self._lock:
            if self.persist and self._loaded and self._dirty and not self._interrupted:
                self._save()
            for follower in self._followers.values():
                follower.close()

    def _read_now(self) -> bool:
        """Have the reading thread read the logs, waiting at most ``wait_s``; whether a
        read has completed since the start (then the execution series are exposed)."""
        with self._cond:
            if self._closing:
                return self._ready
            self._wanted += 1
            target = self._wanted
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._work, name="metrics-log-reader", daemon=True
                )
                self._worker.start()
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._done >= target, timeout=self.wait_s)
            return self._ready

    def _work(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._wanted > self._done or self._closing, _IDLE_S)
                if self._closing or self._wanted <= self._done:
                    self._worker = None  # idle (or closing): a later scrape starts another
                    return
                target = self._wanted
            try:
                self.refresh()
                failed = False
            except Exception:  # a scrape never fails for the logs: the values as they were
                failed = True
                self._read_failures.inc()
                log.exception("reading the session logs for /metrics failed")
            with self._cond:
                self._done = target
                if not self._interrupted and not failed:
                    self._ready = True
                self._cond.notify_all()

    def _load(self) -> None:
        try:
            loaded = load_state(self.base)
            if loaded.state is not None and loaded.files is not None:
                self._restore(loaded.state, loaded.files)
        except Exception:  # a state that decodes but does not fit: count it, fold again
            loaded = Loaded("invalid")
            self._fresh()
            for follower in self._followers.values():
                follower.close()
            self._followers = {}
        self._loads.labels(loaded.outcome).inc()

    def _restore(self, state: MetricsState, files: dict[str, list[Followed]]) -> None:
        self.metrics.restore(state.metrics)
        for outcome, (value, created) in state.lines.items():
            if outcome not in ("valid", "invalid") or not value >= 0:
                raise ValueError(f"invalid log line count {outcome!r}")
            child = self._lines.labels(outcome)
            child.inc(value)
            child._created = created  # kept: the counter goes on, no reset
        for sid, followed in files.items():
            follower = self._followers[sid] = SessionFollower(self.base, sid, resume=True)
            follower.adopt(followed)
        self._saved_at = time.monotonic()

    def _save(self) -> None:
        try:
            children = {outcome: self._lines.labels(outcome) for outcome in ("valid", "invalid")}
            # The client has no public reader of a counter's value and creation time.
            lines = {o: (c._value.get(), c._created) for o, c in children.items()}
            followed = {sid: f.followed() for sid, f in self._followers.items()}
            saved = save_state(self.base, self.metrics.snapshot(), lines, followed)
        except Exception:  # the scrape goes on; the next save tries again
            saved = False
        self._saves.labels("saved" if saved else "skipped").inc()
        self._saved_at = time.monotonic()
        if saved:
            self._dirty = False

    def _observe(self, line: bytes) -> None:
        record = decode_record(line)
        try:
            event = ExecutionEvent.from_dict(record.data) if record is not None else None
        except (ValueError, TypeError, KeyError):
            event = None
        if event is None:
            self._lines.labels("invalid").inc()
            return
        self._lines.labels("valid").inc()
        self.metrics.observe(event)

    def collect(self) -> Iterator[Any]:
        try:
            ready = self._read_now()
        except Exception:  # no thread to be had: the values as far as read
            ready = self._ready
        self._ready_gauge.set(1 if ready else 0)
        if ready:
            yield from self._inner.collect()
        yield from self._own.collect()


class WebMetrics:
    """``base``: the log root whose sessions the ``execution_*`` metrics count (``None``:
    the dashboard's own metrics only)."""

    def __init__(self, base: Path | None = None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "telemetry_dashboard_requests",
            "HTTP requests served, by route template and status.",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "telemetry_dashboard_request_duration_seconds",
            "Time to the start of the response, by route template.",
            ["route"],
            registry=self.registry,
        )
        self.sse_clients = Gauge(
            "telemetry_dashboard_sse_clients", "Connected live clients.", registry=self.registry
        )
        self.sse_dropped = Counter(
            "telemetry_dashboard_sse_clients_dropped",
            "Live clients dropped for falling behind.",
            registry=self.registry,
        )
        self.sse_events = Counter(
            "telemetry_dashboard_sse_events",
            "Events pushed to live clients.",
            registry=self.registry,
        )
        self.logs: LogMetrics | None = None
        if base is not None:
            self.logs = LogMetrics(base)
            self.registry.register(self.logs)

    def close(self) -> None:
        """At shutdown: save the /metrics state (see :class:`LogMetrics`)."""
        if self.logs is not None:
            self.logs.close()


class RequestMetricsMiddleware:
    """Counts requests by route template and status, and times them up to the response
    start (for a stream: until its headers are sent, not for the stream's whole life).

    Plain ASGI rather than ``BaseHTTPMiddleware``, which costs an extra task and memory
    stream per request."""

    def __init__(self, app: ASGIApp, metrics: WebMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answered = False

        async def send_and_observe(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
                self._observe(scope, message["status"], time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_and_observe)
        except BaseException:
            if not answered:  # the server answers 500 for an app that raised
                self._observe(scope, 500, time.perf_counter() - started)
            raise

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        # The router records the matched route in the (shared) scope before calling it.
        route = getattr(scope.get("route"), "path", "unmatched")
        self.metrics.requests.labels(route, str(status)).inc()
        self.metrics.latency.labels(route).observe(seconds)
