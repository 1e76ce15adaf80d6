"""Turning another system's event record into one of ours.

Rules (each a spelling other systems use for something this schema already has):

* field names: ``timestamp``/``time`` for ``ts``, ``type``/``event_type`` for ``kind``,
  ``session`` for ``session_id``, ``instrument``/``ticker`` for ``symbol``, ``env`` for
  ``mode``; in payloads ``order_id``/``client_order_id``/``clOrdId`` for ``client_id``,
  ``gate`` for ``gate_name``, ``decision: ALLOW|BLOCK`` for ``passed``, ``qty``/``price``/
  ``fee`` for the kind's own quantity, price and fee keys. An alias is renamed only when
  the record does not also carry our own name (then both are kept as they are);
* values: ``BUY``/``Sell``/``B`` -> ``buy``/``sell``, ``PAPER``/``PROD`` -> ``paper``/
  ``live``, ``MARKET``/``LMT`` -> ``market``/``limit``, kinds such as ``EXECUTION`` ->
  ``fill``; numbers written as text become numbers, ``"true"``/``"1"`` booleans;
* times: ISO 8601 with ``Z``, an offset, or none (UTC), or epoch seconds, milliseconds,
  microseconds or nanoseconds; all become UTC;
* ids: an imported event is a new event, with an ``event_id`` of its own (stable: derived
  from the target session and the row), so it never collides with the event it was
  exported from; the record's own id (``event_id``, ``id``, ``uuid``) is kept in
  ``payload["origin_event_id"]``.

Anything that still does not fit (no time, an unknown kind, a price that is not a number,
an unsafe session id) raises :class:`RowError` with the reason; the importer reports the
row and its line number and goes on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from src.execution.events import ORIGIN_EVENT_ID, ExecutionEvent
from src.execution.ids import new_id
from src.execution.schema import BOOLEAN_FIELDS, FLAT_COLUMNS, KINDS, MODES, NUMERIC_FIELDS
from src.execution.session_ids import validate_session_id

__all__ = ["RowError", "normalize", "parse_time"]


class RowError(ValueError):
    """A row that cannot become an event; the message says why."""


_TOP = {
    "ts": ("ts", "timestamp", "time", "event_time", "datetime", "created_at"),
    "session_id": ("session_id", "session", "sessionId", "run_id"),
    "symbol": ("symbol", "instrument", "ticker", "asset"),
    "mode": ("mode", "environment", "env", "trading_mode"),
    "kind": ("kind", "event_type", "eventType", "type", "event"),
    "seq": ("seq", "sequence", "seq_no"),
    "event_id": ("event_id", "eventId", "id", "uuid"),
    "mono_ns": ("mono_ns",),
}
# Other systems' names for our kinds and modes (each of ours is its own name too).
_KINDS = {
    "intent": ("signal", "order_intent"),
    "order": ("new_order", "order_new", "order_submitted", "submit"),
    "fill": ("execution", "exec", "trade", "fill_event", "filled"),
    "ack": ("acknowledged", "order_ack", "new_ack"),
    "partial_fill": ("partial", "partially_filled", "partial_execution"),
    "cancel": ("cancelled", "canceled", "order_cancelled", "order_canceled"),
    "expire": ("expired", "order_expired"),
    "reject": ("rejected", "order_rejected", "venue_reject"),
    "gate": ("risk_check", "pretrade_check", "check"),
    "error": ("exception", "failure"),
}
_MODES = {
    "backtest": ("simulation", "historical"),
    "paper": ("papertrading", "demo", "sandbox", "testnet"),
    "live": ("prod", "production", "real"),
}
_KIND_OF = {kind: kind for kind in KINDS} | {
    alias: kind for kind, names in _KINDS.items() if kind in KINDS for alias in names
}
_MODE_OF = {mode: mode for mode in MODES} | {
    alias: mode for mode, names in _MODES.items() if mode in MODES for alias in names
}
_SIDES = {"buy": "buy", "b": "buy", "bid": "buy", "long": "buy", "sell": "sell", "s": "sell",
          "ask": "sell", "offer": "sell", "short": "sell"}  # fmt: skip
_ORDER_TYPES = {"mkt": "market", "lmt": "limit"}
_DECISIONS = {
    **dict.fromkeys(("allow", "allowed", "pass", "passed", "accept", "accepted", "ok"), True),
    **dict.fromkeys(("block", "blocked", "reject", "rejected", "deny", "denied", "fail"), False),
}
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_CLIENT_ID = ("client_order_id", "clientOrderId", "clOrdId", "order_id", "orderId")
# Per kind: our key <- other spellings.
_PAYLOAD = {
    "intent": {"quantity": ("qty", "size"), "current_price": ("price",)},
    "order": {"quantity": ("qty", "size"), "limit_price": ("price",)},
    "fill": {
        "filled_quantity": ("qty", "quantity", "size", "last_qty", "filled_qty"),
        "fill_price": ("price", "last_price", "avg_price"),
        "fill_fee": ("fee", "commission"),
        "fill_notional": ("notional",),
    },
    "gate": {"gate_name": ("gate", "gate_id", "rule"), "reason": ("message",)},
    "error": {"error": ("message", "error_message")},
}


def parse_time(value: Any) -> datetime:
    """An aware UTC datetime from ISO 8601 text or an epoch number; ``RowError`` otherwise."""
    if isinstance(value, str):
        text = value.strip()
        try:
            number: float | None = float(text)
        except ValueError:
            number = None
        if number is None:
            try:
                dt = datetime.fromisoformat(text)
            except ValueError:
                raise RowError(f"invalid time {value!r}") from None
            try:
                return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
            except OverflowError:  # the instant lies outside what a datetime can hold in UTC
                raise RowError(f"invalid time {value!r}: out of range") from None
        value = number
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise RowError(f"invalid time {value!r}")
    magnitude = abs(value)
    # Epoch seconds until the year 5138, then milliseconds, microseconds, nanoseconds.
    for scale in (1, 1e3, 1e6, 1e9):
        if magnitude < 1e11 * scale:
            try:
                return datetime.fromtimestamp(value / scale, UTC)
            except (OverflowError, OSError, ValueError):
                break
    raise RowError(f"invalid time {value!r}")


def _pick(raw: Mapping[str, Any], names: tuple[str, ...]) -> tuple[str | None, Any]:
    for name in names:
        value = raw.get(name)
        if value is not None and value != "":
            return name, value
    return None, None


def _norm_word(value: Any, table: Mapping[str, Any], what: str) -> Any:
    if not isinstance(value, str) or value.strip().lower() not in table:
        raise RowError(f"invalid {what} {value!r}")
    return table[value.strip().lower()]


def _number(key: str, value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value.replace(",", "")) if value.strip() else None
        except ValueError:
            raise RowError(f"invalid number for {key}: {value!r}") from None
    if isinstance(value, bool) or (value is not None and not isinstance(value, (int, float))):
        raise RowError(f"invalid number for {key}: {value!r}")
    return value


def _boolean(key: str, value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise RowError(f"invalid boolean for {key}: {value!r}")
    if value in (0, 1) and not isinstance(value, float):
        return bool(value)
    if isinstance(value, bool) or value is None:
        return value
    raise RowError(f"invalid boolean for {key}: {value!r}")


def _normalize_payload(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    p = dict(payload)
    if "client_id" not in p:
        name, value = _pick(p, _CLIENT_ID)
        if name is not None:
            p["client_id"] = str(value)
            del p[name]
    for ours, others in _PAYLOAD.get(kind, {}).items():
        if ours not in p:
            name, value = _pick(p, others)
            if name is not None:
                p[ours] = p.pop(name)
    if kind == "gate" and "passed" not in p and "decision" in p:
        p["passed"] = _norm_word(p.pop("decision"), _DECISIONS, "decision")
    if isinstance(p.get("side"), str):
        p["side"] = _norm_word(p["side"], _SIDES, "side")
    if isinstance(p.get("order_type"), str):
        text = p["order_type"].strip().lower()
        p["order_type"] = _ORDER_TYPES.get(text, text)
    for key in NUMERIC_FIELDS & p.keys():
        p[key] = _number(key, p[key])
    for key in BOOLEAN_FIELDS & p.keys():
        p[key] = _boolean(key, p[key])
    return p


def _int(name: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise RowError(f"invalid {name} {value!r}: not an integer") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RowError(f"invalid {name} {value!r}: not an integer")
    return value


def normalize(
    raw: Mapping[str, Any],
    *,
    session_id: str | None = None,
    mode: str | None = None,
    identity: bytes = b"",
) -> ExecutionEvent:
    """The event ``raw`` describes, in this project's schema; ``RowError`` if it cannot be.

    ``session_id`` replaces the record's own (or supplies a missing one); ``mode`` supplies
    a missing mode. ``identity`` (e.g. the file, line and row) with the session seeds the
    new ``event_id``, so importing the same file twice gives the same ids (without it the
    id is random); the record's own id goes to ``payload["origin_event_id"]``.
    """
    top: dict[str, Any] = {}
    used: set[str] = set()
    for ours, names in _TOP.items():
        name, value = _pick(raw, names)
        if name is not None:
            top[ours] = value
            used.add(name)
    if "ts" not in top:
        raise RowError("missing ts (or timestamp/time)")
    if "kind" not in top:
        raise RowError("missing kind (or type/event_type)")
    kind = _norm_word(top["kind"], _KIND_OF, "kind")
    ts = parse_time(top["ts"])
    sid = session_id or top.get("session_id")
    if sid is None:
        raise RowError("missing session_id (pass --session-id to name the session)")
    try:
        sid = validate_session_id(str(sid))
    except ValueError as exc:
        raise RowError(str(exc)) from None
    mode_value = top.get("mode", mode)
    if mode_value is None:
        raise RowError("missing mode (pass --mode backtest|paper|live)")
    mode_name = _norm_word(mode_value, _MODE_OF, "mode")
    payload = raw.get("payload")
    if isinstance(payload, str):
        try:
            payload = orjson.loads(payload) if payload.strip() else {}
        except orjson.JSONDecodeError:
            raise RowError("payload is not valid JSON") from None
    # Fields that are neither event fields nor the payload belong to the payload, except the
    # flat payload columns of our own CSV export when the payload is there whole.
    skip = used | {"payload"} | (set(FLAT_COLUMNS) if payload is not None else set())
    extra = {k: v for k, v in raw.items() if k not in skip and v is not None and v != ""}
    if payload is None:
        payload = extra
    elif not isinstance(payload, dict):
        raise RowError("payload is not an object")
    elif extra:
        payload = {**extra, **payload}
    payload = _normalize_payload(kind, payload)
    origin = top.get("event_id")
    if origin is not None:
        payload[ORIGIN_EVENT_ID] = origin if isinstance(origin, str) else str(origin)
    if identity:
        seed = sid.encode() + b"\0" + identity
        event_id = "evt-imp-" + hashlib.blake2b(seed, digest_size=10).hexdigest()
    else:
        event_id = new_id("evt")
    symbol = top.get("symbol", "")
    return ExecutionEvent(
        ts=ts,
        session_id=sid,
        symbol=symbol if isinstance(symbol, str) else str(symbol),
        mode=mode_name,
        kind=kind,
        payload=payload,
        seq=_int("seq", top.get("seq")),
        event_id=event_id,
        mono_ns=_int("mono_ns", top.get("mono_ns")),
    )
