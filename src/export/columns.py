"""The tabular view of an event, shared by the CSV, Excel and Parquet exports.

An event becomes one row: the event fields, then the payload keys a quant filters and
aggregates on as columns of their own, then (CSV, Parquet) the whole payload as JSON, so
keys without a column of their own are never lost and an import can rebuild the event
exactly.
"""

from __future__ import annotations

from typing import Any

import orjson

from src.execution import schema

__all__ = [
    "BASE_COLUMNS",
    "BOOLEAN_KEYS",
    "FLAT_COLUMNS",
    "KIND_COLUMNS",
    "NUMERIC_KEYS",
    "payload_json",
    "typed_value",
]

BASE_COLUMNS: tuple[str, ...] = (
    "ts",
    "session_id",
    "symbol",
    "mode",
    "kind",
    "seq",
    "event_id",
    "mono_ns",
)

# The payload columns (per kind, and every kind's in one row shape) and their types come
# from the schema.
KIND_COLUMNS: dict[str, tuple[str, ...]] = schema.KIND_COLUMNS
FLAT_COLUMNS: tuple[str, ...] = schema.FLAT_COLUMNS
NUMERIC_KEYS: frozenset[str] = schema.NUMERIC_FIELDS
BOOLEAN_KEYS: frozenset[str] = schema.BOOLEAN_FIELDS


def typed_value(key: str, value: Any) -> Any:
    """``value`` as its column's type: float for prices and quantities, bool for ``passed``,
    text otherwise; ``None`` when it does not fit (the payload JSON keeps the original)."""
    if value is None:
        return None
    if key in NUMERIC_KEYS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return float(value)
    if key in BOOLEAN_KEYS:
        return value if isinstance(value, bool) else None
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


def payload_json(data: dict[str, Any]) -> str:
    """The event's payload exactly as logged, as JSON text (``{}`` when it has none)."""
    payload = data.get("payload")
    if payload is None:
        return "{}"
    return orjson.dumps(payload, default=str).decode()
