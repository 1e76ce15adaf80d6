"""The spec's own usage examples, run as written against the real modules."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

from src.execution import ExecutionPipeline, OrderIntent, PaperExecutor
from src.execution.events import ExecutionEvent, event_to_dict
from src.execution.telemetry import (
    CompositeEmitter,
    ExecutionEventEmitter,
    JsonlExecutionLogger,
    NullEmitter,
)


def test_spec_integration_example_writes_intent_order_fill(tmp_path):
    """Pipeline + JsonlExecutionLogger: the session file holds intent, the validation gate's
    decision, order, the paper venue's ack, fill in order."""
    emitter = JsonlExecutionLogger(str(tmp_path / "test_logs"))
    pipeline = ExecutionPipeline(executor=PaperExecutor(), emitter=emitter)
    intent = OrderIntent(
        symbol="BTC-USD", side="buy", quantity=1.0, current_price=100000.0, session_id="session_123"
    )
    result = pipeline.submit_order(intent)
    assert result.filled
    lines = (tmp_path / "test_logs" / "session_123.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["kind"] for r in records] == ["intent", "gate", "order", "ack", "fill"]
    assert all(
        list(r)[:6] == ["ts", "session_id", "symbol", "mode", "kind", "payload"] for r in records
    )
    intent_rec, gate_rec, order_rec, ack_rec, fill_rec = records
    assert ack_rec["payload"]["client_id"] == order_rec["payload"]["client_id"]
    assert gate_rec["payload"]["gate_name"] == "IntentValidation" and gate_rec["payload"]["passed"]
    assert intent_rec["payload"]["side"] == "buy" and intent_rec["payload"]["quantity"] == 1.0
    assert order_rec["payload"]["order_type"] == "market"
    assert order_rec["payload"]["intent_id"] == intent_rec["payload"]["intent_id"]
    assert fill_rec["payload"]["client_id"] == order_rec["payload"]["client_id"]
    assert datetime.fromisoformat(fill_rec["ts"]).tzinfo is not None
    assert pipeline._emitter is emitter


def test_spec_null_emitter_disables_telemetry(tmp_path, monkeypatch):
    """NullEmitter: orders still execute and no file appears anywhere."""
    monkeypatch.chdir(tmp_path)
    pipeline = ExecutionPipeline(executor=PaperExecutor(), emitter=NullEmitter())
    intent = OrderIntent(symbol="BTC-USD", side="buy", quantity=1.0, current_price=100.0)
    assert pipeline.submit_order(intent).filled
    assert list(tmp_path.iterdir()) == []


def test_spec_custom_emitter_example_counts_by_kind(tmp_path):
    """The spec's custom emitter shape (only emit defined) composes with the JSONL logger."""

    class CountingEmitter(ExecutionEventEmitter):
        def __init__(self) -> None:
            self.counts: Counter[str] = Counter()

        def emit(self, event: ExecutionEvent) -> None:
            self.counts[f"execution_{event.kind}_total"] += 1

    counter = CountingEmitter()
    emitter = CompositeEmitter([JsonlExecutionLogger(tmp_path), counter])
    pipeline = ExecutionPipeline(executor=PaperExecutor(), emitter=emitter)
    for _ in range(3):
        pipeline.submit_order(
            OrderIntent(symbol="BTC-USD", side="sell", quantity=2.0, current_price=100.0)
        )
    emitter.close()
    assert counter.counts == {
        "execution_intent_total": 3,
        "execution_gate_total": 3,
        "execution_order_total": 3,
        "execution_ack_total": 3,
        "execution_fill_total": 3,
    }
    assert len((tmp_path / "default.jsonl").read_text().splitlines()) == 15


def test_spec_event_api_reference():
    """ExecutionEvent(...).to_dict() and event_to_dict() as the API reference shows them."""
    event = ExecutionEvent(
        ts=datetime(2025, 1, 1, 12, 0, 0),
        session_id="session_123",
        symbol="BTC-USD",
        mode="paper",
        kind="intent",
        payload={"side": "buy", "quantity": 1.0, "current_price": 100000.0},
    )
    d = event.to_dict()
    # A naive ts is the host's local time; it is written as the UTC instant.
    local = datetime(2025, 1, 1, 12, 0, 0).astimezone()
    assert d["ts"] == local.astimezone(UTC).isoformat()
    assert d == event_to_dict(event)
