"""The schema module is the one definition of kinds and payload keys; the rest derives."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from src.execution import events, schema
from src.query import records, scan_events


def test_kinds_modes_and_severities_come_from_the_schema():
    """events.py re-exports the schema's lists (one definition)."""
    assert events.KINDS is schema.KINDS
    assert events.MODES is schema.MODES
    assert events.SEVERITIES is schema.SEVERITIES
    assert events.EventKind is schema.EventKind
    # the spec's five kinds first, then an order's lifecycle after it is sent
    assert schema.KINDS == (
        "intent", "order", "fill", "gate", "error",
        "ack", "partial_fill", "cancel", "expire", "reject",
    )  # fmt: skip
    assert set(schema.PAYLOADS) == set(schema.KINDS)
    # the key copy_of() writes is a declared key of every kind
    assert all(
        events.ORIGIN_EVENT_ID in [s.name for s in schema.payload_fields(k)] for k in schema.KINDS
    )


def test_the_derived_tables_keep_todays_values():
    """Deriving the tables from the schema changed none of them (column order included)."""
    assert schema.KIND_COLUMNS == {
        "intent": (
            "intent_id",
            "strategy_key",
            "side",
            "quantity",
            "current_price",
            "order_type",
            "limit_price",
            "time_in_force",
            "expire_after_s",
        ),
        "gate": ("intent_id", "gate_name", "passed", "reason"),
        "order": (
            "client_id",
            "intent_id",
            "side",
            "quantity",
            "order_type",
            "limit_price",
            "time_in_force",
            "expire_after_s",
        ),
        "ack": ("client_id", "intent_id", "side"),
        "partial_fill": (
            "client_id",
            "intent_id",
            "side",
            "filled_quantity",
            "fill_price",
            "fill_notional",
            "fill_fee",
            "reference_price",
            "cumulative_quantity",
            "remaining_quantity",
        ),
        "fill": (
            "client_id",
            "intent_id",
            "side",
            "filled_quantity",
            "fill_price",
            "fill_notional",
            "fill_fee",
            "reference_price",
        ),
        "cancel": (
            "client_id",
            "intent_id",
            "side",
            "reason",
            "filled_quantity",
            "remaining_quantity",
        ),
        "expire": (
            "client_id",
            "intent_id",
            "side",
            "reason",
            "time_in_force",
            "filled_quantity",
            "remaining_quantity",
        ),
        "reject": ("client_id", "intent_id", "side", "reason"),
        "error": ("intent_id", "client_id", "stage", "error", "stacktrace"),
    }
    assert list(schema.KIND_COLUMNS) == [
        "intent", "gate", "order", "ack", "partial_fill", "fill", "cancel", "expire", "reject",
        "error",
    ]  # fmt: skip
    assert {
        "quantity",
        "current_price",
        "limit_price",
        "filled_quantity",
        "fill_price",
        "fill_notional",
        "fill_fee",
        "reference_price",
        "expire_after_s",
        "cumulative_quantity",
        "remaining_quantity",
    } == schema.NUMERIC_FIELDS
    assert {"passed"} == schema.BOOLEAN_FIELDS
    assert {k: v for k, v in schema.KIND_NAME_FIELDS.items() if v} == {
        "intent": ("intent_id", "side"),
        "order": ("client_id", "intent_id", "side", "order_id"),
        "fill": ("client_id", "intent_id", "side", "order_id"),
        "gate": ("gate_name",),
        **dict.fromkeys(
            ("ack", "partial_fill", "cancel", "expire", "reject"),
            ("client_id", "intent_id", "side", "order_id"),
        ),
    }


def _event(kind: str) -> events.ExecutionEvent:
    return events.ExecutionEvent(
        ts=datetime(2025, 1, 1, tzinfo=UTC),
        session_id="s",
        symbol="X",
        mode="paper",
        kind=kind,
        seq=1,
        mono_ns=2,
    )


def test_the_lean_decoders_declare_exactly_the_schema():
    """Each kind's lean record has the kind's keys in the schema's order; the scan payload
    has every declared key; the names validated are the schema's."""
    for kind in schema.KINDS:
        declared = tuple(spec.name for spec in schema.payload_fields(kind))
        assert scan_events.PAYLOAD_TYPES[kind].__struct_fields__ == declared
        assert scan_events.EVENT_TYPES[kind].kind == kind
        # the logger's key order (kind is the tag), which the decoder tries first
        line_keys = [k for k in _event(kind).to_dict() if k != "kind"]
        assert list(scan_events.EVENT_TYPES[kind].__struct_fields__) == line_keys
    assert records.ScanPayload.__struct_fields__ == schema.PAYLOAD_KEYS
    assert records.KIND_NAME_FIELDS is schema.KIND_NAME_FIELDS


def test_a_key_the_schema_does_not_declare_takes_the_slow_path():
    """Unknown keys are still forbidden on the fast path (the slow path judges them)."""
    line = (
        b'{"ts": "2025-01-01T00:00:00+00:00", "session_id": "s", "symbol": "X", '
        b'"mode": "paper", "kind": "fill", "payload": {"venue_latency_ms": 3}}'
    )
    with pytest.raises(msgspec.ValidationError):
        scan_events.scan_decoder.decode(line)
    rec = records.decode_scan(line)
    assert rec is not None and rec.kind == "fill"


def test_a_schema_that_contradicts_itself_is_refused():
    """One type per key across kinds, a known field type, and exactly the kinds of
    EventKind: a schema that breaks one fails at import with the reason."""

    class Mistyped(schema.Payload):
        quantity: schema.Text = None  # a number in the other kinds

    class Untyped(schema.Payload):
        quantity: int | None = None

    with pytest.raises(TypeError, match="'quantity' has two types"):
        schema._derive({**schema.PAYLOADS, "error": Mistyped}, schema.CommonPayload)
    with pytest.raises(TypeError, match=r"Untyped\.quantity"):
        schema._derive({**schema.PAYLOADS, "error": Untyped}, schema.CommonPayload)
    with pytest.raises(TypeError, match="exactly the kinds"):
        schema._derive({**schema.PAYLOADS, "amend": Mistyped}, schema.CommonPayload)
