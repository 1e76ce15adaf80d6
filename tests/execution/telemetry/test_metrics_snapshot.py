"""A snapshot of the execution metrics restores their values and their future exactly."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import msgspec
import prometheus_client
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from src.execution.events import ExecutionEvent
from src.execution.telemetry.metrics_def import ExecutionMetrics
from src.execution.telemetry.metrics_snapshot import MetricsSnapshot

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SMALL = {"pending_max": 4, "symbols_max": 2, "gates_max": 2}  # caps and evictions reached


def _events(seed: int, n: int) -> list[ExecutionEvent]:
    """Intents, gates, orders, fills, cancels and errors, interleaved and partly unpaired."""
    rnd = random.Random(seed)
    out: list[ExecutionEvent] = []
    for i in range(n):
        k = rnd.randrange(40)
        sym = f"S{k % 5}"
        kind = rnd.choice(["intent", "gate", "order", "fill", "cancel", "error", "ack"])
        payload: dict[str, object] = {"intent_id": f"i{k}", "client_id": f"c{k}", "side": "buy"}
        if kind == "intent":
            payload["current_price"] = 100.0 + k
        elif kind == "gate":
            payload.update(gate_name=f"G{k % 4}", passed=k % 3 != 0)
        elif kind == "fill":
            payload["fill_price"] = 100.0 + k + rnd.uniform(-0.5, 0.5)
        elif kind == "error":
            payload["stage"] = "execute"
        mono = None if rnd.random() < 0.2 else 10**9 + i * 3_000_000
        out.append(ExecutionEvent(ts=T0 + timedelta(microseconds=i * 2_500 + rnd.randrange(7)),
                                  session_id="s", symbol=sym, mode="paper", kind=kind,
                                  payload=payload, mono_ns=mono))  # fmt: skip
    return out


def _metrics() -> tuple[ExecutionMetrics, CollectorRegistry]:
    registry = CollectorRegistry()
    return ExecutionMetrics(prometheus_client, registry, **SMALL), registry


@pytest.mark.parametrize("seed", range(6))
def test_restored_metrics_expose_the_same_and_go_on_the_same(seed):
    events = _events(seed, 300)
    cut = len(events) // 3 + seed * 17
    original, reg_a = _metrics()
    for e in events[:cut]:
        original.observe(e)
    snap = msgspec.msgpack.decode(msgspec.msgpack.encode(original.snapshot()), type=MetricsSnapshot)
    restored, reg_b = _metrics()
    restored.restore(snap)
    assert generate_latest(reg_b) == generate_latest(reg_a)
    assert original.tracker.evicted > 0
    for e in events[cut:]:
        original.observe(e)
        restored.observe(e)
    # (series first seen after the cut are created a few microseconds apart in the two)
    assert _values(reg_b) == _values(reg_a)


def _values(registry: CollectorRegistry) -> list[str]:
    text = generate_latest(registry).decode()
    return [line for line in text.splitlines() if "_created" not in line.split(" ")[0]]


def test_a_snapshot_past_the_bounds_is_refused():
    original, _ = _metrics()
    for e in _events(1, 100):
        original.observe(e)
    snap = original.snapshot()
    for bad in (
        msgspec.structs.replace(snap, symbols=["a", "b", "c"]),
        msgspec.structs.replace(snap, open_orders=[f"c{n}" for n in range(5)]),
        msgspec.structs.replace(snap, intents=snap.intents * 5),
        msgspec.structs.replace(snap, series={"open_orders": []}),
    ):
        with pytest.raises(ValueError):
            _metrics()[0].restore(bad)
