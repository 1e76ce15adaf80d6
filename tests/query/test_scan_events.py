"""The lean per-kind scan records stand in for ScanRecord in the summary's loop.

src.query.analytics.summary types the loop's records as ScanRecords (with a gate payload
whose gate_name and passed are narrow) for the type checker only; these tests keep that
claim true of the records the lean decoder builds.
"""

from __future__ import annotations

import typing

import msgspec
import pytest

from src.query.records import Scalar, ScanPayload, ScanRecord
from src.query.scan_events import EVENT_TYPES, GateEvent, GatePayload, scan_decoder


@pytest.mark.parametrize("kind", sorted(EVENT_TYPES))
def test_each_kind_has_every_scan_record_field(kind: str) -> None:
    event = EVENT_TYPES[kind]
    fields = set(event.__struct_fields__)
    assert set(ScanRecord.__struct_fields__) - {"kind"} <= fields
    assert event.kind == kind  # a class attribute, not a field
    payload = typing.get_type_hints(event)["payload"]
    payload_type = next(a for a in typing.get_args(payload) if a is not type(None))
    assert set(payload_type.__struct_fields__) <= set(ScanPayload.__struct_fields__)


def test_gate_payload_names_and_passed_are_narrow() -> None:
    hints = typing.get_type_hints(GatePayload)
    assert hints["gate_name"] == str | None
    assert hints["passed"] == bool | None
    assert hints["gate_name"] != Scalar
    line = b'{"ts":"2026-01-02T03:04:05+00:00","kind":"gate","payload":{"gate_name":1}}'
    with pytest.raises(msgspec.ValidationError):  # such a line takes the slow path
        scan_decoder.decode(line)
    rec = scan_decoder.decode(
        b'{"ts":"2026-01-02T03:04:05+00:00","kind":"gate",'
        b'"payload":{"gate_name":"risk","passed":true}}'
    )
    assert rec.__class__ is GateEvent
    assert rec.payload.gate_name == "risk" and rec.payload.passed is True
