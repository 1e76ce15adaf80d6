"""The execution metrics' one definition: every kind counted, open orders, capped labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import prometheus_client
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from src.execution.events import ExecutionEvent
from src.execution.schema import KINDS
from src.execution.telemetry.metrics_def import OTHER, ExecutionMetrics, exported_series

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def event(kind: str, ms: int = 0, symbol: str = "BTC-USD", **payload: object) -> ExecutionEvent:
    return ExecutionEvent(ts=T0 + timedelta(milliseconds=ms), session_id="s1", symbol=symbol,
                          mode="paper", kind=kind, payload=payload)  # fmt: skip


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_every_kind_of_the_schema_has_its_spec_counter_and_the_labelled_one():
    registry = CollectorRegistry()
    metrics = ExecutionMetrics(prometheus_client, registry)
    for kind in KINDS:
        metrics.observe(event(kind, client_id="c1"))
    s = samples(registry)
    for kind in KINDS:
        assert s[(f"execution_{kind}_total", ())] == 1
        labels = (("kind", kind), ("mode", "paper"), ("symbol", "BTC-USD"))
        assert s[("execution_events_total", labels)] == 1
    exposed = {name for name, _ in s}
    assert exposed - {n for n in exposed if n.endswith("_created")} <= set(exported_series())


def test_open_orders_are_orders_without_a_terminal_event_and_intent_to_fill_is_timed():
    registry = CollectorRegistry()
    metrics = ExecutionMetrics(prometheus_client, registry)
    metrics.observe(event("intent", 0, intent_id="i1", side="buy", current_price=100.0))
    for n, end in enumerate(("fill", "cancel", "expire", "reject", None, None)):
        metrics.observe(event("order", 10, client_id=f"c{n}", intent_id="i1" if n == 0 else None))
        metrics.observe(event("partial_fill", 20, client_id=f"c{n}"))
        if end is not None:
            metrics.observe(event(end, 250, client_id=f"c{n}", side="buy", fill_price=100.0))
    metrics.observe(event("error", 300, client_id="c4", stage="execute"))
    s = samples(registry)
    assert s[("execution_open_orders", ())] == 1  # c5 only
    assert s[("execution_intent_to_fill_seconds_count", ())] == 1
    assert s[("execution_intent_to_fill_seconds_bucket", (("le", "0.25"),))] == 1
    assert s[("execution_intent_to_fill_seconds_bucket", (("le", "0.1"),))] == 0
    assert s[("execution_latency_pending", ())] == 1  # c5 waits; ended orders are not pending


def test_symbols_and_gates_past_their_cap_are_reported_as_other():
    registry = CollectorRegistry()
    metrics = ExecutionMetrics(prometheus_client, registry, symbols_max=2, gates_max=1)
    for n in range(5):
        metrics.observe(event("intent", symbol=f"SYM{n}"))
        metrics.observe(event("gate", symbol=f"SYM{n}", gate_name=f"G{n}", passed=n % 2 == 0))
    s = samples(registry)
    symbols = {dict(k[1])["symbol"] for k in s if k[0] == "execution_events_total"}
    assert symbols == {"SYM0", "SYM1", OTHER}
    assert s[("execution_gate_evaluations_total", (("gate", "G0"),))] == 1
    assert s[("execution_gate_evaluations_total", (("gate", OTHER),))] == 4
    assert s[("execution_gate_rejections_total", (("gate", OTHER),))] == 2
