"""Tests for ``src.execution.models``: intent validation and the small value types."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from src.execution import ExecutionResult, Fill, OrderIntent


def intent(**changes: object) -> OrderIntent:
    fields: dict[str, object] = {
        "symbol": "BTC-USD",
        "side": "buy",
        "quantity": 1.0,
        "current_price": 100_000.0,
    }
    fields.update(changes)
    return OrderIntent(**fields)  # type: ignore[arg-type]


def test_keyword_construction_keeps_every_field():
    """The spec's keyword signature builds an intent holding exactly what was passed."""
    it = OrderIntent(
        symbol="ETH-USD",
        side="sell",
        quantity=2.5,
        current_price=3_500.0,
        order_type="limit",
        limit_price=3_510.0,
        strategy_key="mean_revert_v1",
        session_id="session_123",
    )
    assert (it.symbol, it.side, it.quantity, it.current_price) == ("ETH-USD", "sell", 2.5, 3_500.0)
    assert (it.order_type, it.limit_price) == ("limit", 3_510.0)
    assert it.strategy_key == "mean_revert_v1"
    assert it.session_id == "session_123"


def test_defaults():
    """Market order, no limit, no strategy, session "default" and a fresh intent id."""
    it = OrderIntent(symbol="BTC-USD", side="buy", quantity=1)
    assert it.order_type == "market"
    assert it.limit_price is None
    assert it.current_price is None
    assert it.strategy_key is None
    assert it.session_id == "default"
    assert it.intent_id.startswith("int-")
    assert OrderIntent(symbol="BTC-USD", side="buy", quantity=1).intent_id != it.intent_id


def test_positional_arguments_are_refused():
    """Intents are keyword-only, so a swapped side and symbol cannot slip through."""
    with pytest.raises(TypeError):
        OrderIntent("BTC-USD", "buy", 1.0)  # type: ignore[misc]


def test_side_and_order_type_are_normalised_to_lower_case():
    """``"BUY"`` and ``"Limit"`` are accepted and stored as ``"buy"`` and ``"limit"``."""
    it = intent(side="BUY", order_type="Limit", limit_price=99_000.0)
    assert it.side == "buy"
    assert it.order_type == "limit"
    assert intent(side="Sell").side == "sell"


def test_time_in_force_defaults_to_gtc_and_is_normalised_to_upper_case():
    """GTC without expiry unless asked; ``"ioc"``/``"Day"`` become ``"IOC"``/``"DAY"``;
    ``expire_after_s`` becomes a float."""
    it = intent()
    assert (it.time_in_force, it.expire_after_s) == ("GTC", None)
    assert intent(time_in_force="ioc").time_in_force == "IOC"
    day = intent(time_in_force="Day", expire_after_s=30)
    assert (day.time_in_force, day.expire_after_s, day.problem) == ("DAY", 30.0, None)
    assert type(day.expire_after_s) is float


def test_numbers_are_stored_as_floats():
    """Integer quantities and prices become floats, so payloads have one numeric type."""
    it = intent(quantity=3, current_price=100, order_type="limit", limit_price=99)
    assert type(it.quantity) is float
    assert type(it.current_price) is float
    assert type(it.limit_price) is float


def test_intent_is_frozen():
    """An intent cannot change after the gates have judged it."""
    it = intent()
    with pytest.raises(dataclasses.FrozenInstanceError):
        it.quantity = 1_000.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "shown"),
    [
        ({"side": "hold"}, "invalid side 'hold'"),
        ({"side": None}, "invalid side None"),
        ({"quantity": 0}, "invalid quantity 0"),
        ({"quantity": -1.5}, "invalid quantity -1.5"),
        ({"quantity": math.nan}, "invalid quantity nan"),
        ({"quantity": math.inf}, "invalid quantity inf"),
        ({"quantity": "1"}, "invalid quantity '1'"),
        ({"quantity": True}, "invalid quantity True"),
        ({"current_price": -5.0}, "invalid current_price -5.0"),
        ({"current_price": math.nan}, "invalid current_price nan"),
        ({"order_type": "stop"}, "invalid order_type 'stop'"),
        ({"order_type": "limit"}, "invalid limit_price None"),
        ({"order_type": "limit", "limit_price": 0}, "invalid limit_price 0"),
        ({"order_type": "limit", "limit_price": math.inf}, "invalid limit_price inf"),
        ({"limit_price": 99_000.0}, "invalid limit_price 99000.0"),
        ({"symbol": ""}, "invalid symbol ''"),
        ({"session_id": "a/b"}, "invalid session_id 'a/b'"),
        ({"session_id": "../etc"}, "invalid session_id '../etc'"),
        ({"session_id": "x..y"}, "invalid session_id 'x..y'"),
        ({"session_id": "/abs"}, "invalid session_id '/abs'"),
        ({"session_id": "a\nb"}, "invalid session_id 'a\\nb'"),
        ({"time_in_force": "FOK"}, "invalid time_in_force 'FOK': expected 'GTC', 'IOC', 'DAY'"),
        ({"time_in_force": None}, "invalid time_in_force None"),
        ({"time_in_force": 1}, "invalid time_in_force 1"),
        ({"expire_after_s": 0}, "invalid expire_after_s 0"),
        ({"expire_after_s": -5.0}, "invalid expire_after_s -5.0"),
        ({"expire_after_s": math.nan}, "invalid expire_after_s nan"),
        ({"expire_after_s": math.inf}, "invalid expire_after_s inf"),
        ({"expire_after_s": "30"}, "invalid expire_after_s '30'"),
        ({"expire_after_s": True}, "invalid expire_after_s True"),
    ],
)
def test_invalid_intent_is_built_and_names_its_bad_value(changes, shown):
    """A bad field does not raise on construction (the pipeline's validation gate blocks the
    intent instead); ``problem`` names the field and the value, ``validate()`` raises it."""
    it = intent(**changes)
    assert it.valid is False
    assert it.problem is not None and shown in it.problem
    with pytest.raises(ValueError, match=re.escape(shown)):
        it.validate()


def test_valid_intent_has_no_problem():
    """A well-formed intent: no problem, validate() returns it."""
    it = intent()
    assert (it.valid, it.problem) == (True, None)
    assert it.validate() is it


def test_limit_price_on_market_order_message_says_why():
    """A limit price on a market order is refused as belonging only to limit orders."""
    assert "only for limit orders" in intent(order_type="market", limit_price=1.0).problem


def test_reference_price_is_limit_for_limits_and_quote_for_markets():
    """Notional is judged at the limit price for limit orders, at the quote otherwise."""
    assert intent(current_price=100.0).reference_price == 100.0
    assert intent(current_price=100.0, order_type="limit", limit_price=90.0).reference_price == 90.0
    assert intent(current_price=None).reference_price is None


def test_fill_notional_is_quantity_times_price():
    """``Fill.notional`` is filled quantity x fill price (fees not included)."""
    fill = Fill(
        client_id="ord-1",
        intent_id="int-1",
        symbol="BTC-USD",
        side="buy",
        filled_quantity=0.5,
        fill_price=100_020.0,
        fee=5.0,
    )
    assert fill.notional == 50_010.0


def test_result_status_helpers():
    """``filled`` and ``blocked`` mirror the status string."""
    it = intent()
    assert ExecutionResult(status="filled", intent=it).filled is True
    assert ExecutionResult(status="filled", intent=it).blocked is False
    assert ExecutionResult(status="blocked", intent=it).blocked is True
    assert ExecutionResult(status="open", intent=it).filled is False
