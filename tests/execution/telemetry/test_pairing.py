"""PairTracker: intent->order->fill pairing, latency clocks, slippage sign, bounded memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from src.execution.events import ExecutionEvent
from src.execution.telemetry.pairing import PairTracker, elapsed_seconds, slippage_bps

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def ev(kind, payload, *, ms=0, mono_ms=None):
    return ExecutionEvent(
        ts=T0 + timedelta(milliseconds=ms),
        session_id="s",
        symbol="BTC-USD",
        mode="paper",
        kind=kind,
        payload=payload,
        mono_ns=None if mono_ms is None else int(mono_ms * 1_000_000),
    )


def test_intent_order_fill_give_both_latencies_and_slippage():
    """Pairs by intent_id then client_id; latencies from mono_ns; buy paying more is positive."""
    t = PairTracker()
    assert t.observe(ev("intent", {"intent_id": "i1", "side": "buy", "current_price": 100.0},
                        mono_ms=1_000)) is None  # fmt: skip
    order = t.observe(ev("order", {"intent_id": "i1", "client_id": "o1"}, mono_ms=1_002))
    assert order.intent_to_order_s == pytest.approx(0.002)
    fill = t.observe(ev("fill", {"client_id": "o1", "intent_id": "i1", "fill_price": 100.05},
                        mono_ms=1_007))  # fmt: skip
    assert fill.order_to_fill_s == pytest.approx(0.005)
    assert fill.slippage_bps == pytest.approx(5.0)
    assert t.pending == 0


def test_wall_clock_is_used_only_when_a_monotonic_reading_is_missing():
    """Without mono_ns on both events the ts difference is used; mono wins when both have it."""
    assert elapsed_seconds(None, T0, 5_000_000, T0 + timedelta(seconds=3)) == 3.0
    assert elapsed_seconds(1_000_000, T0, 6_000_000, T0 + timedelta(seconds=3)) == 0.005
    assert elapsed_seconds(None, T0, None, T0 - timedelta(seconds=1)) is None  # clock step
    assert elapsed_seconds(None, T0, None, T0.replace(tzinfo=None)) is None


@pytest.mark.parametrize(
    ("side", "fill", "expected"),
    [("buy", 101.0, 100.0), ("buy", 99.0, -100.0), ("sell", 99.0, 100.0), ("sell", 101.0, -100.0)],
)
def test_slippage_sign_is_positive_when_the_trader_did_worse(side, fill, expected):
    """Buy above / sell below the intent price is positive slippage (bps)."""
    assert slippage_bps(side, 100.0, fill) == pytest.approx(expected)


def test_blocked_intents_and_errors_release_their_slot():
    """A blocking gate or an error removes the pending intent/order at once."""
    t = PairTracker()
    t.observe(ev("intent", {"intent_id": "i1", "side": "buy", "current_price": 1.0}))
    t.observe(ev("gate", {"intent_id": "i1", "gate_name": "g", "passed": False}))
    t.observe(ev("intent", {"intent_id": "i2", "side": "buy", "current_price": 1.0}))
    t.observe(ev("order", {"intent_id": "i2", "client_id": "o2"}))
    t.observe(ev("error", {"intent_id": "i2", "client_id": "o2", "error": "x"}))
    assert t.pending == 0 and t.evicted == 0


def test_memory_is_bounded_and_evictions_are_counted():
    """Never more than max_pending intents wait; the oldest are forgotten and counted."""
    t = PairTracker(max_pending=100)
    for n in range(1_000):
        t.observe(ev("intent", {"intent_id": f"i{n}", "side": "buy", "current_price": 1.0}))
    assert t.pending == 100 and t.evicted == 900
    assert t.observe(ev("order", {"intent_id": "i999", "client_id": "o"})) is not None
    assert t.observe(ev("order", {"intent_id": "i0", "client_id": "o0"})) is None


def test_fill_without_a_seen_order_still_gives_slippage_from_the_intent():
    """If the order event was never seen, the fill's intent_id still finds the reference price."""
    t = PairTracker()
    t.observe(ev("intent", {"intent_id": "i1", "side": "sell", "current_price": 200.0}))
    paired = t.observe(ev("fill", {"client_id": "o?", "intent_id": "i1", "fill_price": 199.0}))
    assert paired.order_to_fill_s is None and paired.slippage_bps == pytest.approx(50.0)
