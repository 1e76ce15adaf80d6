"""Analytics: pairing by ids and by arrival, latencies, slippage sign, fills, gates, timestamps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from src.query.analytics.stats import percentile
from src.query.analytics.summary_model import ErrorCount, GateReason
from src.query.engine import summarize
from src.query.filters import EventFilter


def run(tmp_path: Path, events: list[dict], **kwargs) -> dict:
    with (tmp_path / "s.jsonl").open("w") as fh:
        for e in events:
            fh.write(
                json.dumps(
                    {"session_id": "s", "symbol": e.pop("symbol", "BTC-USD"), "mode": "paper", **e}
                )
                + "\n"
            )
    return summarize(tmp_path, EventFilter.build(session_id="s"), **kwargs)


def e(ts: float, kind: str, mono: int | None = None, **payload) -> dict:
    out = {"ts": f"2025-01-01T00:00:{ts:09.6f}+00:00", "kind": kind, "payload": payload}
    if mono is not None:
        out["mono_ns"] = mono
    return out


def test_percentile_is_nearest_rank():
    """p50 of [10,20,30,40] is 20; p95 of 1..100 is 95; empty is None."""
    assert percentile([10, 20, 30, 40], 50) == 20
    assert percentile(list(range(1, 101)), 95) == 95
    assert percentile([7], 99) == 7
    assert percentile([], 50) is None


def test_monotonic_clock_wins_over_wall_clock_steps(tmp_path):
    """A wall clock stepping back 1 s between intent and order still gives the mono latency."""
    s = run(
        tmp_path,
        [
            e(
                10.0,
                "intent",
                mono=1_000_000,
                intent_id="i1",
                side="buy",
                quantity=1,
                current_price=100,
            ),
            e(9.0, "order", mono=4_000_000, intent_id="i1", client_id="c1", side="buy", quantity=1),
            e(9.5, "fill", mono=9_000_000, client_id="c1", filled_quantity=1, fill_price=100.1),
        ],
    )
    assert s.latency.intent_to_order.max_ms == 3.0
    assert s.latency.order_to_fill.max_ms == 5.0
    assert s.latency.intent_to_fill.max_ms == 8.0
    assert s.timestamps.non_monotonic_steps == 1
    assert s.timestamps.max_backward_jump_s == pytest.approx(1.0)


def test_negative_wall_clock_intervals_are_counted_not_used(tmp_path):
    """Without mono readings, an order stamped before its intent is not a latency sample."""
    s = run(
        tmp_path,
        [
            e(10.0, "intent", intent_id="i1", side="buy", quantity=1),
            e(9.0, "order", intent_id="i1", client_id="c1", side="buy", quantity=1),
        ],
    )
    assert s.latency.intent_to_order.count == 0
    assert s.latency.negative_intervals == 1


def test_fallback_pairing_without_ids_uses_arrival_order(tmp_path):
    """Logs without ids: orders take the oldest intent of the same symbol and side."""
    s = run(
        tmp_path,
        [
            e(1.0, "intent", side="buy", quantity=1, current_price=100),
            e(1.5, "intent", side="sell", quantity=1, current_price=100, symbol="BTC-USD"),
            e(2.0, "order", side="buy", quantity=1),
            e(4.0, "fill", filled_quantity=1, fill_price=101),
            e(6.0, "order", side="sell", quantity=1),
        ],
    )
    assert s.latency.intent_to_order.count == 2
    assert sorted([s.latency.intent_to_order.max_ms, s.latency.intent_to_order.p50_ms]) == [
        1000.0,
        4500.0,
    ]
    assert s.latency.order_to_fill.max_ms == 2000.0
    assert s.slippage.overall.max_bps == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("side", "fill_price", "bps"),
    [("buy", 100.5, 50.0), ("buy", 99.5, -50.0), ("sell", 99.5, 50.0), ("sell", 100.5, -50.0)],
)
def test_slippage_sign_positive_is_worse_for_the_trader(tmp_path, side, fill_price, bps):
    """Buying above or selling below the intent price is positive slippage."""
    s = run(
        tmp_path,
        [
            e(1, "intent", intent_id="i", side=side, quantity=1, current_price=100.0),
            e(2, "order", intent_id="i", client_id="c", side=side, quantity=1),
            e(3, "fill", client_id="c", filled_quantity=1, fill_price=fill_price),
        ],
    )
    assert s.slippage.by_symbol["BTC-USD"].max_bps == pytest.approx(bps)


def test_fill_bookkeeping(tmp_path):
    """Open orders with age, fills without orders, duplicate fills, partial fills, fill rate."""
    s = run(
        tmp_path,
        [
            e(1, "order", client_id="open", side="buy", quantity=1),
            e(2, "order", client_id="partial", side="buy", quantity=2),
            e(3, "fill", client_id="partial", filled_quantity=1, fill_price=10),
            e(4, "fill", client_id="partial", filled_quantity=1, fill_price=10),
            e(5, "fill", client_id="partial", filled_quantity=1, fill_price=10),  # beyond the order
            e(6, "fill", client_id="ghost", filled_quantity=1, fill_price=10),
            {**e(7, "order", client_id="dup", side="buy", quantity=1)},
            {**e(8, "fill", client_id="dup", filled_quantity=1, fill_price=10), "event_id": "x"},
            {**e(9, "fill", client_id="dup", filled_quantity=1, fill_price=10), "event_id": "x"},
        ],
        as_of=1735689600.0 + 61,
    )
    f = s.fills
    assert f.orders == 3 and f.filled_orders == 2
    assert f.fill_rate == pytest.approx(2 / 3)
    assert f.orders_without_fills == 1
    assert f.open_orders[0].client_id == "open"
    assert f.open_orders[0].age_s == pytest.approx(60.0)
    assert f.fills_without_orders == 1
    assert f.duplicate_fills == 2


def test_gate_rejection_rates_overall_and_per_gate(tmp_path):
    """Per gate: blocks / evaluations; overall: blocked intents / intents."""
    events = []
    for n in range(4):
        events.append(e(n, "intent", intent_id=f"i{n}", side="buy", quantity=1))
        events.append(e(n, "gate", intent_id=f"i{n}", gate_name="A", passed=True))
        blocked = n == 3
        events.append(
            e(
                n,
                "gate",
                intent_id=f"i{n}",
                gate_name="B",
                passed=not blocked,
                reason="too big" if blocked else "ok",
            )
        )
    s = run(tmp_path, events)
    g = s.gates
    assert g.rejection_rate == 0.25 and g.blocks == 1
    assert g.by_gate["A"].rejection_rate == 0.0
    assert g.by_gate["B"].rejection_rate == 0.25
    assert g.by_gate["B"].top_reasons == [GateReason("too big", 1)]


def test_gaps_above_threshold_are_reported(tmp_path):
    """A silence longer than the threshold is counted with its size and position."""
    s = run(tmp_path, [e(0, "fill"), e(1, "fill"), e(50, "fill")], gap_threshold_s=30)
    t = s.timestamps
    assert t.gaps_over_threshold == 1 and t.max_gap_s == pytest.approx(49.0)
    assert t.largest_gaps[0].after == "2025-01-01T00:00:01+00:00"


def test_error_events_are_summarised(tmp_path):
    """Error counts, the commonest messages and the last error are reported."""
    s = run(
        tmp_path,
        [
            e(1, "error", error="timeout"),
            e(2, "error", error="timeout"),
            e(3, "error", error="rejected"),
        ],
    )
    assert s.errors.count == 3
    assert s.errors.top[0] == ErrorCount("timeout", 2)
    assert s.errors.last is not None and s.errors.last.error == "rejected"


def test_fills_pair_to_intents_by_intent_id_when_orders_are_not_logged(tmp_path):
    """Orders filtered out of the log (the spec's include_kinds example): each fill still finds
    its intent through its own intent_id; latency from the intent to the first fill, whose
    slippage is against the intent's quote; a later partial fill adds no second latency."""
    s = run(
        tmp_path,
        [
            e(1.0, "intent", mono=1_000_000, intent_id="i1", side="buy", current_price=100),
            e(1.5, "intent", mono=2_000_000, intent_id="i2", side="sell", current_price=200),
            e(2.0, "fill", mono=6_000_000, intent_id="i1", client_id="c1", filled_quantity=0.5,
              fill_price=100.1),
            e(2.1, "fill", mono=7_000_000, intent_id="i1", client_id="c1", filled_quantity=0.5,
              fill_price=100.1, side="buy", reference_price=100),  # its own reference
            e(3.0, "fill", mono=12_000_000, intent_id="i2", client_id="c2", side="sell",
              filled_quantity=1, fill_price=199.8, reference_price=199.0),
        ],
    )  # fmt: skip
    latency = s.latency.intent_to_fill
    assert (latency.count, latency.p50_ms, latency.max_ms) == (2, 5.0, 10.0)
    assert s.fills.fills_without_orders == 3 and s.fills.orders == 0
    # Every fill against its intent's quote: +10 bps (buy above 100), +10 bps (sell below 200).
    slippage = s.slippage.overall
    assert slippage.count == 3
    assert slippage.p50_bps == pytest.approx(10.0)
    assert slippage.max_bps == pytest.approx(10.0)


def test_an_order_in_the_log_still_wins_over_the_intent_id(tmp_path):
    """With the order logged, the fill pairs through it (intent->fill once, via the order)."""
    s = run(
        tmp_path,
        [
            e(1.0, "intent", mono=1_000_000, intent_id="i1", side="buy", current_price=100),
            e(1.1, "order", mono=2_000_000, intent_id="i1", client_id="c1", quantity=1),
            e(2.0, "fill", mono=6_000_000, intent_id="i1", client_id="c1", filled_quantity=1,
              fill_price=100),
        ],
    )  # fmt: skip
    assert s.latency.intent_to_fill.count == 1
    assert s.latency.order_to_fill.count == 1
    assert s.fills.fills_without_orders == 0


def test_the_pairer_pairs_and_the_report_module_reports():
    """pairing.py keeps the per-event pairing; the report (open orders included) is built
    by pairing_report alone."""
    from src.query.analytics import pairing, pairing_report

    assert not hasattr(pairing.Pairer, "result")
    assert not hasattr(pairing.Pairer, "open_orders")
    assert pairing_report.__all__ == ["PairingReport", "report"]
