"""Import normalisation speaks the schema: its targets are declared kinds, modes and keys."""

from __future__ import annotations

import importlib

from src.execution import schema

# The module (the package exports its function under the same name).
normalize = importlib.import_module("src.importers.normalize")


def test_every_kind_and_mode_is_accepted_under_its_own_name():
    """A kind or mode the schema declares needs no alias entry to be imported."""
    assert {normalize._KIND_OF[k] for k in schema.KINDS} == set(schema.KINDS)
    assert {normalize._MODE_OF[m] for m in schema.MODES} == set(schema.MODES)
    assert set(normalize._KIND_OF.values()) == set(schema.KINDS)


def test_aliases_rename_only_to_declared_payload_keys():
    """Each alias table targets a key the schema declares for that kind."""
    for kind, renames in normalize._PAYLOAD.items():
        declared = {spec.name for spec in schema.payload_fields(kind)}
        assert set(renames) <= declared, kind


def test_numbers_and_flags_follow_the_schemas_types():
    """Text numbers become floats and text booleans bools, by the schema's field types."""
    row = {
        "ts": "2025-01-01T00:00:00Z",
        "kind": "EXECUTION",
        "session": "imp",
        "env": "PAPER",
        "payload": {"fill_price": "101.5", "fill_fee": "0.1", "reference_price": "1,000"},
    }
    event = normalize.normalize(row)
    assert event.kind == "fill" and event.mode == "paper"
    assert event.payload["fill_price"] == 101.5
    assert event.payload["reference_price"] == 1000.0
    gate = normalize.normalize({**row, "kind": "gate", "payload": {"passed": "yes"}})
    assert gate.payload["passed"] is True
