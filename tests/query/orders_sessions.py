"""A hand-written session with every path of an order's life (``docs/events.md``), for the
order blotter's tests (query, API, CLI). Written line by line with the kinds of
``src/execution/schema.py``, as the logger writes them (``{"ts": ...`` first)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC).timestamp()
SESSION = "orders-life"


def line(
    t: float,
    kind: str,
    symbol: object = "BTC-USD",
    *,
    session: str = SESSION,
    mono: int | None = None,
    event_id: str | None = None,
    **payload: object,
) -> str:
    event: dict[str, object] = {
        "ts": datetime.fromtimestamp(t, UTC).isoformat(),
        "session_id": session,
        "symbol": symbol,
        "mode": "paper",
        "kind": kind,
        "payload": payload,
    }
    if mono is not None:
        event["mono_ns"] = mono
    if event_id is not None:
        event["event_id"] = event_id
    return json.dumps(event)


def lifecycle_lines(t0: float = T0, session: str = SESSION) -> list[str]:
    """Every lifecycle path, each order a few seconds after the previous one."""
    s = {"session": session}
    out: list[str] = []

    def at(n: float) -> float:
        return t0 + n

    # 1. filled: two gates pass, ack, one fill; mono_ns from one producer.
    out += [
        line(
            at(0),
            "intent",
            mono=1_000_000_000,
            event_id="evt-aa-1",
            intent_id="i1",
            side="buy",
            quantity=1.0,
            current_price=100.0,
            order_type="market",
            **s,
        ),
        line(
            at(0.001),
            "gate",
            mono=1_001_000_000,
            event_id="evt-aa-2",
            intent_id="i1",
            gate_name="Risk",
            passed=True,
            **s,
        ),
        line(
            at(0.002),
            "gate",
            mono=1_002_000_000,
            event_id="evt-aa-3",
            intent_id="i1",
            gate_name="MaxNotional",
            passed=True,
            **s,
        ),
        line(
            at(0.005),
            "order",
            mono=1_005_000_000,
            event_id="evt-aa-4",
            client_id="c1",
            intent_id="i1",
            side="buy",
            quantity=1.0,
            order_type="market",
            **s,
        ),
        line(
            at(0.015),
            "ack",
            mono=1_015_000_000,
            event_id="evt-aa-5",
            client_id="c1",
            intent_id="i1",
            side="buy",
            order_id="v1",
            **s,
        ),
        line(
            at(0.025),
            "fill",
            mono=1_025_000_000,
            event_id="evt-aa-6",
            client_id="c1",
            intent_id="i1",
            side="buy",
            filled_quantity=1.0,
            fill_price=100.1,
            fill_notional=100.1,
            fill_fee=0.01,
            reference_price=100.0,
            **s,
        ),
    ]
    # 2. partially filled, then cancelled on request.
    out += [
        line(
            at(2),
            "intent",
            intent_id="i2",
            side="sell",
            quantity=1.0,
            current_price=200.0,
            order_type="limit",
            limit_price=201.0,
            **s,
        ),
        line(at(2.001), "gate", intent_id="i2", gate_name="Risk", passed=True, **s),
        line(
            at(2.002),
            "order",
            client_id="c2",
            intent_id="i2",
            side="sell",
            quantity=1.0,
            order_type="limit",
            limit_price=201.0,
            time_in_force="GTC",
            **s,
        ),
        line(at(2.01), "ack", client_id="c2", intent_id="i2", side="sell", **s),
        line(
            at(2.5),
            "partial_fill",
            client_id="c2",
            intent_id="i2",
            side="sell",
            filled_quantity=0.4,
            fill_price=201.0,
            fill_notional=80.4,
            fill_fee=0.008,
            reference_price=200.0,
            cumulative_quantity=0.4,
            remaining_quantity=0.6,
            **s,
        ),
        line(
            at(3),
            "cancel",
            client_id="c2",
            intent_id="i2",
            side="sell",
            reason="cancel requested",
            filled_quantity=0.4,
            remaining_quantity=0.6,
            **s,
        ),
    ]
    # 3. partially filled, then filled (the fill carries the order's totals).
    out += [
        line(at(4), "intent", intent_id="i3", side="buy", quantity=2.0, current_price=50.0, **s),
        line(
            at(4.001),
            "order",
            client_id="c3",
            intent_id="i3",
            side="buy",
            quantity=2.0,
            order_type="market",
            **s,
        ),
        line(at(4.002), "ack", client_id="c3", intent_id="i3", side="buy", **s),
        line(
            at(4.003),
            "partial_fill",
            client_id="c3",
            intent_id="i3",
            side="buy",
            filled_quantity=0.5,
            fill_price=50.0,
            fill_notional=25.0,
            fill_fee=0.0025,
            cumulative_quantity=0.5,
            remaining_quantity=1.5,
            **s,
        ),
        line(
            at(4.004),
            "fill",
            client_id="c3",
            intent_id="i3",
            side="buy",
            filled_quantity=2.0,
            fill_price=50.075,
            fill_notional=100.15,
            fill_fee=0.01,
            reference_price=50.0,
            **s,
        ),
    ]
    # 4. cancelled with nothing filled; 5. expired (IOC); 6. rejected by the venue.
    out += [
        line(
            at(6),
            "intent",
            "ETH-USD",
            intent_id="i4",
            side="buy",
            quantity=1.0,
            current_price=10.0,
            **s,
        ),
        line(
            at(6.001),
            "order",
            "ETH-USD",
            client_id="c4",
            intent_id="i4",
            side="buy",
            quantity=1.0,
            order_type="limit",
            limit_price=9.0,
            **s,
        ),
        line(at(6.002), "ack", "ETH-USD", client_id="c4", intent_id="i4", **s),
        line(
            at(7),
            "cancel",
            "ETH-USD",
            client_id="c4",
            intent_id="i4",
            reason="cancel requested",
            filled_quantity=0.0,
            remaining_quantity=1.0,
            **s,
        ),
        line(
            at(8),
            "intent",
            "ETH-USD",
            intent_id="i5",
            side="sell",
            quantity=1.0,
            current_price=10.0,
            time_in_force="IOC",
            **s,
        ),
        line(
            at(8.001),
            "order",
            "ETH-USD",
            client_id="c5",
            intent_id="i5",
            side="sell",
            quantity=1.0,
            order_type="limit",
            limit_price=11.0,
            time_in_force="IOC",
            **s,
        ),
        line(
            at(8.002),
            "expire",
            "ETH-USD",
            client_id="c5",
            intent_id="i5",
            reason="IOC remainder",
            time_in_force="IOC",
            filled_quantity=0.0,
            remaining_quantity=1.0,
            **s,
        ),
        line(at(10), "intent", intent_id="i6", side="buy", quantity=5.0, current_price=100.0, **s),
        line(at(10.001), "order", client_id="c6", intent_id="i6", side="buy", quantity=5.0, **s),
        line(
            at(10.002),
            "reject",
            client_id="c6",
            intent_id="i6",
            side="buy",
            reason="insufficient balance",
            **s,
        ),
    ]
    # 7. blocked by a gate; 8. execution error.
    out += [
        line(
            at(12), "intent", intent_id="i7", side="buy", quantity=100.0, current_price=100.0, **s
        ),
        line(at(12.001), "gate", intent_id="i7", gate_name="Risk", passed=True, **s),
        line(
            at(12.002),
            "gate",
            intent_id="i7",
            gate_name="MaxNotional",
            passed=False,
            reason="notional over limit",
            **s,
        ),
        line(at(14), "intent", intent_id="i8", side="sell", quantity=1.0, current_price=100.0, **s),
        line(at(14.001), "order", client_id="c8", intent_id="i8", side="sell", quantity=1.0, **s),
        line(
            at(14.002),
            "error",
            client_id="c8",
            intent_id="i8",
            stage="execute",
            error="ConnectionError: venue down",
            **s,
        ),
    ]
    # 9-11. open: acknowledged, just sent, partially filled.
    out += [
        line(at(16), "intent", intent_id="i9", side="buy", quantity=1.0, current_price=100.0, **s),
        line(
            at(16.001),
            "order",
            client_id="c9",
            intent_id="i9",
            side="buy",
            quantity=1.0,
            order_type="limit",
            limit_price=95.0,
            **s,
        ),
        line(at(16.002), "ack", client_id="c9", intent_id="i9", **s),
        line(
            at(18),
            "intent",
            "ETH-USD",
            intent_id="i10",
            side="sell",
            quantity=3.0,
            current_price=10.0,
            **s,
        ),
        line(
            at(18.001),
            "order",
            "ETH-USD",
            client_id="c10",
            intent_id="i10",
            side="sell",
            quantity=3.0,
            **s,
        ),
        line(at(20), "intent", intent_id="i11", side="buy", quantity=4.0, current_price=100.0, **s),
        line(
            at(20.001),
            "order",
            client_id="c11",
            intent_id="i11",
            side="buy",
            quantity=4.0,
            order_type="limit",
            limit_price=99.0,
            **s,
        ),
        line(at(20.002), "ack", client_id="c11", intent_id="i11", **s),
        line(
            at(20.5),
            "partial_fill",
            client_id="c11",
            intent_id="i11",
            side="buy",
            filled_quantity=1.0,
            fill_price=99.0,
            fill_notional=99.0,
            fill_fee=0.01,
            cumulative_quantity=1.0,
            remaining_quantity=3.0,
            **s,
        ),
    ]
    # 12. a fill whose order was not logged: it pairs with its intent by intent_id.
    out += [
        line(
            at(22), "intent", intent_id="i12", side="sell", quantity=1.0, current_price=100.0, **s
        ),
        line(at(22.001), "gate", intent_id="i12", gate_name="Risk", passed=True, **s),
        line(
            at(22.01),
            "fill",
            client_id="c12",
            intent_id="i12",
            side="sell",
            filled_quantity=1.0,
            fill_price=99.9,
            fill_notional=99.9,
            fill_fee=0.01,
            **s,
        ),
    ]
    # Lines every reader skips: not JSON, an array symbol, an object client id.
    out += [
        "not json",
        line(at(23), "fill", ["x"], client_id="c9", filled_quantity=1.0, fill_price=1.0, **s),
        line(at(23.5), "cancel", client_id={"a": 1}, reason="odd", **s),
    ]
    return out


EXPECTED_STATUS = {
    "c1": "filled",
    "c2": "cancelled",
    "c3": "filled",
    "c4": "cancelled",
    "c5": "expired",
    "c6": "rejected",
    "i7": "blocked",
    "c8": "error",
    "c9": "open",
    "c10": "open",
    "c11": "open",
    "c12": "filled",
}
NEWEST_FIRST = ["c12", "c11", "c10", "c9", "c8", "i7", "c6", "c5", "c4", "c3", "c2", "c1"]


def write_session(base: Path, session: str = SESSION, t0: float = T0) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    path = base / f"{session}.jsonl"
    path.write_text("\n".join(lifecycle_lines(t0, session)) + "\n")
    return path
