"""Every payload key the pipeline writes is declared in the schema, in the schema's order."""

from __future__ import annotations

from src.execution.events import ExecutionEvent
from src.execution.schema import KINDS, payload_fields
from src.execution.telemetry.testing import capture_events
from tests.execution.lifecycle_scenario import run_every_path


def every_kind_of_event() -> list[ExecutionEvent]:
    """Every path of an order's life (tests/execution/lifecycle_scenario.py): intents, gate
    decisions (passing, blocking, crashing), orders, acks, fills in one piece and in several,
    cancels, expiries, venue rejects, and error events of each stage."""
    with capture_events() as sink:
        run_every_path(sink)
    return list(sink.events)


def test_every_key_the_pipeline_writes_is_declared_in_order():
    """A key the pipeline starts writing must first be declared in src/execution/schema.py
    (then every reader knows it), and keys are written in the declared order (the order the
    lean decoders try first)."""
    events = every_kind_of_event()
    assert {e.kind for e in events} == set(KINDS)
    stages = {e.payload["stage"] for e in events if e.kind == "error"}
    assert stages == {"gate", "execute", "cancel", "report"}
    for event in events:
        declared = [spec.name for spec in payload_fields(event.kind)]
        written = list(event.payload)
        undeclared = [k for k in written if k not in declared]
        assert not undeclared, f"{event.kind} writes undeclared keys {undeclared}"
        assert written == [k for k in declared if k in written], event.kind


def test_the_lifecycle_kinds_carry_their_pairing_ids_and_numbers():
    """Each new kind names its order (client_id, intent_id, side); the ones that end an order
    say why and how much had filled; an ack and what follows it carry the venue's order id."""
    events = every_kind_of_event()
    orders = {e.payload["client_id"]: e.payload for e in events if e.kind == "order"}
    acked = {e.payload["client_id"]: e.payload["order_id"] for e in events if e.kind == "ack"}
    for event in events:
        p = event.payload
        if event.kind not in ("ack", "partial_fill", "fill", "cancel", "expire", "reject"):
            continue
        order = orders[p["client_id"]]
        assert (p["intent_id"], p["side"]) == (order["intent_id"], order["side"])
        assert p.get("order_id") == acked.get(p["client_id"])
        if event.kind in ("cancel", "expire", "reject"):
            assert isinstance(p["reason"], str) and p["reason"]
        if event.kind in ("cancel", "expire"):
            total = p["filled_quantity"] + p["remaining_quantity"]
            assert total == order["quantity"]
        if event.kind == "expire":
            assert p["time_in_force"] == order["time_in_force"]
