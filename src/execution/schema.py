"""The schema of an event line: its kinds, modes and severities, and each kind's payload.

This module is the one place that says which kinds exist and which keys each kind's
payload has. Everything else derives from it: ``ExecutionEvent``'s validation, the
pipeline's payloads (a test checks every key it writes is declared here), the lean line
decoders of :mod:`src.query` (which decode exactly the declared keys on their fast path),
the names readers group and pair by (a line where one is an array or an object is
invalid), the export columns and their types, the SQL views' typed columns, import
normalisation, and the kind lists of the dashboard, the CLI and the bridge.

To add a payload key, declare it on its kind's Struct (in the order the pipeline writes
it; the decoders are fastest when keys come in declared order). To add a kind, add it to
:data:`EventKind` and its payload Struct to :data:`PAYLOADS`.

A field's type says how readers treat it: :data:`Number` (a float column, converted on
import), :data:`Flag` (a boolean column), :data:`Text`, or :data:`Name` (text that readers
group or pair by, so it must be a scalar). :data:`PAYLOAD_ONLY` marks a key that has no
export column of its own (it stays in the payload JSON). The Structs are declarations:
the trading path writes plain dicts, readers use their own lean decoders built from these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal, get_args, get_type_hints

import msgspec

__all__ = [
    "BOOLEAN_FIELDS",
    "FLAT_COLUMNS",
    "KINDS",
    "KIND_COLUMNS",
    "KIND_NAME_FIELDS",
    "MODES",
    "NAME",
    "NUMERIC_FIELDS",
    "ORDER_STATUSES",
    "PAYLOADS",
    "PAYLOAD_KEYS",
    "PAYLOAD_NAME_FIELDS",
    "PAYLOAD_ONLY",
    "SEVERITIES",
    "STATUS_AFTER",
    "TERMINAL_KINDS",
    "TIMES_IN_FORCE",
    "AckPayload",
    "CancelPayload",
    "CommonPayload",
    "ErrorPayload",
    "EventKind",
    "ExpirePayload",
    "FieldSpec",
    "FillPayload",
    "Flag",
    "GatePayload",
    "IntentPayload",
    "Mode",
    "Name",
    "Number",
    "OrderPayload",
    "OrderStatus",
    "PartialFillPayload",
    "Payload",
    "RejectPayload",
    "Severity",
    "Text",
    "TimeInForce",
    "payload_fields",
]

EventKind = Literal[
    "intent", "order", "fill", "gate", "error", "ack", "partial_fill", "cancel", "expire", "reject"
]
Mode = Literal["backtest", "paper", "live"]
Severity = Literal["debug", "info", "warning", "error"]
KINDS: tuple[str, ...] = get_args(EventKind)
MODES: tuple[str, ...] = get_args(Mode)
SEVERITIES: tuple[str, ...] = get_args(Severity)
TimeInForce = Literal["GTC", "IOC", "DAY"]
TIMES_IN_FORCE: tuple[str, ...] = get_args(TimeInForce)
# The kinds that end an order's life (an ``error`` at the execute stage ends it too).
TERMINAL_KINDS: tuple[str, ...] = ("fill", "cancel", "expire", "reject")
# An order's status after the last event of its life (``open`` until one of these).
OrderStatus = Literal["open", "filled", "cancelled", "expired", "rejected", "blocked", "error"]
ORDER_STATUSES: tuple[str, ...] = get_args(OrderStatus)
STATUS_AFTER: dict[str, str] = {
    "fill": "filled", "cancel": "cancelled", "expire": "expired", "reject": "rejected"
}  # fmt: skip


class _Marker:
    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        self.label = label

    def __repr__(self) -> str:
        return self.label


NAME = _Marker("NAME")  # readers group or pair by this key: an array or object is invalid
PAYLOAD_ONLY = _Marker("PAYLOAD_ONLY")  # no export column of its own

Text = str | None
Number = float | None
Flag = bool | None
Name = Annotated[str | None, NAME]


class Payload(msgspec.Struct, kw_only=True):
    """Base of the payload Structs. ``leading_columns``: the keys that come first in the
    kind's export columns (in this order); the rest follow in declaration order."""

    leading_columns: ClassVar[tuple[str, ...]] = ()


class IntentPayload(Payload):
    intent_id: Name = None
    side: Name = None
    quantity: Number = None
    current_price: Number = None
    strategy_key: Text = None
    order_type: Text = None
    limit_price: Number = None
    time_in_force: Text = None  # GTC, IOC or DAY (absent: GTC)
    expire_after_s: Number = None  # the order expires this long after it was placed

    leading_columns: ClassVar[tuple[str, ...]] = ("intent_id", "strategy_key")


class OrderPayload(Payload):
    client_id: Name = None
    intent_id: Name = None
    side: Name = None
    quantity: Number = None
    order_type: Text = None
    limit_price: Number = None
    time_in_force: Text = None
    expire_after_s: Number = None
    order_id: Annotated[Name, PAYLOAD_ONLY] = None  # a venue's own id (imports, live)


class AckPayload(Payload):
    """The venue accepted the order; it is working there (under ``order_id``)."""

    client_id: Name = None
    intent_id: Name = None
    side: Name = None
    order_id: Annotated[Name, PAYLOAD_ONLY] = None


class PartialFillPayload(Payload):
    """One execution that leaves part of the order working: the numbers are this piece's;
    ``cumulative_quantity`` and ``remaining_quantity`` say where the order stands."""

    client_id: Name = None
    intent_id: Name = None
    side: Name = None
    filled_quantity: Number = None
    fill_price: Number = None
    fill_notional: Number = None
    fill_fee: Number = None
    reference_price: Number = None
    cumulative_quantity: Number = None
    remaining_quantity: Number = None
    order_id: Annotated[Name, PAYLOAD_ONLY] = None


class FillPayload(Payload):
    """The order is completely filled: one per order. After partial fills the numbers are
    the whole order's (total quantity, average price, total notional and fees)."""

    client_id: Name = None
    intent_id: Name = None  # pairs the fill with its intent when no order is logged
    side: Name = None
    filled_quantity: Number = None
    fill_price: Number = None
    fill_notional: Number = None
    fill_fee: Number = None
    reference_price: Number = None
    order_id: Annotated[Name, PAYLOAD_ONLY] = None


class CancelPayload(Payload):
    """The order was cancelled (by request): ``filled_quantity`` executed before it was,
    ``remaining_quantity`` never will."""

    client_id: Name = None
    intent_id: Name = None
    side: Name = None
    reason: Text = None
    filled_quantity: Number = None
    remaining_quantity: Number = None
    order_id: Annotated[Name, PAYLOAD_ONLY] = None


class ExpirePayload(Payload):
    """The order's time in force ran out (IOC remainder, end of DAY, ``expire_after_s``)."""

    client_id: Name = None
    intent_id: Name = None
    side: Name = None
    reason: Text = None
    time_in_force: Text = None
    filled_quantity: Number = None
    remaining_quantity: Number = None
    order_id: Annotated[Name, PAYLOAD_ONLY] = None


class RejectPayload(Payload):
    """The venue refused the order (after it was sent; a gate's refusal is a ``gate`` event)."""

    client_id: Name = None
    intent_id: Name = None
    side: Name = None
    reason: Text = None
    order_id: Annotated[Name, PAYLOAD_ONLY] = None


class GatePayload(Payload):
    intent_id: Text = None
    gate_name: Name = None
    passed: Flag = None  # anything but true blocks (gates fail closed)
    reason: Text = None


class ErrorPayload(Payload):
    error: Text = None
    stacktrace: Text = None
    client_id: Text = None
    intent_id: Text = None
    stage: Text = None

    leading_columns: ClassVar[tuple[str, ...]] = ("intent_id", "client_id", "stage")


class CommonPayload(Payload):
    """Keys any kind's payload may carry, after its own."""

    origin_event_id: Annotated[Text, PAYLOAD_ONLY] = None  # a replayed/imported copy's original


# Every kind's payload, in the order of an order's life (the mixed-kind export's columns
# follow it).
PAYLOADS: dict[str, type[Payload]] = {
    "intent": IntentPayload,
    "gate": GatePayload,
    "order": OrderPayload,
    "ack": AckPayload,
    "partial_fill": PartialFillPayload,
    "fill": FillPayload,
    "cancel": CancelPayload,
    "expire": ExpirePayload,
    "reject": RejectPayload,
    "error": ErrorPayload,
}


# -- derived: nothing below names a kind or a key --------------------------------------------
@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One payload key of one kind, as readers need to know it."""

    name: str
    type: Literal["text", "number", "flag"]
    is_name: bool  # readers group or pair by it
    column: bool  # has an export column of its own


def _specs(cls: type[Payload]) -> tuple[FieldSpec, ...]:
    hints = get_type_hints(cls, include_extras=True)
    specs = []
    for name in cls.__struct_fields__:
        hint = hints[name]
        marks = getattr(hint, "__metadata__", ())
        base = set(get_args(get_args(hint)[0] if marks else hint)) - {type(None)}
        if base == {float}:
            kind: Literal["text", "number", "flag"] = "number"
        elif base == {bool}:
            kind = "flag"
        elif base == {str}:
            kind = "text"
        else:
            raise TypeError(f"{cls.__name__}.{name}: use Text, Number, Flag or Name")
        specs.append(FieldSpec(name, kind, NAME in marks, PAYLOAD_ONLY not in marks))
    return tuple(specs)


def _derive(
    payloads: dict[str, type[Payload]], common_payload: type[Payload]
) -> dict[str, tuple[FieldSpec, ...]]:
    if set(payloads) != set(KINDS):
        raise TypeError(f"PAYLOADS must have exactly the kinds of EventKind: {KINDS}")
    common = _specs(common_payload)
    fields = {kind: (*_specs(cls), *common) for kind, cls in payloads.items()}
    types: dict[str, str] = {}
    for specs in fields.values():
        for spec in specs:
            if types.setdefault(spec.name, spec.type) != spec.type:
                raise TypeError(f"payload key {spec.name!r} has two types: one per key")
    return fields


_FIELDS = _derive(PAYLOADS, CommonPayload)


def payload_fields(kind: str) -> tuple[FieldSpec, ...]:
    """The declared payload keys of ``kind`` in the order the pipeline writes them
    (the kind's own, then the common ones); ``()`` for an unknown kind."""
    return _FIELDS.get(kind, ())


def _columns(kind: str) -> tuple[str, ...]:
    lead = PAYLOADS[kind].leading_columns
    rest = (s.name for s in _FIELDS[kind] if s.column and s.name not in lead)
    return (*lead, *rest)


# The names readers group and pair by, per kind (a line where one is not a scalar is
# invalid), and across kinds.
KIND_NAME_FIELDS: dict[str, tuple[str, ...]] = {
    kind: tuple(s.name for s in specs if s.is_name) for kind, specs in _FIELDS.items()
}
PAYLOAD_NAME_FIELDS: tuple[str, ...] = tuple(
    dict.fromkeys(n for names in KIND_NAME_FIELDS.values() for n in names)
)
# Export columns: per kind (the per-kind sheets and SQL views), and every kind's in one row
# shape (first appearance order) for the mixed-kind exports.
KIND_COLUMNS: dict[str, tuple[str, ...]] = {kind: _columns(kind) for kind in PAYLOADS}
FLAT_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(c for columns in KIND_COLUMNS.values() for c in columns)
)
# Every declared payload key: the kinds' own (first appearance order), then the common ones.
PAYLOAD_KEYS: tuple[str, ...] = tuple(
    dict.fromkeys(
        [s.name for kind in PAYLOADS for s in _specs(PAYLOADS[kind])]
        + [s.name for s in _specs(CommonPayload)]
    )
)
NUMERIC_FIELDS: frozenset[str] = frozenset(
    s.name for specs in _FIELDS.values() for s in specs if s.type == "number"
)
BOOLEAN_FIELDS: frozenset[str] = frozenset(
    s.name for specs in _FIELDS.values() for s in specs if s.type == "flag"
)
