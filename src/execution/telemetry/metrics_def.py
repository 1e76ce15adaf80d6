"""The execution metrics, defined once: names, help, labels, buckets and how events update them.

Every exporter of execution metrics builds them through :class:`ExecutionMetrics`: the
trading process's :class:`~src.execution.telemetry.PrometheusEmitter`, the fleet exporter
``telemetry-metrics`` (fed by the Redis stream) and the dashboard's ``/metrics`` (fed by the
session logs). So the three agree on every name, and the rules in ``deploy/prometheus/`` and
the Grafana dashboard in ``deploy/grafana/`` name only what is defined here (a test checks).

Prometheus conventions: base units in names (``_seconds``), counters end in ``_total``,
latencies are histograms whose buckets bracket execution latencies (0.1 ms to 60 s, with the
alert thresholds 0.5 s and 10 s as bucket edges so the quantile rules are exact there).
No label takes an unbounded set of values: ``kind`` and ``mode`` come from the schema;
``symbol`` and ``gate`` keep the first :data:`SYMBOL_LABELS_MAX` / :data:`GATE_LABELS_MAX`
values seen and report the rest as ``other`` (documented in docs/monitoring.md). Session
and order ids are never labels.

``execution_<kind>_total`` (one counter per kind, no labels) are the names the spec's
custom-emitter example shows; ``execution_events_total{kind,symbol,mode}`` carries the same
counts with labels and is what the shipped rules use.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from src.execution.events import ExecutionEvent
from src.execution.schema import KINDS, TERMINAL_KINDS
from src.execution.telemetry.metrics_snapshot import MetricsSnapshot, SeriesValue
from src.execution.telemetry.pairing import PairTracker

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = [
    "GATE_LABELS_MAX",
    "LATENCY_BUCKETS",
    "METRICS",
    "NAMESPACE",
    "OTHER",
    "SLIPPAGE_BUCKETS_BPS",
    "SYMBOL_LABELS_MAX",
    "ExecutionMetrics",
    "LabelCap",
    "MetricDef",
    "exported_series",
]

NAMESPACE = "execution"
OTHER = "other"  # the label value of everything past a label's cap
SYMBOL_LABELS_MAX = 200
GATE_LABELS_MAX = 50

LATENCY_BUCKETS: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
SLIPPAGE_BUCKETS_BPS: tuple[float, ...] = (
    -100.0, -50.0, -25.0, -10.0, -5.0, -2.0, -1.0, 0.0, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0,
)  # fmt: skip


class MetricDef:
    """One metric: its name without the namespace (counters without ``_total``, which the
    client library appends), type, help and labels."""

    __slots__ = ("buckets", "help", "labels", "name", "type")

    def __init__(
        self,
        name: str,
        type: str,
        help: str,
        labels: tuple[str, ...] = (),
        buckets: tuple[float, ...] = (),
    ) -> None:
        self.name, self.type, self.help = name, type, help
        self.labels, self.buckets = labels, buckets

    def full_name(self, namespace: str = NAMESPACE) -> str:
        return f"{namespace}_{self.name}"


_LEGS = {
    "intent_to_order": "an intent to its order",
    "order_to_fill": "an order to its (complete) fill",
    "intent_to_fill": "an intent to its order's (complete) fill",
}

METRICS: tuple[MetricDef, ...] = (
    MetricDef("events", "counter", "Execution events by kind, symbol and mode.",
              ("kind", "symbol", "mode")),
    *(
        MetricDef(kind, "counter", f"Execution events of kind {kind} (the spec's name).")
        for kind in KINDS
    ),
    MetricDef("gate_evaluations", "counter", "Gate decisions, by gate.", ("gate",)),
    MetricDef("gate_rejections", "counter", "Gate decisions that blocked an intent, by gate.",
              ("gate",)),
    *(
        MetricDef(f"{leg}_seconds", "histogram", f"Time from {what}.", (), LATENCY_BUCKETS)
        for leg, what in _LEGS.items()
    ),
    MetricDef("slippage_bps", "histogram",
              "Fill price against the intent's current price in basis points "
              "(positive: a buy paid more / a sell received less).", (), SLIPPAGE_BUCKETS_BPS),
    MetricDef("open_orders", "gauge",
              "Orders seen without a terminal event yet (fill, cancel, expire, reject, "
              "execute-stage error)."),
    MetricDef("latency_pending", "gauge", "Intents and orders waiting for their order or fill."),
    MetricDef("latency_pairs_evicted", "counter",
              "Intents/orders forgotten before their partner came (memory bound)."),
)  # fmt: skip


def exported_series(namespace: str = NAMESPACE) -> dict[str, tuple[str, ...]]:
    """Every series name the execution metrics expose, with its labels (histograms: the
    ``_bucket`` series has ``le`` too). For checking rules and dashboards against."""
    out: dict[str, tuple[str, ...]] = {}
    for m in METRICS:
        name = m.full_name(namespace)
        if m.type == "counter":
            out[f"{name}_total"] = m.labels
        elif m.type == "histogram":
            out[f"{name}_bucket"] = (*m.labels, "le")
            out[f"{name}_count"] = m.labels
            if m.buckets[0] >= 0:  # the client leaves _sum out when buckets go below zero
                out[f"{name}_sum"] = m.labels
        else:
            out[name] = m.labels
    return out


class LabelCap:
    """The first ``limit`` distinct values pass; later new ones become ``other``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) < self.limit:
            self._seen.add(value)
            return value
        return OTHER

    @property
    def admitted(self) -> list[str]:
        """The values that pass as themselves, sorted (for a snapshot)."""
        return sorted(self._seen)

    def restore(self, values: list[str]) -> None:
        if len(values) > self.limit:
            raise ValueError(f"invalid label cap: {len(values)} values over {self.limit}")
        self._seen = set(values)


class ExecutionMetrics:
    """The metrics of :data:`METRICS` in ``registry``, updated by :meth:`observe`.

    ``pc`` is the imported ``prometheus_client`` (the caller imports it, so this module
    does not need it installed). ``pending_max`` bounds the latency pairing and the set of
    open orders. Thread-safe; :meth:`observe` raises nothing it can avoid, but callers on
    the order path still guard it.
    """

    def __init__(
        self,
        pc: ModuleType,
        registry: CollectorRegistry,
        *,
        namespace: str = NAMESPACE,
        pending_max: int = 10_000,
        symbols_max: int = SYMBOL_LABELS_MAX,
        gates_max: int = GATE_LABELS_MAX,
    ) -> None:
        self.registry = registry
        self.tracker = PairTracker(pending_max)
        self.pending_max = pending_max
        self._open: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._symbol = LabelCap(symbols_max)
        self._gate = LabelCap(gates_max)
        self._m: dict[str, Any] = {}
        for m in METRICS:
            cls = {"counter": pc.Counter, "histogram": pc.Histogram, "gauge": pc.Gauge}[m.type]
            extra: dict[str, Any] = {"buckets": m.buckets} if m.buckets else {}
            self._m[m.name] = cls(
                m.name, m.help, list(m.labels), namespace=namespace, registry=registry, **extra
            )
        self._by_kind = {kind: self._m[kind] for kind in KINDS}
        # Labelled children by label values: labels() costs more than the increment. Bounded
        # by the label caps (kinds x capped symbols x modes; capped gates).
        self._event_children: dict[tuple[str, str, str], Any] = {}
        self._gate_children: dict[str, tuple[Any, Any]] = {}
        self._legs = tuple(
            self._m[name]
            for name in (
                "intent_to_order_seconds",
                "order_to_fill_seconds",
                "intent_to_fill_seconds",
                "slippage_bps",
            )
        )
        self._m["open_orders"].set_function(lambda: len(self._open))
        self._m["latency_pending"].set_function(lambda: self.tracker.pending)

    @property
    def open_orders(self) -> int:
        return len(self._open)

    def observe(self, event: ExecutionEvent) -> None:
        kind, payload = event.kind, event.payload
        key = (kind, event.symbol, event.mode)
        child = self._event_children.get(key)
        if child is None:
            labels = (kind, self._symbol(event.symbol), event.mode)
            child = self._event_children[key] = self._m["events"].labels(*labels)
        child.inc()
        per_kind = self._by_kind.get(kind)
        if per_kind is not None:
            per_kind.inc()
        if kind == "gate":
            name = str(payload.get("gate_name") or "unknown")
            gate = self._gate_children.get(name)
            if gate is None:
                capped = self._gate(name)
                gate = self._gate_children[name] = (
                    self._m["gate_evaluations"].labels(capped),
                    self._m["gate_rejections"].labels(capped),
                )
            gate[0].inc()
            if payload.get("passed") is not True:  # gates fail closed
                gate[1].inc()
        with self._lock:
            self._track_open(kind, payload)
            evicted_before = self.tracker.evicted
            paired = self.tracker.observe(event)
            evicted = self.tracker.evicted - evicted_before
        if evicted:
            self._m["latency_pairs_evicted"].inc(evicted)
        if paired is not None:
            values = (
                paired.intent_to_order_s,
                paired.order_to_fill_s,
                paired.intent_to_fill_s,
                paired.slippage_bps,
            )
            for histogram, value in zip(self._legs, values, strict=True):
                if value is not None:
                    histogram.observe(value)

    def snapshot(self) -> MetricsSnapshot:
        """Everything the metrics' values and future depend on (see
        :mod:`~src.execution.telemetry.metrics_snapshot`). Not atomic against a concurrent
        :meth:`observe`: the caller holds off observing while it takes one."""
        series: dict[str, list[SeriesValue]] = {}
        for m in METRICS:
            if m.type == "gauge":
                continue  # the gauges are functions of the tracker and the open orders
            metric = self._m[m.name]
            children = list(metric._metrics.items()) if m.labels else [((), metric)]
            series[m.name] = [
                SeriesValue(tuple(labels), _values(m.type, child), float(child._created))
                for labels, child in children
            ]
        with self._lock:
            intents, orders = self.tracker.pending_entries()
            return MetricsSnapshot(
                series,
                self._symbol.admitted,
                self._gate.admitted,
                intents,
                orders,
                self.tracker.evicted,
                list(self._open),
            )

    def restore(self, snap: MetricsSnapshot) -> None:
        """Take ``snap``'s values as these (fresh, never observed) metrics' own.
        ``ValueError`` names what does not fit (then build fresh metrics again)."""
        defs = {m.name: m for m in METRICS}
        for name, values in snap.series.items():
            m = defs.get(name)
            if m is None or m.type == "gauge":
                raise ValueError(f"invalid metric {name!r} in a snapshot")
            metric = self._m[name]
            for sv in values:
                if len(sv.labels) != len(m.labels):
                    raise ValueError(f"invalid labels {sv.labels!r} for {name}")
                _set_values(m, metric.labels(*sv.labels) if m.labels else metric, sv)
        self._symbol.restore(snap.symbols)
        self._gate.restore(snap.gates)
        if len(snap.open_orders) > self.pending_max:
            raise ValueError(f"invalid open orders: {len(snap.open_orders)} over the bound")
        if max(len(snap.intents), len(snap.orders)) > self.tracker.max_pending:
            raise ValueError("invalid pending intents/orders: over the bound")
        with self._lock:
            self.tracker.restore(snap.intents, snap.orders, snap.evicted)
            self._open = OrderedDict.fromkeys(snap.open_orders)

    def _track_open(self, kind: str, payload: Mapping[str, object]) -> None:
        client_id = payload.get("client_id")
        if not isinstance(client_id, str):
            return
        if kind == "order":
            self._open[client_id] = None
            self._open.move_to_end(client_id)
            while len(self._open) > self.pending_max:
                self._open.popitem(last=False)
        elif kind in TERMINAL_KINDS or (kind == "error" and payload.get("stage") == "execute"):
            self._open.pop(client_id, None)


# The client library has no public setter for a histogram's buckets (nor a counter's value
# and creation time): a snapshot reads and restores its value holders directly. Pinned by
# tests/webui/test_metrics_restart.py (restored metrics expose what the originals did).
def _values(kind: str, child: Any) -> list[float]:
    if kind == "counter":
        return [float(child._value.get())]
    return [float(b.get()) for b in child._buckets] + [float(child._sum.get())]


def _set_values(m: MetricDef, child: Any, sv: SeriesValue) -> None:
    want = 1 if m.type == "counter" else len(m.buckets) + 2  # buckets, +Inf, sum
    if len(sv.values) != want or not all(v == v and abs(v) != float("inf") for v in sv.values):
        raise ValueError(f"invalid values for {m.name}{sv.labels!r}")
    if m.type == "counter":
        if sv.values[0] < 0:
            raise ValueError(f"invalid negative counter {m.name}{sv.labels!r}")
        child._value.set(sv.values[0])
    else:
        if any(v < 0 for v in sv.values[:-1]):
            raise ValueError(f"invalid negative bucket count {m.name}{sv.labels!r}")
        for bucket, value in zip(child._buckets, sv.values, strict=False):
            bucket.set(value)
        child._sum.set(sv.values[-1])
    child._created = sv.created
