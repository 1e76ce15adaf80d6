"""The dashboard's Prometheus metrics, in a registry per app (no global state).

Two groups at ``/metrics``:

* the dashboard's own (``telemetry_dashboard_*``): requests by route template and status,
  request duration, live-feed clients, and the log lines it read by outcome;
* the execution metrics (``execution_*``) of the session logs under ``base_path``, built by
  :class:`~src.execution.telemetry.metrics_def.ExecutionMetrics`, the one definition the
  trading process and ``telemetry-metrics`` use too, so the names agree. Each scrape first
  reads what was appended to every session since the previous one (the query layer's
  follower, in its no-repeat mode: retention compressing a file does not count it twice),
  so counters start from what the logs hold when the dashboard starts.
"""

from __future__ import annotations

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

__all__ = ["LogMetrics", "RequestMetricsMiddleware", "WebMetrics"]


class LogMetrics:
    """A collector: the execution metrics of the logs under ``base``, brought up to date
    when scraped. Sessions that disappear (retired) are forgotten; their counts stay."""

    def __init__(self, base: Path) -> None:
        self.base = base
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
        self._followers: dict[str, SessionFollower] = {}
        self._lock = threading.Lock()

    def refresh(self) -> None:
        with self._lock:
            seen: set[str] = set()
            for listed in list_sessions(self.base):
                sid = listed.session_id
                seen.add(sid)
                follower = self._followers.get(sid)
                if follower is None:
                    follower = self._followers[sid] = SessionFollower(self.base, sid, resume=True)
                for item in follower.poll(listed=listed):
                    if isinstance(item, (Reset, Unreadable)):
                        continue
                    self._observe(item[2])
            for sid in [sid for sid in self._followers if sid not in seen]:
                self._followers.pop(sid).close()

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
        self.refresh()
        yield from self._inner.collect()


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
