"""Timeline rows: one readable line per event, written in exactly one place.

Descriptions follow the spec's wording (``Intent: BUY 1.000000 @ $100,000.00``,
``Order: BUY 1.000000 (market)``, ``Fill: 1.000000 @ $100,020.00 (fee: $10.0000)``,
``Gate [MaxNotional]: ❌ BLOCK (reason)``, ``Error: <message>``); the kinds of an order's
life after it read the same way (``Acknowledged c1 (venue pap-12)``, ``Partial fill 3 of 10
@ $101.20 (7 left)``, ``Cancelled c1: requested (3 of 10 filled)``, ``Expired c1: IOC (0 of
5 filled)``, ``Rejected c1: <reason>``). Missing or odd values never raise: they show as
``?``. Descriptions are plain text: the page escapes them, the terminal strips control
characters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from src.execution.jsontypes import JsonObject, JsonValue, Payload
from src.query.records import Record

__all__ = ["ExecutionTimelineRow", "describe", "row_from_record"]


def _num(value: JsonValue) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _qty(value: JsonValue) -> str:
    n = _num(value)
    return "?" if n is None else f"{n:.6f}"


def _money(value: JsonValue, places: int = 2) -> str:
    n = _num(value)
    return "$?" if n is None else f"${n:,.{places}f}"


def _text(value: JsonValue) -> str:
    return value if isinstance(value, str) else ("?" if value is None else str(value))


def _count(value: JsonValue) -> str:
    """A quantity without trailing zeros (``3``, ``0.25``, ``1.000001``)."""
    n = _num(value)
    if n is None:
        return "?"
    text = f"{n:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _order_name(p: Payload) -> str:
    cid = p.get("client_id")
    return _text(cid if cid is not None else p.get("order_id"))


def _of_total(done: JsonValue, remaining: JsonValue) -> str:
    """``3 of 10`` from the quantity done and the quantity left (``3`` when either is
    unknown)."""
    d, r = _num(done), _num(remaining)
    if d is None:
        return "?"
    return _count(d) if r is None else f"{_count(d)} of {_count(d + r)}"


def _ack(p: Payload) -> str:
    venue = p.get("order_id")
    suffix = f" (venue {_text(venue)})" if venue is not None else ""
    return f"Acknowledged {_order_name(p)}{suffix}"


def _partial_fill(p: Payload) -> str:
    piece = _count(p.get("filled_quantity"))
    cumulative, remaining = _num(p.get("cumulative_quantity")), _num(p.get("remaining_quantity"))
    total = ""
    if cumulative is not None and remaining is not None:
        total = f" of {_count(cumulative + remaining)}"
    left = f" ({_count(remaining)} left)" if remaining is not None else ""
    return f"Partial fill {piece}{total} @ {_money(p.get('fill_price'))}{left}"


def _ended(word: str, why: str) -> Callable[[Payload], str]:
    def text(p: Payload) -> str:
        reason = p.get("reason")
        if reason is None or reason == "":
            reason = p.get(why) if why else None
        because = f": {_text(reason)}" if reason is not None and reason != "" else ""
        done = p.get("filled_quantity")
        filled = (
            f" ({_of_total(done, p.get('remaining_quantity'))} filled)" if done is not None else ""
        )
        return f"{word} {_order_name(p)}{because}{filled}"

    return text


# The kinds of an order's life after the order (docs/events.md), one line each.
_LIFECYCLE: dict[str, Callable[[Payload], str]] = {
    "ack": _ack,
    "partial_fill": _partial_fill,
    "cancel": _ended("Cancelled", ""),
    "expire": _ended("Expired", "time_in_force"),
    "reject": _ended("Rejected", ""),
}


def describe(kind: str, payload: Payload) -> str:
    """The one-line description of an event of ``kind`` with ``payload``."""
    p: Payload = payload if isinstance(payload, Mapping) else {}
    if kind == "intent":
        side = _text(p.get("side")).upper()
        price = p.get("current_price")
        where = f" @ {_money(price)}" if price is not None else " (no price)"
        return f"Intent: {side} {_qty(p.get('quantity'))}{where}"
    if kind == "order":
        side = _text(p.get("side")).upper()
        order_type = _text(p.get("order_type") or "market")
        if order_type == "limit" and p.get("limit_price") is not None:
            order_type = f"limit @ {_money(p.get('limit_price'))}"
        return f"Order: {side} {_qty(p.get('quantity'))} ({order_type})"
    if kind == "fill":
        return (
            f"Fill: {_qty(p.get('filled_quantity'))} @ {_money(p.get('fill_price'))} "
            f"(fee: {_money(p.get('fill_fee'), 4)})"
        )
    if kind == "gate":
        name = _text(p.get("gate_name"))
        if p.get("passed") is True:
            return f"Gate [{name}]: ✅ PASS"
        reason = p.get("reason")
        suffix = f" ({_text(reason)})" if reason else ""
        return f"Gate [{name}]: ❌ BLOCK{suffix}"
    if kind == "error":
        return f"Error: {_text(p.get('error'))}"
    lifecycle = _LIFECYCLE.get(kind)
    if lifecycle is not None:
        return lifecycle(p)
    return f"{kind.capitalize()}: " + ", ".join(f"{k}={v}" for k, v in list(p.items())[:6])


@dataclass(frozen=True)
class ExecutionTimelineRow:
    """One event as a timeline shows it; ``details`` is the event's payload."""

    ts: datetime
    kind: str
    symbol: str
    description: str
    details: JsonObject = field(default_factory=dict)
    session_id: str = ""
    seq: int | None = None
    event_id: str | None = None

    def to_dict(self) -> JsonObject:
        return {
            "ts": self.ts.isoformat(),
            "kind": self.kind,
            "symbol": self.symbol,
            "description": self.description,
            "details": self.details,
            "session_id": self.session_id,
            "seq": self.seq,
            "event_id": self.event_id,
        }


def row_from_record(rec: Record) -> ExecutionTimelineRow:
    data = rec.data
    raw_ts = data["ts"]
    try:
        if not isinstance(raw_ts, str):
            raise TypeError(raw_ts)
        ts = datetime.fromisoformat(raw_ts)
    except (TypeError, ValueError):
        ts = datetime.fromtimestamp(rec.t, UTC)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    seq = data.get("seq")
    event_id = data.get("event_id")
    return ExecutionTimelineRow(
        ts=ts,
        kind=rec.kind,
        symbol=rec.symbol,
        description=describe(rec.kind, rec.payload),
        details=rec.payload,
        session_id=rec.session_id,
        seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
        event_id=event_id if isinstance(event_id, str) else None,
    )
