"""The dashboard's own Prometheus metrics, in a registry per app (no global state)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RequestMetricsMiddleware", "WebMetrics"]


class WebMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "telemetry_dashboard_requests",
            "HTTP requests served",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "telemetry_dashboard_request_seconds",
            "Request duration",
            ["route"],
            registry=self.registry,
        )
        self.sse_clients = Gauge(
            "telemetry_dashboard_sse_clients", "Connected live clients", registry=self.registry
        )
        self.sse_dropped = Counter(
            "telemetry_dashboard_sse_dropped",
            "Live clients dropped for falling behind",
            registry=self.registry,
        )
        self.sse_events = Counter(
            "telemetry_dashboard_sse_events",
            "Events pushed to live clients",
            registry=self.registry,
        )


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
