"""Tests for the shipped pre-trade gates in ``src.execution.gates``."""

from __future__ import annotations

import math
import re

import pytest

from src.execution import (
    KillSwitchGate,
    MarketState,
    MaxNotionalGate,
    OrderIntent,
    PriceSanityGate,
)
from src.execution.models import GateDecision


def intent(**changes: object) -> OrderIntent:
    fields: dict[str, object] = {"symbol": "BTC-USD", "side": "buy", "quantity": 1.0}
    fields.update(changes)
    return OrderIntent(**fields)  # type: ignore[arg-type]


def market(**prices: float) -> MarketState:
    state = MarketState()
    for symbol, price in prices.items():
        state.update(symbol.replace("_", "-"), price)
    return state


def test_gate_names_are_stable():
    """The names that appear as ``gate_name`` in telemetry (dashboards filter on them)."""
    assert PriceSanityGate.name == "PriceSanity"
    assert MaxNotionalGate.name == "MaxNotional"
    assert KillSwitchGate.name == "KillSwitch"


# -- PriceSanityGate --------------------------------------------------------------------
# 64 / 1024 = 0.0625 exactly, so the deviation is exactly 625 bps with no rounding.


@pytest.mark.parametrize("quoted", [1024.0 + 64.0, 1024.0 - 64.0])
def test_price_sanity_passes_at_exactly_the_maximum_deviation(quoted):
    """A quote exactly max_deviation_bps away (above or below) still passes."""
    decision = PriceSanityGate(625.0).check(intent(current_price=quoted), market(BTC_USD=1024.0))
    assert isinstance(decision, GateDecision)
    assert decision.passed is True


@pytest.mark.parametrize("quoted", [1024.0 + 64.01, 1024.0 - 64.01])
def test_price_sanity_blocks_just_beyond_the_maximum_deviation(quoted):
    """A quote a hair beyond the limit is blocked, with quote, last price and max in the reason."""
    decision = PriceSanityGate(625.0).check(intent(current_price=quoted), market(BTC_USD=1024.0))
    assert decision.passed is False
    assert f"{quoted:,.2f}" in decision.reason
    assert "1,024.00" in decision.reason
    assert "max 625" in decision.reason


def test_price_sanity_without_quote_uses_market_price():
    """An intent with no quoted price passes when the market price is known."""
    decision = PriceSanityGate().check(intent(current_price=None), market(BTC_USD=100.0))
    assert decision.passed is True


def test_price_sanity_blocks_when_no_price_at_all():
    """No quoted price and no market price: nothing to trade at, so block."""
    decision = PriceSanityGate().check(intent(current_price=None), market(ETH_USD=100.0))
    assert decision.passed is False
    assert "no price" in decision.reason


def test_price_sanity_fails_closed_without_a_market_price():
    """Before the first tick for the symbol the quote cannot be checked, so it is blocked."""
    decision = PriceSanityGate().check(intent(current_price=123.0), market(ETH_USD=100.0))
    assert decision.passed is False
    assert "no market price for BTC-USD" in decision.reason


def test_price_sanity_can_accept_unchecked_quotes_when_asked():
    """require_market_price=False accepts a quote that has nothing to be checked against."""
    gate = PriceSanityGate(require_market_price=False)
    decision = gate.check(intent(current_price=123.0), market(ETH_USD=100.0))
    assert decision.passed is True
    assert "no market price" in decision.reason


def test_price_sanity_compares_against_the_intents_own_symbol():
    """Another symbol's price is never used as the reference."""
    state = market(BTC_USD=100_000.0, ETH_USD=3_500.0)
    assert (
        PriceSanityGate(500.0).check(intent(symbol="ETH-USD", current_price=3_500.0), state).passed
        is True
    )
    assert (
        PriceSanityGate(500.0)
        .check(intent(symbol="ETH-USD", current_price=100_000.0), state)
        .passed
        is False
    )


@pytest.mark.parametrize("bad", [-1.0, math.nan])
def test_price_sanity_rejects_bad_maximum(bad):
    """A negative or NaN maximum deviation is refused at construction."""
    with pytest.raises(ValueError, match="max_deviation_bps"):
        PriceSanityGate(bad)


# -- MaxNotionalGate --------------------------------------------------------------------


def test_max_notional_passes_at_exactly_the_limit():
    """Notional equal to the maximum passes (4 x 25 = 100)."""
    decision = MaxNotionalGate(100.0).check(intent(quantity=4, current_price=25.0), market())
    assert decision.passed is True
    assert "100.00" in decision.reason


def test_max_notional_blocks_above_the_limit():
    """Notional above the maximum is blocked, with both figures in the reason."""
    decision = MaxNotionalGate(99.99).check(intent(quantity=4, current_price=25.0), market())
    assert decision.passed is False
    assert "notional 100.00 exceeds max 99.99" in decision.reason


def test_limit_order_is_judged_at_its_limit_price():
    """A limit buy far above the market is judged at the limit (2 x 60 = 120 > 100)."""
    limit = intent(quantity=2, current_price=40.0, order_type="limit", limit_price=60.0)
    decision = MaxNotionalGate(100.0).check(limit, market(BTC_USD=40.0))
    assert decision.passed is False
    assert "120.00" in decision.reason


def test_limit_order_below_market_is_judged_at_its_limit_price():
    """A limit at 40 with the market at 60 is judged at 40 (2 x 40 = 80 <= 100)."""
    limit = intent(quantity=2, current_price=60.0, order_type="limit", limit_price=40.0)
    assert MaxNotionalGate(100.0).check(limit, market(BTC_USD=60.0)).passed is True


def test_max_notional_falls_back_to_market_price():
    """A market intent without a quote is judged at the last market price."""
    gate = MaxNotionalGate(100.0)
    assert gate.check(intent(quantity=2, current_price=None), market(BTC_USD=50.0)).passed is True
    assert gate.check(intent(quantity=2, current_price=None), market(BTC_USD=51.0)).passed is False


def test_max_notional_blocks_without_any_price():
    """No quote and no market price: the notional cannot be judged, so block."""
    decision = MaxNotionalGate(100.0).check(intent(current_price=None), market())
    assert decision.passed is False
    assert "no price" in decision.reason


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_max_notional_rejects_bad_limit(bad):
    """Zero, negative and non-finite limits are refused at construction, naming the value."""
    with pytest.raises(ValueError, match=re.escape(f"invalid max_notional {bad!r}")):
        MaxNotionalGate(bad)


# -- KillSwitchGate ---------------------------------------------------------------------


def test_kill_switch_passes_until_engaged_and_after_release():
    """engage() blocks every intent with the operator's reason; release() lets them through."""
    gate = KillSwitchGate()
    assert gate.engaged is False
    assert gate.check(intent(), market()).passed is True
    gate.engage("maintenance window")
    assert gate.engaged is True
    decision = gate.check(intent(), market())
    assert decision.passed is False
    assert "maintenance window" in decision.reason
    gate.release()
    assert gate.engaged is False
    assert gate.check(intent(), market()).passed is True


def test_kill_switch_flag_file_engages_while_it_exists(tmp_path):
    """The switch is engaged exactly while the flag file exists; the reason names the file."""
    flag = tmp_path / "run" / "KILL"
    gate = KillSwitchGate(flag)
    assert gate.check(intent(), market()).passed is True
    flag.parent.mkdir()
    flag.touch()
    assert gate.engaged is True
    decision = gate.check(intent(), market())
    assert decision.passed is False
    assert str(flag) in decision.reason
    flag.unlink()
    assert gate.engaged is False
    assert gate.check(intent(), market()).passed is True


def test_release_does_not_override_the_flag_file(tmp_path):
    """Releasing the code switch leaves the operator's file in charge."""
    flag = tmp_path / "KILL"
    flag.touch()
    gate = KillSwitchGate(str(flag))
    gate.engage("from code")
    gate.release()
    assert gate.check(intent(), market()).passed is False


def test_kill_switch_empty_flag_file_means_code_only():
    """An empty string (the config default) does not make the gate look for a file."""
    gate = KillSwitchGate("")
    assert gate.flag_file is None
    assert gate.check(intent(), market()).passed is True
