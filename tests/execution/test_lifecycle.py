"""An order's life in the pipeline: acks, partial fills, one fill with the order's totals,
cancels, time in force (IOC, DAY, expire_after_s), venue rejects, and failures on the way."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from src.execution import (
    Ack,
    ExecutionEvent,
    ExecutionPipeline,
    Fill,
    Order,
    OrderIntent,
    PaperExecutor,
    Reject,
)
from src.execution.schema import TERMINAL_KINDS
from src.execution.telemetry.testing import InMemoryEmitter, capture_events


def intent(**changes: object) -> OrderIntent:
    fields: dict[str, object] = {
        "symbol": "BTC-USD",
        "side": "buy",
        "quantity": 1.0,
        "session_id": "life",
    }
    fields.update(changes)
    return OrderIntent(**fields)  # type: ignore[arg-type]


def pipeline(events: InMemoryEmitter, **venue: Any) -> ExecutionPipeline:
    venue = {"slippage_bps": 0, "fee_bps": 0, **venue}
    p = ExecutionPipeline(PaperExecutor(**venue), events)
    p.update_price("BTC-USD", 100.0)
    return p


def of(events: InMemoryEmitter, kind: str, client_id: str | None = None) -> list[dict[str, Any]]:
    return [
        dict(e.payload)
        for e in events
        if e.kind == kind and (client_id is None or e.payload.get("client_id") == client_id)
    ]


def life(events: InMemoryEmitter, client_id: str) -> list[str]:
    """The kinds of one order's events after its order event."""
    return [
        e.kind
        for e in events
        if e.payload.get("client_id") == client_id and e.kind not in ("intent", "gate")
    ]


# -- acks and partial fills ---------------------------------------------------------------


def test_pieces_are_partial_fills_and_one_fill_carries_the_whole_order():
    """An order filling in three pieces: two partial_fill events (the piece's numbers plus
    cumulative and remaining quantity), then one fill with the totals: quantity, average
    price, notional, fees, and the quantity-weighted reference price."""
    with capture_events() as events:
        p = pipeline(events, fee_bps=10, max_fill_quantity=1.0)
        result = p.submit_order(intent(quantity=2.5))
        assert (result.status, result.filled_quantity, result.fill) == ("open", 1.0, None)
        assert result.order_id is not None and result.order_id.startswith("pap-")
        assert len(p.update_price("BTC-USD", 110.0)) == 1
        assert len(p.update_price("BTC-USD", 120.0)) == 1
        assert p.update_price("BTC-USD", 130.0) == []  # complete: nothing left to fill
    cid = result.order.client_id
    assert life(events, cid) == ["order", "ack", "partial_fill", "partial_fill", "fill"]
    first, second = of(events, "partial_fill", cid)
    assert (first["filled_quantity"], first["fill_price"], first["reference_price"]) == (
        1.0,
        100.0,
        100.0,
    )
    assert (first["cumulative_quantity"], first["remaining_quantity"]) == (1.0, 1.5)
    assert (second["cumulative_quantity"], second["remaining_quantity"]) == (2.0, 0.5)
    assert second["fill_fee"] == pytest.approx(110.0 * 10 / 10_000)
    (fill,) = of(events, "fill", cid)
    notional = 100.0 + 110.0 + 0.5 * 120.0
    assert fill["filled_quantity"] == 2.5
    assert fill["fill_notional"] == pytest.approx(notional)
    assert fill["fill_price"] == pytest.approx(notional / 2.5)
    assert fill["fill_fee"] == pytest.approx(notional * 10 / 10_000)
    assert fill["reference_price"] == pytest.approx(notional / 2.5)  # no slippage here
    assert fill["order_id"] == first["order_id"] == result.order_id
    assert p.working_orders == []


def test_a_one_piece_fill_is_the_venues_fill_as_it_was():
    """Filling at once in one piece: the result's fill is the venue's fill itself."""
    with capture_events() as events:
        result = pipeline(events, slippage_bps=10).submit_order(intent())
    assert result.status == "filled" and result.filled_quantity == 1.0
    (fill,) = of(events, "fill")
    assert fill["fill_price"] == result.fill.fill_price == pytest.approx(100.1)
    assert fill["reference_price"] == 100.0


def test_an_old_style_executor_reporting_a_partial_fill_works_on():
    """An executor of the original interface returning less than the order: a
    partial_fill, the order works on, and on_price's piece completes it with one fill."""

    class HalfNow:
        def __init__(self) -> None:
            self.order: Order | None = None

        def execute(self, order: Order, market_price: float | None) -> Fill | None:
            self.order = order
            return self._piece(order.quantity / 2, 100.0)

        def on_price(self, symbol: str, price: float) -> list[Fill]:
            assert self.order is not None
            return [self._piece(self.order.quantity / 2, price)]

        def _piece(self, quantity: float, price: float) -> Fill:
            assert self.order is not None
            return Fill(
                client_id=self.order.client_id,
                intent_id=self.order.intent_id,
                symbol=self.order.symbol,
                side=self.order.side,
                filled_quantity=quantity,
                fill_price=price,
                fee=0.0,
                reference_price=price,
            )

    with capture_events() as events:
        p = ExecutionPipeline(HalfNow(), events)
        result = p.submit_order(intent(quantity=2.0, current_price=100.0))
        assert (result.status, result.filled_quantity) == ("open", 1.0)
        p.update_price("BTC-USD", 102.0)
    assert life(events, result.order.client_id) == ["order", "partial_fill", "fill"]
    (fill,) = of(events, "fill")
    assert (fill["filled_quantity"], fill["fill_price"]) == (2.0, 101.0)
    assert "order_id" not in fill  # no ack, no venue id


# -- venue rejects ------------------------------------------------------------------------


def test_a_venue_reject_ends_the_order_with_its_reason():
    """A rejected order: order, reject (reason naming the values); status "rejected"."""
    with capture_events() as events:
        p = pipeline(events, price_band_bps=100)
        result = p.submit_order(intent(order_type="limit", limit_price=90.0))
    assert (result.status, result.fill, result.order_id) == ("rejected", None, None)
    assert result.reason == (
        "limit price 90.00 is 1,000 bps from the market 100.00 (price band 100 bps)"
    )
    cid = result.order.client_id
    assert life(events, cid) == ["order", "reject"]
    (reject,) = of(events, "reject")
    assert reject["reason"] == result.reason
    assert reject["intent_id"] == result.intent.intent_id and reject["side"] == "buy"
    assert p.working_orders == []


def test_a_reject_after_an_ack_carries_the_venue_id():
    """A venue may ack, then refuse: the reject ends the order and names the venue id."""

    class AckThenReject:
        def submit(self, order: Order, market_price: float | None) -> list[Any]:
            return [
                Ack(client_id=order.client_id, order_id="v-1"),
                Reject(client_id=order.client_id, reason="risk limit at the venue"),
            ]

        def on_price(self, symbol: str, price: float) -> list[Fill]:
            return []

        def cancel(self, client_id: str) -> bool:
            return False

    with capture_events() as events:
        result = ExecutionPipeline(AckThenReject(), events).submit_order(intent(current_price=1.0))
    assert (result.status, result.order_id, result.reason) == (
        "rejected",
        "v-1",
        "risk limit at the venue",
    )
    assert of(events, "reject")[0]["order_id"] == "v-1"


# -- time in force ------------------------------------------------------------------------


def test_ioc_remainder_expires_at_once_and_leaves_the_venue():
    """IOC: what fills at once fills (a partial_fill), the rest expires in the same call;
    the venue no longer works it, so a later price fills nothing."""
    with capture_events() as events:
        p = pipeline(events, max_fill_quantity=1.0)
        result = p.submit_order(intent(quantity=3.0, time_in_force="ioc"))
        assert p._executor.open_orders == []  # type: ignore[union-attr]
        assert p.update_price("BTC-USD", 100.0) == []
    assert (result.status, result.filled_quantity) == ("expired", 1.0)
    cid = result.order.client_id
    assert life(events, cid) == ["order", "ack", "partial_fill", "expire"]
    (expire,) = of(events, "expire")
    assert (expire["time_in_force"], expire["filled_quantity"], expire["remaining_quantity"]) == (
        "IOC",
        1.0,
        2.0,
    )
    assert expire["reason"].startswith("IOC")
    assert of(events, "order")[0]["time_in_force"] == "IOC"


def test_ioc_that_fills_completely_is_filled_and_a_resting_ioc_limit_expires():
    with capture_events() as events:
        p = pipeline(events)
        filled = p.submit_order(intent(time_in_force="IOC"))
        missed = p.submit_order(intent(time_in_force="IOC", order_type="limit", limit_price=90.0))
    assert filled.status == "filled"
    assert life(events, filled.order.client_id) == ["order", "ack", "fill"]
    assert (missed.status, missed.filled_quantity) == ("expired", 0.0)
    assert life(events, missed.order.client_id) == ["order", "ack", "expire"]


def test_day_orders_expire_at_the_end_of_the_utc_day_they_were_placed():
    """A DAY limit works until the next UTC midnight: expire_orders before it (a naive time
    is UTC) leaves it alone, at midnight it expires, once."""
    for _ in range(2):  # placed across midnight (at most once in a row): place it again
        events = InMemoryEmitter()
        p = pipeline(events)
        before = datetime.now(UTC)
        result = p.submit_order(intent(order_type="limit", limit_price=90.0, time_in_force="DAY"))
        if before.date() == datetime.now(UTC).date():
            break
    midnight = (before + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    cid = result.order.client_id
    assert p.expire_orders(midnight - timedelta(microseconds=1)) == []
    assert p.expire_orders((midnight - timedelta(seconds=1)).replace(tzinfo=None)) == []
    assert p.working_orders == [result.order]
    assert p.expire_orders(midnight) == [cid]
    assert p.expire_orders(midnight + timedelta(days=2)) == []
    assert life(events, cid) == ["order", "ack", "expire"]
    (expire,) = of(events, "expire")
    assert (expire["time_in_force"], expire["remaining_quantity"]) == ("DAY", 1.0)
    assert "UTC day" in expire["reason"]


def test_expire_after_s_counts_from_placing():
    """expire_after_s: working until that many seconds after it was placed, then expired."""
    with capture_events() as events:
        p = pipeline(events)
        before = datetime.now(UTC)
        result = p.submit_order(intent(order_type="limit", limit_price=90.0, expire_after_s=60))
        assert p.expire_orders(before + timedelta(seconds=59)) == []
        assert p.expire_orders(before + timedelta(seconds=61)) == [result.order.client_id]
    (expire,) = of(events, "expire")
    assert expire["reason"] == "expire_after_s: 60 s after it was placed"
    assert (expire["time_in_force"], expire["filled_quantity"]) == ("GTC", 0.0)
    assert of(events, "intent")[0]["expire_after_s"] == 60.0
    assert p._executor.open_orders == []  # type: ignore[union-attr]


def test_update_price_expires_what_has_run_out_on_the_pipelines_clock():
    """The host need not call expire_orders: a price update checks the deadlines too, on the
    pipeline's clock (a simulation's own, here)."""
    now = [1_000_000.0]
    with capture_events() as events:
        p = ExecutionPipeline(PaperExecutor(), events, clock=lambda: now[0])
        p.update_price("BTC-USD", 100.0)
        result = p.submit_order(intent(order_type="limit", limit_price=90.0, expire_after_s=5))
        now[0] += 4.9
        p.update_price("ETH-USD", 10.0)  # any symbol
        assert p.working_orders == [result.order]
        now[0] += 0.1
        p.update_price("ETH-USD", 10.0)
        assert p.working_orders == []
    assert life(events, result.order.client_id) == ["order", "ack", "expire"]


def test_expire_orders_defaults_to_the_pipelines_clock():
    now = [86_400.0 * 20_000 + 3_600.0]  # 01:00 UTC
    p = ExecutionPipeline(PaperExecutor(), clock=lambda: now[0])
    p.update_price("BTC-USD", 100.0)
    day = p.submit_order(intent(order_type="limit", limit_price=90.0, time_in_force="DAY"))
    now[0] += 23 * 3_600.0 - 0.001
    assert p.expire_orders() == []
    now[0] += 0.001  # midnight
    assert p.expire_orders() == [day.order.client_id]


def test_gtc_orders_never_expire():
    with capture_events() as events:
        p = pipeline(events)
        result = p.submit_order(intent(order_type="limit", limit_price=90.0))
        assert p.expire_orders(datetime.now(UTC) + timedelta(days=3650)) == []
    assert p.working_orders == [result.order]


# -- cancel -------------------------------------------------------------------------------


def test_cancel_order_ends_a_working_order_once():
    """cancel_order: True and one cancel event (reason, filled and remaining quantity, venue
    id); the venue stops working it; a second cancel, an unknown or odd id: False, no event."""
    with capture_events() as events:
        p = pipeline(events, max_fill_quantity=1.0)
        result = p.submit_order(intent(quantity=3.0, order_type="limit", limit_price=100.0))
        cid = result.order.client_id
        assert p.cancel_order(cid, reason="desk closing") is True
        assert p.cancel_order(cid) is False
        assert p.cancel_order("ord-unknown") is False
        assert p.cancel_order(["not", "an", "id"]) is False  # type: ignore[arg-type]
        assert p.update_price("BTC-USD", 50.0) == []  # nothing left at the venue
    assert life(events, cid) == ["order", "ack", "partial_fill", "cancel"]
    (cancel,) = of(events, "cancel")
    assert cancel["reason"] == "desk closing"
    assert (cancel["filled_quantity"], cancel["remaining_quantity"]) == (1.0, 2.0)
    assert cancel["order_id"] == result.order_id
    assert p.working_orders == []


def test_ended_orders_cannot_be_cancelled():
    with capture_events() as events:
        p = pipeline(events, price_band_bps=10)
        filled = p.submit_order(intent())
        rejected = p.submit_order(intent(order_type="limit", limit_price=50.0))
        expired = p.submit_order(intent(order_type="limit", limit_price=99.0, time_in_force="IOC"))
        for result in (filled, rejected, expired):
            assert p.cancel_order(result.order.client_id) is False
    assert of(events, "cancel") == []
    assert p.cancel_order(filled.order.client_id, reason="default") is False


def test_the_default_reason_is_requested():
    with capture_events() as events:
        p = pipeline(events)
        cid = p.submit_order(intent(order_type="limit", limit_price=90.0)).order.client_id
        assert p.cancel_order(cid)
    assert of(events, "cancel")[0]["reason"] == "requested"


class FlakyVenue(PaperExecutor):
    def __init__(self, cancel_answer: object) -> None:
        super().__init__(slippage_bps=0, fee_bps=0)
        self.cancel_answer = cancel_answer

    def cancel(self, client_id: str) -> bool:
        if isinstance(self.cancel_answer, Exception):
            raise self.cancel_answer
        return bool(self.cancel_answer)


def test_an_executor_raising_in_cancel_leaves_an_error_and_returns_false():
    """Never raised to the caller: an error event (stage cancel, naming the order), False,
    and the order still works (it can be cancelled once the venue answers)."""
    venue = FlakyVenue(ConnectionError("venue timeout"))
    with capture_events() as events:
        p = ExecutionPipeline(venue, events)
        p.update_price("BTC-USD", 100.0)
        result = p.submit_order(intent(order_type="limit", limit_price=90.0))
        cid = result.order.client_id
        assert p.cancel_order(cid) is False
        assert p.working_orders == [result.order]
        venue.cancel_answer = True
        assert p.cancel_order(cid) is True
    (error,) = of(events, "error")
    assert error["stage"] == "cancel"
    assert error["client_id"] == cid and error["intent_id"] == result.intent.intent_id
    assert "ConnectionError: venue timeout" in error["error"]
    assert "Traceback" in error["stacktrace"]
    assert life(events, cid) == ["order", "ack", "error", "cancel"]


def test_a_venue_that_will_not_cancel_gives_false_and_no_event():
    with capture_events() as events:
        p = ExecutionPipeline(FlakyVenue(False), events)
        p.update_price("BTC-USD", 100.0)
        result = p.submit_order(intent(order_type="limit", limit_price=90.0))
        assert p.cancel_order(result.order.client_id) is False
    assert of(events, "cancel") == [] and of(events, "error") == []
    assert p.working_orders == [result.order]


def test_an_executor_without_cancel_is_cancelled_in_the_pipeline():
    """The original interface has no cancel: the pipeline stops tracking the order and says
    so with a cancel event."""

    class NeverFills:
        def execute(self, order: Order, market_price: float | None) -> Fill | None:
            return None

    with capture_events() as events:
        p = ExecutionPipeline(NeverFills(), events)
        result = p.submit_order(intent(current_price=1.0))
        assert result.status == "open"
        assert p.cancel_order(result.order.client_id) is True
    assert life(events, result.order.client_id) == ["order", "cancel"]


# -- failures never reach the caller ------------------------------------------------------


def test_an_executor_raising_in_on_price_leaves_an_error_per_session():
    class BadPrices(PaperExecutor):
        def on_price(self, symbol: str, price: float) -> list[Fill]:
            raise RuntimeError("feed handler crashed")

    with capture_events() as events:
        p = ExecutionPipeline(BadPrices(), events)
        p.update_price("BTC-USD", 100.0)
        p.submit_order(intent(order_type="limit", limit_price=90.0, session_id="s1"))
        p.submit_order(intent(order_type="limit", limit_price=90.0, session_id="s2"))
        assert p.update_price("BTC-USD", 80.0) == []
    errors = [e for e in events if e.kind == "error"]
    assert sorted(e.session_id for e in errors) == ["s1", "s2"]
    assert {e.payload["stage"] for e in errors} == {"on_price"}
    assert "feed handler crashed" in errors[0].payload["error"]


def test_an_executor_raising_in_cancel_on_expiry_still_expires():
    with capture_events() as events:
        p = ExecutionPipeline(FlakyVenue(OSError("gone")), events)
        p.update_price("BTC-USD", 100.0)
        result = p.submit_order(intent(order_type="limit", limit_price=9.0, time_in_force="IOC"))
    assert result.status == "expired"
    assert life(events, result.order.client_id) == ["order", "ack", "error", "expire"]
    assert of(events, "error")[0]["stage"] == "expire"


def test_a_late_fill_for_a_cancelled_order_is_an_error_not_a_second_end():
    """A venue reporting a fill for an order the pipeline already ended (the race of a fill
    and a cancel): an error event (stage report) in the order's session, no fill event."""

    class LateFill(PaperExecutor):
        late: ClassVar[list[Fill]] = []

        def on_price(self, symbol: str, price: float) -> list[Fill]:
            late, self.late = self.late, []
            return late + super().on_price(symbol, price)

    venue = LateFill(slippage_bps=0, fee_bps=0)
    with capture_events() as events:
        p = ExecutionPipeline(venue, events)
        p.update_price("BTC-USD", 100.0)
        gone = p.submit_order(intent(order_type="limit", limit_price=90.0, session_id="s-late"))
        p.submit_order(intent(order_type="limit", limit_price=10.0, session_id="s-other"))
        assert p.cancel_order(gone.order.client_id)
        venue.late = [
            Fill(
                client_id=gone.order.client_id,
                intent_id=gone.intent.intent_id,
                symbol="BTC-USD",
                side="buy",
                filled_quantity=1.0,
                fill_price=89.0,
                fee=0.0,
            )
        ]
        assert p.update_price("BTC-USD", 89.0) == []
    assert life(events, gone.order.client_id) == ["order", "ack", "cancel", "error"]
    error = next(e for e in events if e.kind == "error")
    assert error.session_id == "s-late" and error.payload["stage"] == "report"
    assert "(cancelled) was not applied" in error.payload["error"]


def test_a_broken_sink_never_stops_the_lifecycle():
    """With every emit failing, cancels, expiries and partial fills still happen."""

    class Broken:
        def emit(self, event: ExecutionEvent) -> None:
            raise OSError(28, "No space left on device")

    p = ExecutionPipeline(PaperExecutor(max_fill_quantity=1.0), Broken())
    p.update_price("BTC-USD", 100.0)
    assert p.submit_order(intent(quantity=2.0, time_in_force="IOC")).status == "expired"
    resting = p.submit_order(intent(order_type="limit", limit_price=90.0, expire_after_s=5))
    assert p.cancel_order(resting.order.client_id) is True
    later = p.submit_order(intent(order_type="limit", limit_price=90.0, expire_after_s=5))
    assert p.expire_orders(datetime.now(UTC) + timedelta(seconds=6)) == [later.order.client_id]
    assert p.telemetry_errors > 0 and p.working_orders == []


def test_concurrent_cancels_and_expiries_end_each_order_once():
    """A host thread cancelling and expiring while the strategy submits and prices move:
    every order ends at most once, and the ones still working have no end."""
    with capture_events() as events:
        p = pipeline(events, max_fill_quantity=0.5)
        done = threading.Event()

        def host() -> None:
            while not done.is_set():
                for order in p.working_orders[:5]:
                    p.cancel_order(order.client_id)
                p.expire_orders()

        thread = threading.Thread(target=host)
        thread.start()
        try:
            for n in range(300):
                price = 100.0 + (n % 7) - 3
                p.update_price("BTC-USD", price)
                p.submit_order(
                    intent(
                        quantity=1.5,
                        order_type="limit",
                        limit_price=price - 1 + (n % 3),
                        expire_after_s=0.001 if n % 2 else None,
                        time_in_force="IOC" if n % 11 == 0 else "GTC",
                    )
                )
        finally:
            done.set()
            thread.join(30)
    ends = Counter(e.payload["client_id"] for e in events if e.kind in TERMINAL_KINDS)
    assert ends and max(ends.values()) == 1
    working = {o.client_id for o in p.working_orders}
    assert working.isdisjoint(ends)
    assert len(ends) + len(working) == len(of(events, "order")) == 300


def test_a_malformed_report_is_an_error_event_never_an_exception():
    """An executor returning something that is not a report, or a fill whose numbers are
    not numbers: error events (stage report); the caller gets a result, the order works on."""

    class Sloppy:
        def __init__(self, answer: object) -> None:
            self.answer = answer

        def execute(self, order: Order, market_price: float | None) -> Any:
            return self.answer(order) if callable(self.answer) else self.answer

    def bad_numbers(order: Order) -> Fill:
        return Fill(
            client_id=order.client_id,
            intent_id=order.intent_id,
            symbol=order.symbol,
            side=order.side,
            filled_quantity="1",  # type: ignore[arg-type]
            fill_price=100.0,
            fee=0.0,
        )

    with capture_events() as events:
        for answer in ({"filled": True}, bad_numbers):
            result = ExecutionPipeline(Sloppy(answer), events).submit_order(
                intent(current_price=100.0)
            )
            assert result.status == "open"
    errors = of(events, "error")
    assert [e["stage"] for e in errors] == ["report", "report"]
    assert "{'filled': True}" in errors[0]["error"]
    assert "TypeError" in errors[1]["error"]
    assert of(events, "fill") == [] and of(events, "partial_fill") == []
