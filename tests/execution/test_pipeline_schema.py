"""Every payload key the pipeline writes is declared in the schema, in the schema's order."""

from __future__ import annotations

from typing import Any

from src.execution import (
    ExecutionPipeline,
    GateDecision,
    MarketState,
    MaxNotionalGate,
    OrderIntent,
    PaperExecutor,
)
from src.execution.schema import payload_fields
from src.execution.telemetry.testing import capture_events


class ExplodingGate:
    name = "Exploding"

    def check(self, intent: OrderIntent, market: MarketState) -> GateDecision:
        raise RuntimeError("risk service unreachable")


class FailingExecutor:
    def execute(self, order: Any, market_price: float | None) -> Any:
        raise RuntimeError("exchange down")


def every_kind_of_event() -> list[Any]:
    """Intents, gate decisions (passing, blocking, crashing), orders, fills (immediate and
    resting), and both kinds of error event."""
    with capture_events() as sink:
        paper = ExecutionPipeline(PaperExecutor(), sink, gates=[MaxNotionalGate(1_000)])
        paper.update_price("BTC-USD", 100.0)
        paper.submit_order(OrderIntent(symbol="BTC-USD", side="buy", quantity=1.0))
        paper.submit_order(OrderIntent(symbol="BTC-USD", side="buy", quantity=50.0))
        paper.submit_order(OrderIntent(symbol="BTC-USD", side="sell", quantity=-1.0))
        paper.submit_order(
            OrderIntent(
                symbol="BTC-USD", side="sell", quantity=1.0, order_type="limit", limit_price=120.0
            )
        )
        paper.update_price("BTC-USD", 125.0)
        ExecutionPipeline(PaperExecutor(), sink, gates=[ExplodingGate()]).submit_order(
            OrderIntent(symbol="ETH-USD", side="buy", quantity=1.0, current_price=10.0)
        )
        ExecutionPipeline(FailingExecutor(), sink).submit_order(
            OrderIntent(symbol="ETH-USD", side="buy", quantity=1.0, current_price=10.0)
        )
    return list(sink.events)


def test_every_key_the_pipeline_writes_is_declared_in_order():
    """A key the pipeline starts writing must first be declared in src/execution/schema.py
    (then every reader knows it), and keys are written in the declared order (the order the
    lean decoders try first)."""
    events = every_kind_of_event()
    assert {e.kind for e in events} == {"intent", "gate", "order", "fill", "error"}
    stages = {e.payload["stage"] for e in events if e.kind == "error"}
    assert stages == {"gate", "execute"}
    for event in events:
        declared = [spec.name for spec in payload_fields(event.kind)]
        written = list(event.payload)
        undeclared = [k for k in written if k not in declared]
        assert not undeclared, f"{event.kind} writes undeclared keys {undeclared}"
        assert written == [k for k in declared if k in written], event.kind
