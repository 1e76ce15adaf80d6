"""The order tracker on its own (no pipeline): the working orders and the events of their
life go through the ``emit`` it is given, and nothing it is handed raises out of it."""

from __future__ import annotations

from src.execution.models import Ack, Fill, Order
from src.execution.tracker import OrderTracker

T0 = 1_790_000_000.0


def order(client_id: str, **changes: object) -> Order:
    fields: dict[str, object] = {
        "client_id": client_id,
        "intent_id": "i-" + client_id,
        "session_id": "s",
        "symbol": "BTC-USD",
        "side": "buy",
        "quantity": 2.0,
        "order_type": "limit",
        "limit_price": 100.0,
    }
    fields.update(changes)
    return Order(**fields)  # type: ignore[arg-type]


def piece(client_id: str, quantity: float, price: float) -> Fill:
    return Fill(
        client_id=client_id,
        intent_id="i-" + client_id,
        symbol="BTC-USD",
        side="buy",
        filled_quantity=quantity,
        fill_price=price,
        fee=0.0,
    )


class Venue:
    """Rests orders; ``on_price`` fills what is left of each (1.5 of 2) at the price."""

    def __init__(self) -> None:
        self.resting: list[str] = []

    def on_price(self, symbol: str, price: float) -> list[Fill]:
        filled, self.resting = self.resting, []
        return [piece(c, 1.5, price) for c in filled]

    def cancel(self, client_id: str) -> bool:
        if client_id not in self.resting:
            return False
        self.resting.remove(client_id)
        return True


def tracker(venue: object) -> tuple[OrderTracker, list[tuple[str, str, dict[str, object]]]]:
    events: list[tuple[str, str, dict[str, object]]] = []
    clock = [T0]

    def emit(kind: str, session_id: str, symbol: str, payload: object) -> None:
        events.append((kind, session_id, dict(payload)))  # type: ignore[call-overload]

    return OrderTracker(venue, emit, lambda: clock[0]), events


def test_an_order_is_acked_filled_in_pieces_and_a_late_report_is_an_error():
    venue = Venue()
    t, events = tracker(venue)

    def send() -> list[object]:
        venue.resting.append("c1")
        return [Ack(client_id="c1", order_id="v1"), piece("c1", 0.5, 99.0)]

    t.place(order("c0"), lambda: [])  # works on; the venue never fills it
    working = t.place(order("c1"), send)  # type: ignore[arg-type]
    assert working.ended is None and working.filled == 0.5
    assert [o.client_id for o in t.working] == ["c0", "c1"]
    assert [p.filled_quantity for p in t.on_price("BTC-USD", 98.0)] == [1.5]
    assert [o.client_id for o in t.working] == ["c0"] and working.ended == "filled"
    # A report after the order ended is a stray: an error event in the order's session.
    venue.resting.append("c1")
    assert t.on_price("BTC-USD", 97.0) == []
    assert [k for k, _, _ in events] == ["ack", "partial_fill", "fill", "error"]
    fill = events[2][2]
    assert fill["order_id"] == "v1" and fill["filled_quantity"] == 2.0
    assert fill["fill_price"] == (0.5 * 99.0 + 1.5 * 98.0) / 2
    _, sid, error = events[3]
    assert sid == "s" and error["stage"] == "report" and "(filled)" in str(error["error"])


def test_a_send_that_raises_leaves_an_error_event_and_no_working_order():
    t, events = tracker(object())

    def send() -> list[object]:
        raise ConnectionError("venue down")

    working = t.place(order("c2"), send)
    assert working.error == "ConnectionError: venue down"
    assert t.working == [] and t.cancel("c2", "late") is False
    ((kind, sid, payload),) = events
    assert (kind, sid, payload["stage"], payload["client_id"]) == ("error", "s", "execute", "c2")
    assert "venue down" in str(payload["stacktrace"])


def test_ioc_expires_at_once_and_a_deadline_expires_on_the_clock():
    venue = Venue()
    t, events = tracker(venue)
    ioc = t.place(order("c3", time_in_force="IOC"), lambda: [])
    assert ioc.ended == "expired"
    later = t.place(order("c4", expire_after_s=30.0), lambda: [])
    assert later.ended is None
    assert t.expire_due(T0 + 29) == [] and t.expire_due(T0 + 30) == ["c4"]
    assert [(k, p["client_id"]) for k, _, p in events] == [("expire", "c3"), ("expire", "c4")]
    assert events[1][2]["reason"] == "expire_after_s: 30 s after it was placed"
