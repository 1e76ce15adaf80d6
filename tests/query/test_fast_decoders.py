"""Every line our own pipeline writes (and a replayed copy of it) takes the fast decoders.

The lean decoders forbid keys they do not declare, so a key the pipeline starts writing
without declaring it there silently sends every such line to the slow path: counts stay
right, scans get slower. This pins the declared keys to what the pipeline really writes.
"""

from __future__ import annotations

import msgspec

from src.execution import (
    ExecutionPipeline,
    MaxNotionalGate,
    OrderIntent,
    PaperExecutor,
    PriceSanityGate,
)
from src.execution.events import copy_of
from src.execution.serialization import encode_event_line
from src.execution.telemetry.testing import capture_events
from src.query import records, scan_events


def pipeline_events():
    with capture_events() as sink:
        pipeline = ExecutionPipeline(
            executor=PaperExecutor(slippage_bps=2, fee_bps=1),
            emitter=sink,
            gates=[PriceSanityGate(500), MaxNotionalGate(1_000)],
            mode="paper",
        )
        pipeline.update_price("BTC-USD", 100.0)
        pipeline.submit_order(OrderIntent(symbol="BTC-USD", side="buy", quantity=1.0))  # fills
        pipeline.submit_order(OrderIntent(symbol="BTC-USD", side="buy", quantity=50.0))  # notional
        pipeline.submit_order(OrderIntent(symbol="BTC-USD", side="sell", quantity=-1.0))  # invalid
        pipeline.submit_order(
            OrderIntent(
                symbol="BTC-USD", side="sell", quantity=1.0, order_type="limit", limit_price=120.0
            )
        )  # rests
        pipeline.update_price("BTC-USD", 125.0)  # fills the resting limit
    return list(sink.events)


def test_every_kind_the_pipeline_writes_decodes_on_the_fast_path():
    events = pipeline_events()
    assert {e.kind for e in events} == {"intent", "gate", "order", "fill"}
    copies = [copy_of(e, session_id="replayed") for e in events]
    for event in [*events, *copies]:
        line = encode_event_line(event).rstrip(b"\n")
        try:
            scan_events.scan_decoder.decode(line)
            records.scan_decoder.decode(line)
        except msgspec.ValidationError as exc:  # pragma: no cover - the failure message
            raise AssertionError(f"{event.kind} line takes the slow path: {exc}") from exc
