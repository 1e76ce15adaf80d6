"""Lean per-kind records for the summary scan: only the fields analytics read.

The scan decoder picks the record type from ``kind`` (a tagged union), so each line
decodes just what its kind needs: a gate decision, half of all events, skips its intent
id and reason (a blocking one, which needs them, is decoded again in full). The
record's class then tells the scan loop its kind without comparing strings.

Every key our pipeline writes is declared and typed as a scalar, and other keys are
forbidden: whatever this decoder accepts nests two levels and has only numbers a double
can hold, so it is valid by the rule of :mod:`src.query.records` except for the time
range, which the scan loop checks. Lines of other kinds, or that the typed decoder
rejects, take :func:`~src.query.records.scan_line` with the full rules, and come back as
a :class:`~src.query.records.ScanRecord`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

import msgspec

from src.query.records import Scalar

__all__ = ["ErrorEvent", "FillEvent", "GateEvent", "IntentEvent", "OrderEvent", "scan_decoder"]

AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]


class GatePayload(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    # Typed, so the scan loop can count names as they come (other values: slow path).
    intent_id: Scalar = None
    gate_name: str | None = None
    passed: bool | None = None
    reason: Scalar = None
    origin_event_id: Scalar = None  # a replayed or imported copy names its original


# Fields that name things are scalars: an array or object there sends the line to the
# slow path, which rejects it (see src.query.records).
class IntentPayload(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    intent_id: Scalar = None
    side: Scalar = None
    quantity: Scalar = None
    current_price: Scalar = None
    strategy_key: Scalar = None
    order_type: Scalar = None
    limit_price: Scalar = None
    origin_event_id: Scalar = None  # a replayed or imported copy names its original


class OrderPayload(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    client_id: Scalar = None
    intent_id: Scalar = None
    side: Scalar = None
    quantity: Scalar = None
    order_type: Scalar = None
    limit_price: Scalar = None
    order_id: Scalar = None
    origin_event_id: Scalar = None  # a replayed or imported copy names its original


class FillPayload(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    client_id: Scalar = None
    intent_id: Scalar = None  # pairs the fill with its intent when no order is logged
    side: Scalar = None
    filled_quantity: Scalar = None
    fill_price: Scalar = None
    fill_notional: Scalar = None
    fill_fee: Scalar = None
    reference_price: Scalar = None
    order_id: Scalar = None
    origin_event_id: Scalar = None  # a replayed or imported copy names its original


class ErrorPayload(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    error: Scalar = None
    stacktrace: Scalar = None
    client_id: Scalar = None
    intent_id: Scalar = None
    stage: Scalar = None
    origin_event_id: Scalar = None  # a replayed or imported copy names its original


# Fields in the logger's key order: the decoder tries the next field first.
class _Event(msgspec.Struct, gc=False, kw_only=True, tag_field="kind", forbid_unknown_fields=True):
    ts: AwareDatetime
    session_id: Scalar = None
    symbol: Scalar = None
    mode: Scalar = None


class GateEvent(_Event, tag="gate"):
    kind: ClassVar[str] = "gate"
    payload: GatePayload | None = None
    seq: Scalar = None
    event_id: Scalar = None
    mono_ns: Scalar = None


class IntentEvent(_Event, tag="intent"):
    kind: ClassVar[str] = "intent"
    payload: IntentPayload | None = None
    seq: Scalar = None
    event_id: Scalar = None
    mono_ns: Scalar = None


class OrderEvent(_Event, tag="order"):
    kind: ClassVar[str] = "order"
    payload: OrderPayload | None = None
    seq: Scalar = None
    event_id: Scalar = None
    mono_ns: Scalar = None


class FillEvent(_Event, tag="fill"):
    kind: ClassVar[str] = "fill"
    payload: FillPayload | None = None
    seq: Scalar = None
    event_id: Scalar = None
    mono_ns: Scalar = None


class ErrorEvent(_Event, tag="error"):
    kind: ClassVar[str] = "error"
    payload: ErrorPayload | None = None
    seq: Scalar = None
    event_id: Scalar = None
    mono_ns: Scalar = None


scan_decoder = msgspec.json.Decoder(GateEvent | IntentEvent | OrderEvent | FillEvent | ErrorEvent)
