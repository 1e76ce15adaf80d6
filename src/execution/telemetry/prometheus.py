"""Prometheus metrics from execution events: the spec's custom-emitter example made real.

The metrics and their names are defined once in :mod:`src.execution.telemetry.metrics_def`
(shared with ``telemetry-metrics`` and the dashboard's ``/metrics``; docs/monitoring.md lists
them): ``execution_events_total{kind,symbol,mode}``, the spec's ``execution_<kind>_total``,
gate evaluations and rejections by gate, the intent->order, order->fill and intent->fill
latency histograms (``_seconds``), slippage in basis points, open orders and the pairing's
bookkeeping.

Each emitter registers into its own ``CollectorRegistry`` unless one is passed in (pass
``prometheus_client.REGISTRY`` to join the process-wide default); no global state, so two
emitters or two tests never collide. Expose them with the built-in HTTP exporter
(``port=``), from a web app via :func:`metrics_payload`, or, for a whole fleet, with the
``telemetry-metrics`` command fed from the Redis stream.

``prometheus_client`` is imported when the emitter is built, not when this module is.
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import TYPE_CHECKING, Any

from src.common.extras import MissingExtraError, missing_message
from src.execution.events import ExecutionEvent
from src.execution.jsontypes import JsonObject
from src.execution.telemetry.base import ExecutionEventEmitter, guarded
from src.execution.telemetry.metrics_def import (
    LATENCY_BUCKETS,
    SLIPPAGE_BUCKETS_BPS,
    ExecutionMetrics,
)

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from src.execution.config import PrometheusConfig

__all__ = [
    "LATENCY_BUCKETS",
    "SLIPPAGE_BUCKETS_BPS",
    "PrometheusEmitter",
    "import_prometheus",
    "metrics_payload",
]


def import_prometheus(what: str = "PrometheusEmitter") -> ModuleType:
    """Import prometheus_client, or raise ``ImportError`` saying which extra installs it."""
    try:
        import prometheus_client
    except ImportError:
        raise MissingExtraError(
            f"{what}: {missing_message('prometheus_client', 'scale')}"
        ) from None
    return prometheus_client


def metrics_payload(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The text exposition of ``registry`` and its content type, for a ``/metrics`` route."""
    prometheus_client = import_prometheus("metrics_payload")
    return prometheus_client.generate_latest(registry), prometheus_client.CONTENT_TYPE_LATEST


class PrometheusEmitter(ExecutionEventEmitter):
    """Count events and observe latencies and slippage into a Prometheus registry.

    ``port`` (``None`` = no server; 0 = any free port, see :attr:`port`) starts
    ``prometheus_client``'s HTTP exporter on ``addr``; ``close()`` stops it.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        namespace: str = "execution",
        pending_max: int = 10_000,
        port: int | None = None,
        addr: str = "127.0.0.1",
        strict: bool = False,
    ) -> None:
        super().__init__(strict=strict)
        pc = import_prometheus()
        self.registry = registry if registry is not None else pc.CollectorRegistry()
        reg, ns = self.registry, namespace
        self.metrics = ExecutionMetrics(pc, reg, namespace=ns, pending_max=pending_max)
        self._server: Any = None
        self._server_thread: threading.Thread | None = None
        self.port: int | None = None
        self.addr = addr
        if port is not None:
            self._server, self._server_thread = pc.start_http_server(port, addr, registry=reg)
            self.port = int(self._server.server_port)

    @classmethod
    def from_config(cls, config: PrometheusConfig) -> PrometheusEmitter:
        """Build from a :class:`~src.execution.config.PrometheusConfig` (port 0 = no server)."""
        return cls(
            pending_max=config.pending_max,
            port=config.port or None,
            addr=config.addr,
        )

    @guarded
    def emit(self, event: ExecutionEvent) -> None:
        if self._closed:
            self._drop("emit after close")
            return
        try:
            self.metrics.observe(event)
        except Exception as exc:
            self._handle_error(exc, "updating metrics")
            return
        self._stats.emitted += 1

    def payload(self) -> tuple[bytes, str]:
        """This emitter's metrics in the text exposition format, and the content type."""
        return metrics_payload(self.registry)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            if self._server_thread is not None:
                self._server_thread.join(5)

    def _name(self) -> str:
        where = f", http://{self.addr}:{self.port}/metrics" if self.port else ""
        return f"PrometheusEmitter({where.lstrip(', ')})"

    def health(self) -> JsonObject:
        return {
            **super().health(),
            "port": self.port,
            "pending": self.metrics.tracker.pending,
            "evicted": self.metrics.tracker.evicted,
            "open_orders": self.metrics.open_orders,
        }
