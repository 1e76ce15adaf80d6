"""Tests for the simulated ``PaperExecutor``: slippage, fees, resting limit orders."""

from __future__ import annotations

import math
import re

import pytest

from src.execution import Ack, Fill, Order, PaperExecutor, Reject

EXACT = {"rel": 1e-12, "abs": 0.0}


def order(**changes: object) -> Order:
    fields: dict[str, object] = {
        "client_id": "ord-1",
        "intent_id": "int-1",
        "session_id": "s1",
        "symbol": "BTC-USD",
        "side": "buy",
        "quantity": 2.0,
        "order_type": "market",
        "limit_price": None,
    }
    fields.update(changes)
    return Order(**fields)  # type: ignore[arg-type]


def limit(side: str, limit_price: float, client_id: str = "ord-1", **changes: object) -> Order:
    return order(
        side=side, order_type="limit", limit_price=limit_price, client_id=client_id, **changes
    )


def test_market_buy_pays_slippage_above_the_market_and_fee_in_bps():
    """Buy 2 @ 100 with 10 bps slippage and 5 bps fee fills at 100.1, fee 0.1001."""
    fill = PaperExecutor(slippage_bps=10, fee_bps=5).execute(order(side="buy"), 100.0)
    assert fill is not None
    assert fill.fill_price == pytest.approx(100.1, **EXACT)
    assert fill.fee == pytest.approx(2 * 100.1 * 5 / 10_000, **EXACT)
    assert fill.fee == pytest.approx(0.1001, **EXACT)
    assert fill.notional == pytest.approx(200.2, **EXACT)
    assert fill.filled_quantity == 2.0
    assert fill.reference_price == 100.0


def test_market_sell_receives_slippage_below_the_market():
    """Sell 2 @ 100 with 10 bps slippage and 5 bps fee fills at 99.9, fee 0.0999."""
    fill = PaperExecutor(slippage_bps=10, fee_bps=5).execute(order(side="sell"), 100.0)
    assert fill is not None
    assert fill.side == "sell"
    assert fill.fill_price == pytest.approx(99.9, **EXACT)
    assert fill.fee == pytest.approx(0.0999, **EXACT)


def test_zero_slippage_and_fee_fill_at_the_market_for_free():
    """With both set to 0 the fill price is the market price and the fee is 0."""
    fill = PaperExecutor(slippage_bps=0, fee_bps=0).execute(order(), 123.45)
    assert fill is not None
    assert fill.fill_price == 123.45
    assert fill.fee == 0.0


def test_defaults_are_two_bps_slippage_and_one_bps_fee():
    """The documented defaults: 2 bps slippage, 1 bp fee."""
    fill = PaperExecutor().execute(order(quantity=1.0), 10_000.0)
    assert fill is not None
    assert fill.fill_price == pytest.approx(10_002.0, **EXACT)
    assert fill.fee == pytest.approx(1.0002, **EXACT)


def test_fill_carries_the_orders_ids():
    """A fill names the order (client_id) and intent (intent_id) it belongs to."""
    fill = PaperExecutor().execute(order(client_id="ord-x", intent_id="int-y"), 100.0)
    assert fill is not None
    assert (fill.client_id, fill.intent_id, fill.symbol) == ("ord-x", "int-y", "BTC-USD")


def test_limit_buy_rests_while_market_is_above_the_limit():
    """A buy limit at 99 with the market at 100 does not fill and is listed as open."""
    executor = PaperExecutor(slippage_bps=10, fee_bps=0)
    resting = limit("buy", 99.0)
    assert executor.execute(resting, 100.0) is None
    assert executor.open_orders == [resting]
    assert executor.on_price("BTC-USD", 99.01) == []
    assert executor.open_orders == [resting]


def test_resting_limit_buy_fills_when_price_crosses():
    """on_price at or below the limit fills the resting buy once and removes it."""
    executor = PaperExecutor(slippage_bps=10, fee_bps=0)
    executor.execute(limit("buy", 100.0), 101.0)
    fills = executor.on_price("BTC-USD", 99.5)
    assert len(fills) == 1
    assert fills[0].client_id == "ord-1"
    assert fills[0].fill_price == pytest.approx(99.5 * 1.001, **EXACT)  # better than the limit
    assert fills[0].reference_price == 99.5
    assert executor.open_orders == []
    assert executor.on_price("BTC-USD", 90.0) == []


def test_limit_buy_never_fills_above_its_limit():
    """When slippage would push a buy above its limit, the fill is capped at the limit."""
    executor = PaperExecutor(slippage_bps=10, fee_bps=0)
    executor.execute(limit("buy", 100.0), 101.0)
    (fill,) = executor.on_price("BTC-USD", 99.95)  # 99.95 * 1.001 = 100.04995 > 100
    assert fill.fill_price == 100.0


def test_limit_buy_at_or_below_market_fills_at_once():
    """A marketable buy limit (market <= limit) fills immediately, at the limit or better."""
    executor = PaperExecutor(slippage_bps=10, fee_bps=0)
    fill = executor.execute(limit("buy", 100.0), 100.0)
    assert fill is not None
    assert fill.fill_price == 100.0
    assert executor.open_orders == []


def test_limit_sell_rests_below_and_fills_at_limit_or_better():
    """A sell limit rests while the market is below it and fills at or above the limit."""
    executor = PaperExecutor(slippage_bps=10, fee_bps=0)
    assert executor.execute(limit("sell", 100.0, client_id="a"), 99.0) is None
    assert executor.execute(limit("sell", 100.0, client_id="b"), 99.0) is None
    assert executor.on_price("BTC-USD", 99.99) == []
    fills = {f.client_id: f for f in executor.on_price("BTC-USD", 100.05)}
    # 100.05 * 0.999 = 99.94995 < 100: capped at the limit.
    assert fills["a"].fill_price == 100.0
    assert fills["b"].fill_price == 100.0
    executor.execute(limit("sell", 100.0, client_id="c"), 99.0)
    (fill,) = executor.on_price("BTC-USD", 101.0)
    assert fill.fill_price == pytest.approx(101.0 * 0.999, **EXACT)


def test_fee_on_limit_fill_uses_the_fill_price():
    """The fee is charged on quantity x actual fill price, not on the limit or the market."""
    executor = PaperExecutor(slippage_bps=0, fee_bps=10)
    executor.execute(limit("buy", 100.0, quantity=3.0), 120.0)
    (fill,) = executor.on_price("BTC-USD", 80.0)
    assert fill.fill_price == 80.0
    assert fill.fee == pytest.approx(3 * 80.0 * 10 / 10_000, **EXACT)


def test_on_price_ignores_other_symbols():
    """A price for another symbol never fills a resting order."""
    executor = PaperExecutor()
    executor.execute(limit("buy", 100.0), 101.0)
    assert executor.on_price("ETH-USD", 1.0) == []
    assert len(executor.open_orders) == 1


def test_cancel_removes_a_resting_order():
    """cancel() returns True once, after which the order never fills; unknown ids give False."""
    executor = PaperExecutor()
    executor.execute(limit("buy", 100.0), 101.0)
    assert executor.cancel("ord-1") is True
    assert executor.open_orders == []
    assert executor.on_price("BTC-USD", 50.0) == []
    assert executor.cancel("ord-1") is False
    assert executor.cancel("never-existed") is False


@pytest.mark.parametrize("name", ["slippage_bps", "fee_bps"])
@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, "2"])
def test_bad_slippage_or_fee_is_rejected(name, bad):
    """Negative, NaN, infinite or non-numeric bps values fail naming the setting and value."""
    with pytest.raises(ValueError, match=re.escape(f"invalid {name} {bad!r}")):
        PaperExecutor(**{name: bad})


@pytest.mark.parametrize("price", [None, 0.0, -1.0, math.nan])
def test_execute_refuses_an_unusable_market_price(price):
    """Without a positive finite market price nothing is filled or rested."""
    executor = PaperExecutor()
    with pytest.raises(ValueError, match="no usable market price for BTC-USD"):
        executor.execute(order(), price)
    assert executor.open_orders == []


@pytest.mark.parametrize("field", ["slippage_bps", "fee_bps"])
def test_booleans_are_not_basis_points(field):
    """True is refused as a slippage or fee (it would silently mean 1 bp)."""
    with pytest.raises(ValueError, match="True"):
        PaperExecutor(**{field: True})


# -- the venue interface: acks, rejects, pieces -----------------------------------------


def test_submit_acks_with_a_venue_order_id_then_reports_what_filled():
    """An accepted order gets an Ack (a fresh venue id per order) before any piece; a resting
    limit gets only the Ack."""
    executor = PaperExecutor(slippage_bps=0, fee_bps=0)
    first = executor.submit(order(client_id="a"), 100.0)
    assert [type(r) for r in first] == [Ack, Fill]
    assert first[0] == Ack(client_id="a", order_id=first[0].order_id)
    assert first[0].order_id.startswith("pap-")
    resting = executor.submit(limit("buy", 90.0, client_id="b"), 100.0)
    assert [type(r) for r in resting] == [Ack]
    assert resting[0].order_id != first[0].order_id
    assert executor.open_orders == [limit("buy", 90.0, client_id="b")]


@pytest.mark.parametrize(
    ("venue", "submitted", "reason"),
    [
        (
            {"max_quantity": 1.5},
            order(quantity=2.0),
            "quantity 2 exceeds the venue's max_quantity 1.5",
        ),
        (
            {"price_band_bps": 500},
            limit("buy", 94.0),
            "limit price 94.00 is 600 bps from the market 100.00 (price band 500 bps)",
        ),
        (
            {"price_band_bps": 500},
            limit("sell", 106.0),
            "limit price 106.00 is 600 bps from the market 100.00 (price band 500 bps)",
        ),
        (
            {"balance": 150.0},
            order(quantity=2.0),
            "insufficient balance: buy 2 BTC-USD needs 200.00, 150.00 available",
        ),
    ],
)
def test_venue_rules_reject_with_a_reason_naming_the_values(venue, submitted, reason):
    """Each rule refuses an order with one Reject naming the values; nothing rests or fills."""
    executor = PaperExecutor(slippage_bps=0, fee_bps=0, **venue)
    assert executor.submit(submitted, 100.0) == [Reject(client_id="ord-1", reason=reason)]
    assert executor.open_orders == []
    with pytest.raises(ValueError, match=re.escape(reason)):
        executor.execute(submitted, 100.0)  # the original interface raises the reason


def test_inside_the_rules_orders_are_accepted():
    """At the band's edge, at max_quantity, and a sell whatever the balance: accepted."""
    executor = PaperExecutor(
        slippage_bps=0, fee_bps=0, price_band_bps=500, max_quantity=2.0, balance=0.0
    )
    assert isinstance(executor.submit(limit("sell", 105.0, client_id="a"), 100.0)[0], Ack)
    assert isinstance(executor.submit(order(side="sell", client_id="b"), 100.0)[0], Ack)


def test_balance_is_reserved_while_a_buy_works_and_released_on_cancel_and_fill():
    """A resting buy holds quantity x limit x (1 + fee); a second buy that would need more
    than is free is rejected; cancelling frees the cash; fills spend it, sells add to it."""
    executor = PaperExecutor(slippage_bps=0, fee_bps=0, balance=1_000.0)
    assert [type(r) for r in executor.submit(limit("buy", 90.0, "a", quantity=10.0), 100.0)] == [
        Ack
    ]
    assert executor.available_balance == pytest.approx(100.0)
    (refused,) = executor.submit(limit("buy", 95.0, "b", quantity=2.0), 100.0)
    assert refused == Reject(
        client_id="b", reason="insufficient balance: buy 2 BTC-USD needs 190.00, 100.00 available"
    )
    assert executor.cancel("a") is True
    assert executor.available_balance == pytest.approx(1_000.0)
    assert isinstance(executor.submit(limit("buy", 95.0, "b", quantity=2.0), 100.0)[0], Ack)
    (fill,) = executor.on_price("BTC-USD", 80.0)
    assert (fill.client_id, fill.fill_price) == ("b", 80.0)
    assert executor.available_balance == pytest.approx(1_000.0 - 160.0)
    executor.submit(order(side="sell", client_id="c", quantity=1.0), 100.0)
    assert executor.available_balance == pytest.approx(940.0)


def test_fees_are_part_of_the_reservation():
    """With 10 bps of fees a 100.00 buy needs 100.10."""
    executor = PaperExecutor(slippage_bps=0, fee_bps=10, balance=100.05)
    (refused,) = executor.submit(order(quantity=1.0), 100.0)
    assert isinstance(refused, Reject) and "needs 100.10, 100.05 available" in refused.reason


def test_max_fill_quantity_fills_in_pieces_one_per_opportunity():
    """Each execution opportunity (the submit, then each crossing price) fills at most
    max_fill_quantity; the last piece is what remains; then the order is gone."""
    executor = PaperExecutor(slippage_bps=0, fee_bps=0, max_fill_quantity=1.0)
    ack, first = executor.submit(order(quantity=2.5), 100.0)
    assert isinstance(ack, Ack) and first.filled_quantity == 1.0
    assert executor.open_orders == [order(quantity=2.5)]
    assert executor.on_price("ETH-USD", 1.0) == []
    (second,) = executor.on_price("BTC-USD", 101.0)
    (third,) = executor.on_price("BTC-USD", 102.0)
    assert (second.filled_quantity, second.fill_price) == (1.0, 101.0)
    assert (third.filled_quantity, third.fill_price) == (0.5, 102.0)
    assert executor.open_orders == []
    assert executor.on_price("BTC-USD", 103.0) == []


def test_max_fill_notional_caps_each_piece_at_its_fill_price():
    """max_fill_notional 250 at 100 fills 2.5 a piece; at 125 it fills 2; the rest last."""
    executor = PaperExecutor(slippage_bps=0, fee_bps=0, max_fill_notional=250.0)
    _ack, first = executor.submit(order(quantity=5.0), 100.0)
    (second,) = executor.on_price("BTC-USD", 125.0)
    (third,) = executor.on_price("BTC-USD", 100.0)
    assert [p.filled_quantity for p in (first, second, third)] == [2.5, 2.0, 0.5]
    assert executor.open_orders == []


def test_a_limit_fills_in_pieces_only_while_crossed():
    """A piece of a resting limit fills only at a price that crosses it."""
    executor = PaperExecutor(slippage_bps=0, fee_bps=0, max_fill_quantity=1.0)
    executor.submit(limit("buy", 100.0, quantity=2.0), 101.0)
    assert executor.on_price("BTC-USD", 100.5) == []
    (piece,) = executor.on_price("BTC-USD", 99.0)
    assert (piece.filled_quantity, piece.fill_price) == (1.0, 99.0)
    assert executor.on_price("BTC-USD", 100.5) == []
    assert len(executor.open_orders) == 1


@pytest.mark.parametrize(
    "name", ["price_band_bps", "max_quantity", "max_fill_quantity", "max_fill_notional"]
)
@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf, "5", True])
def test_bad_venue_rule_is_refused_naming_it(name, bad):
    """The rules take a finite number > 0 (or None: off); anything else fails naming it."""
    with pytest.raises(ValueError, match=re.escape(f"invalid {name} {bad!r}")):
        PaperExecutor(**{name: bad})


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, "1000", True])
def test_bad_balance_is_refused_naming_it(bad):
    """A balance is a finite number >= 0 (0: no buys at all)."""
    with pytest.raises(ValueError, match=re.escape(f"invalid balance {bad!r}")):
        PaperExecutor(balance=bad)


def test_no_rules_by_default():
    """Without rules nothing is refused and the balance is not tracked."""
    executor = PaperExecutor()
    assert executor.available_balance is None
    reports = executor.submit(order(quantity=1e9), 1e9)
    assert [type(r) for r in reports] == [Ack, Fill]
