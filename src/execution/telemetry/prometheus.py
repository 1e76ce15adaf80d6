"""Prometheus metrics from execution events: the spec's custom-emitter example made real.

Metrics (prefix ``execution_``):

=====================================  =========  ==========================================
``events_total{kind,symbol,mode}``     counter    every event
``gate_rejections_total{gate}``        counter    gate decisions with ``passed: false``
``intent_to_order_seconds``            histogram  intent -> its order (``intent_id``)
``order_to_fill_seconds``              histogram  order -> its fill (``client_id``)
``slippage_bps``                       histogram  fill price vs the intent's current price,
                                                  positive = worse for the trader (no
                                                  ``_sum``: buckets go below zero)
``latency_pending``                    gauge      intents/orders waiting for a partner
``latency_pairs_evicted_total``        counter    partners given up on (memory bound)
=====================================  =========  ==========================================

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
from src.execution.telemetry.pairing import PairTracker

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

LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
SLIPPAGE_BUCKETS_BPS = (-100.0, -50.0, -25.0, -10.0, -5.0, -2.0, -1.0, 0.0,
                        1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0)  # fmt: skip


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
        self._tracker = PairTracker(pending_max)
        self._lock = threading.Lock()
        self._events = pc.Counter(
            "events", "Execution events by kind, symbol and mode.",
            ["kind", "symbol", "mode"], namespace=ns, registry=reg,
        )  # fmt: skip
        self._rejections = pc.Counter(
            "gate_rejections", "Gate decisions that blocked an intent, by gate.",
            ["gate"], namespace=ns, registry=reg,
        )  # fmt: skip
        self._intent_to_order = pc.Histogram(
            "intent_to_order_seconds", "Time from an intent to its order.",
            namespace=ns, registry=reg, buckets=LATENCY_BUCKETS,
        )  # fmt: skip
        self._order_to_fill = pc.Histogram(
            "order_to_fill_seconds", "Time from an order to its fill.",
            namespace=ns, registry=reg, buckets=LATENCY_BUCKETS,
        )  # fmt: skip
        self._slippage = pc.Histogram(
            "slippage_bps",
            "Fill price against the intent's current price in basis points "
            "(positive: a buy paid more / a sell received less).",
            namespace=ns, registry=reg, buckets=SLIPPAGE_BUCKETS_BPS,
        )  # fmt: skip
        pending = pc.Gauge(
            "latency_pending", "Intents and orders waiting for their order or fill.",
            namespace=ns, registry=reg,
        )  # fmt: skip
        pending.set_function(lambda: self._tracker.pending)
        self._evicted = pc.Counter(
            "latency_pairs_evicted", "Intents/orders forgotten before their partner came.",
            namespace=ns, registry=reg,
        )  # fmt: skip
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
            self._events.labels(event.kind, event.symbol, event.mode).inc()
            payload = event.payload
            if event.kind == "gate" and payload.get("passed") is False:
                self._rejections.labels(str(payload.get("gate_name") or "unknown")).inc()
            with self._lock:
                evicted_before = self._tracker.evicted
                paired = self._tracker.observe(event)
                evicted = self._tracker.evicted - evicted_before
            if evicted:
                self._evicted.inc(evicted)
            if paired is not None:
                if paired.intent_to_order_s is not None:
                    self._intent_to_order.observe(paired.intent_to_order_s)
                if paired.order_to_fill_s is not None:
                    self._order_to_fill.observe(paired.order_to_fill_s)
                if paired.slippage_bps is not None:
                    self._slippage.observe(paired.slippage_bps)
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
            "pending": self._tracker.pending,
            "evicted": self._tracker.evicted,
        }
