"""The summary's order outcomes: every path of an order's life, counted once, the same in
one pass, across days and in parts; ack and cancel latencies; slippage after partials."""

from __future__ import annotations

import json

import pytest

from src.execution.schema import ORDER_STATUSES
from src.live.execution_bridge import get_execution_summary
from src.query.analytics.summary import SummaryBuilder
from src.query.engine import summarize
from src.query.filters import EventFilter
from src.query.incremental import IncrementalSummary
from src.query.lifecycle import deadline, status_after
from src.query.records import ParseStats
from tests.query import lifecycle_session as life
from tests.query.analytics.test_pairing_ranges import assert_every_cut_agrees


def read(base, as_of=life.AS_OF, **kwargs):
    return summarize(base, EventFilter.build(session_id=life.SESSION), as_of=as_of, **kwargs)


@pytest.fixture
def session(tmp_path):
    return life.write(tmp_path)


def test_every_lifecycle_path_is_counted_once(session):
    s = read(session)
    o = s.orders
    assert s.kind_counts == dict(sorted(life.KIND_COUNTS.items()))
    assert o.sent == life.SENT == s.fills.orders
    assert o.by_status == life.BY_STATUS
    assert list(o.by_status) == list(ORDER_STATUSES)
    assert sum(v for k, v in o.by_status.items() if k != "blocked") == o.sent
    assert o.partly_filled_then_ended == 1  # o3: cancelled after a partial fill
    assert o.acknowledged == 7
    assert (o.partial_fills, o.partially_filled_orders) == (3, 2)
    assert o.cancel_rate == pytest.approx(2 / 11)
    assert o.reject_rate == pytest.approx(1 / 11)
    assert o.unmatched == 0
    # The fill bookkeeping keeps its meaning: one fill per filled order.
    assert (s.fills.fills, s.fills.filled_orders, s.fills.duplicate_fills) == (2, 2, 0)
    assert s.fills.orders_without_fills == o.open == 4
    assert [x.client_id for x in s.fills.open_orders] == ["o8", "o9", "o10", "o11"]


def test_open_orders_have_an_age_a_stage_and_a_deadline(session):
    s = read(session)
    o = s.orders
    assert o.oldest_open_ts == life.events()[0]["ts"][:11] + "10:01:10.005000+00:00"
    assert o.oldest_open_age_s == pytest.approx(3600 - 70.005)
    rows = {x.client_id: x for x in s.fills.open_orders}
    assert rows["o8"].stage == "acknowledged" and rows["o11"].stage == "sent"
    assert rows["o8"].deadline is None and rows["o8"].overdue_s is None  # GTC limit: working
    assert rows["o9"].deadline == "2025-12-21T00:00:00+00:00" and rows["o9"].overdue_s is None
    assert rows["o10"].overdue_s == pytest.approx(3600 - 90.005 - 30)
    assert rows["o11"].overdue_s == pytest.approx(3600 - 100.005)
    # Most overdue first; only orders past their deadline.
    assert [x.client_id for x in o.overdue_orders] == ["o11", "o10"] and o.overdue == 2
    late = read(session, as_of=life.AFTER_MIDNIGHT).orders
    assert [x.client_id for x in late.overdue_orders] == ["o11", "o10", "o9"]


def test_ack_and_cancel_latencies_use_the_latency_machinery(session):
    lat = read(session).latency
    assert lat.order_to_ack.count == 7
    assert lat.order_to_ack.max_ms == pytest.approx(70.0)  # o10: 75 - 5 ms
    assert lat.order_to_ack.p50_ms == pytest.approx(40.0)
    assert lat.order_to_cancel.count == 2
    assert sorted([lat.order_to_cancel.p50_ms, lat.order_to_cancel.max_ms]) == pytest.approx(
        [2000.0, 60_000.0]
    )
    # order->fill ends at the fill that completes the order (o1 100 ms, o2 895 ms).
    assert lat.order_to_fill.count == 2 and lat.order_to_fill.max_ms == pytest.approx(895.0)


def test_slippage_is_one_sample_per_order_at_its_average_price(session):
    slip = read(session).slippage
    # o1 +10 bps, o2 0 bps (the fill's average, not its partials), o3's partial -285.71.
    assert slip.overall.count == 3
    assert slip.by_symbol["BTC-USD"].count == 2
    assert slip.by_symbol["BTC-USD"].avg_bps == pytest.approx(5.0)
    assert slip.by_symbol["ETH-USD"].avg_bps == pytest.approx((3500 - 3600) / 3500 * 1e4)


def test_across_days_in_parallel_incrementally_and_in_parts_it_agrees(tmp_path, session):
    one = read(session)
    split = life.write(tmp_path / "days", split_days=True)
    days = read(split)
    assert days.parse.files == 2
    assert (days.orders, days.fills, days.latency, days.slippage) == (
        one.orders,
        one.fills,
        one.latency,
        one.slippage,
    )
    assert read(session, workers=1) == read(session, workers=2)
    live = IncrementalSummary(split, life.SESSION, max_age_s=0).refresh(as_of=life.AS_OF)
    assert live.orders == one.orders and live.latency == one.latency
    lines = [json.dumps(e).encode() for e in life.events()]
    assert_every_cut_agrees(lines[:30])


def test_an_end_without_its_order_is_unmatched_and_late_events_change_nothing(tmp_path):
    lines = [json.dumps(e) for e in life.events()]
    kept = [x for x in lines if '"kind": "order"' not in x or '"o4"' not in x]
    kept.append(
        lines[-1]
        .replace('"kind": "gate"', '"kind": "cancel"')
        .replace("i12", "i1")
        .replace('"gate_name"', '"client_id": "o1", "gate_name"')
    )
    (tmp_path / "life.jsonl").write_text("\n".join(kept) + "\n")
    s = read(tmp_path)
    assert s.orders.sent == 10
    assert s.orders.unmatched == 1  # o4's cancel: its order is not in the read
    assert s.orders.by_status["cancelled"] == 1  # o1 was filled: its late cancel is ignored
    assert s.orders.by_status["filled"] == 2


def test_the_spec_dict_gains_keys_only(session):
    out = get_execution_summary(life.SESSION, session, as_of=life.AS_OF)
    assert {"found", "session_id", "event_count", "kind_counts", "fills", "latency"} <= set(out)
    assert out["orders"]["by_status"] == life.BY_STATUS
    assert set(out["latency"]) == {
        "intent_to_order", "order_to_fill", "intent_to_fill", "negative_intervals",
        "order_to_ack", "order_to_cancel",
    }  # fmt: skip
    assert out["fills"]["open_orders"][0]["client_id"] == "o8"
    assert out["kind_counts"]["cancel"] == 2


def test_the_builder_slow_path_agrees(session):
    """Records added one by one (the slow path) give the same order outcomes."""
    from src.query.records import decode_scan

    fast, slow, stats = SummaryBuilder(), SummaryBuilder(), ParseStats()
    data = (session / "life.jsonl").read_bytes()
    fast.consume([data], stats)
    for line in data.splitlines():
        slow.add(decode_scan(line))
    assert (
        slow.result(stats, as_of=life.AS_OF).orders == fast.result(stats, as_of=life.AS_OF).orders
    )


@pytest.mark.parametrize(
    ("terms", "due"),
    [
        ({"order_type": "market"}, 1000.0),
        ({}, 1000.0),  # older logs: no type, no limit price
        ({"order_type": "limit", "limit_price": 1.0}, None),
        ({"order_type": "limit", "limit_price": 1.0, "time_in_force": "GTC"}, None),
        ({"order_type": "limit", "limit_price": 1.0, "time_in_force": "ioc"}, 1000.0),
        ({"order_type": "limit", "limit_price": 1.0, "time_in_force": "DAY"}, 86_400.0),
        ({"order_type": "limit", "limit_price": 1.0, "expire_after_s": 30}, 1030.0),
        ({"order_type": "limit", "time_in_force": "DAY", "expire_after_s": 1e6}, 86_400.0),
        ({"order_type": "limit", "expire_after_s": "nan"}, None),
    ],
)
def test_the_deadline_rule(terms, due):
    assert deadline(1000.0, **terms) == due


def test_status_after_extends_the_schema():
    assert status_after("fill") == "filled" and status_after("reject") == "rejected"
    assert status_after("error", "execute") == "error"
    assert status_after("error", "gate") is None and status_after("ack") is None
