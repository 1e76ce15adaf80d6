"""The dashboard's own Prometheus metrics, in a registry per app (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["WebMetrics"]


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
