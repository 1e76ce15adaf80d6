"""Lean per-kind records, for the order blotter's fold (:mod:`src.query.orders.fold`).

The scan decoder picks the record type from ``kind`` (a tagged union), so each line
decodes just its kind's keys; the record's class then tells the reader its kind
without comparing strings. (The summary's scan loop reads with
:data:`src.query.records.scan_decoder` instead, one record class for every kind: with
every key decoded either way, finding the tag cost it more than the smaller records
saved, measured 2026-11-30 in docs/performance.md.)

The records are built from :mod:`src.execution.schema`: one per kind, with every key the
schema declares for it, in its order (the decoder is fastest when keys come in declared
order).

Every declared key is typed as a scalar, and other keys are forbidden: whatever this
decoder accepts nests two levels and has only numbers a double can hold, so it is valid
by the rule of :mod:`src.query.records` except for the time range, which the scan loop
checks. Lines of other kinds, or that the typed decoder
rejects, take :func:`~src.query.records.scan_line` with the full rules, and come back as
a :class:`~src.query.records.ScanRecord`.
"""

from __future__ import annotations

import functools
import operator
from datetime import datetime
from typing import Annotated, Any, cast

import msgspec

from src.execution import schema
from src.query.records import Scalar

__all__ = [
    "EVENT_TYPES",
    "PAYLOAD_TYPES",
    "ErrorEvent",
    "FillEvent",
    "GateEvent",
    "GatePayload",
    "IntentEvent",
    "OrderEvent",
    "scan_decoder",
]

AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]

# Narrower types than Scalar for keys the scan loop uses as they come (counted gate names,
# passed is True); other values there take the slow path.
_NARROW: dict[tuple[str, str], Any] = {
    ("gate", "gate_name"): str | None,
    ("gate", "passed"): bool | None,
}


# Fields in the logger's key order: the decoder tries the next field first.
class _Event(msgspec.Struct, gc=False, kw_only=True, tag_field="kind", forbid_unknown_fields=True):
    ts: AwareDatetime
    session_id: Scalar = None
    symbol: Scalar = None
    mode: Scalar = None


def _payload_type(kind: str) -> type[msgspec.Struct]:
    # Fields that name things are scalars: an array or object there sends the line to the
    # slow path, which rejects it (see src.query.records).
    return msgspec.defstruct(
        f"{kind.capitalize()}Payload",
        [
            (spec.name, _NARROW.get((kind, spec.name), Scalar), None)
            for spec in schema.payload_fields(kind)
        ],
        module=__name__,
        gc=False,
        forbid_unknown_fields=True,
    )


def _event_type(kind: str, payload: type[msgspec.Struct]) -> type[_Event]:
    event_type = msgspec.defstruct(
        f"{kind.capitalize()}Event",
        [
            ("payload", payload | None, None),
            ("seq", Scalar, None),
            ("event_id", Scalar, None),
            ("mono_ns", Scalar, None),
        ],
        bases=(_Event,),
        module=__name__,
        namespace={"kind": kind},  # a class attribute (the tag is not a field)
        tag=kind,
        kw_only=True,  # keeps _Event's fields first: the logger's key order
    )
    return cast("type[_Event]", event_type)  # defstruct's bases=(_Event,) makes it one


# One record type per kind of the schema.
PAYLOAD_TYPES: dict[str, type[msgspec.Struct]] = {k: _payload_type(k) for k in schema.KINDS}
EVENT_TYPES: dict[str, type[_Event]] = {k: _event_type(k, t) for k, t in PAYLOAD_TYPES.items()}
# Module attributes under their own names, so that records pickle (parallel scans).
globals().update({t.__name__: t for t in (*PAYLOAD_TYPES.values(), *EVENT_TYPES.values())})
GateEvent = EVENT_TYPES["gate"]
IntentEvent = EVENT_TYPES["intent"]
OrderEvent = EVENT_TYPES["order"]
FillEvent = EVENT_TYPES["fill"]
ErrorEvent = EVENT_TYPES["error"]
GatePayload = PAYLOAD_TYPES["gate"]

scan_decoder = msgspec.json.Decoder(functools.reduce(operator.or_, EVENT_TYPES.values()))
