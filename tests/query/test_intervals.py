"""One latency rule (src/query/intervals.py) for the summary's pairing and the blotter:
mono_ns only between events of one producer (the event id's process prefix), else ts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from src.query.engine import summarize
from src.query.filters import EventFilter
from src.query.intervals import interval_ms, interval_ms_of, producer_of, same_producer
from src.query.orders import query_orders
from tests.query.orders_sessions import T0, line

T1 = datetime.fromtimestamp(T0, UTC)
T2 = datetime.fromtimestamp(T0 + 2, UTC)


# (mono_ns, event id) of an earlier and a later event, and the milliseconds between them.
CASES = [
    (10**9, "evt-pa-1", 10**9 + 5_000_000, "evt-pa-9", 5.0),  # one producer: mono
    (10**9, "evt-pa-1", 10**9 + 5_000_000, "evt-pb-1", 2000.0),  # two: ts
    (10**9, "evt-pa-1", 10**9 + 5_000_000, "evt-pab-1", 2000.0),  # a prefix of the other
    (10**9, None, 10**9 + 5_000_000, "evt-pb-1", 5.0),  # an id naming none: trusted
    (10**9, "plain", 10**9 + 5_000_000, "evt-pb-1", 5.0),
    (10**9, "evt-pa-1", 10**9 - 1, "evt-pa-2", 2000.0),  # mono went back: ts
    (None, "evt-pa-1", 10**9, "evt-pa-2", 2000.0),
    ("1000", "evt-pa-1", 10**9, "evt-pa-2", 2000.0),  # a string is no reading
]


@pytest.mark.parametrize(("m1", "id1", "m2", "id2", "expected"), CASES)
def test_the_rule(m1, id1, m2, id2, expected):
    assert interval_ms(T1, m1, id1, T2, m2, id2) == expected
    assert interval_ms(T2, None, id1, T1, None, id2) is None  # negative: no latency
    # The same rule given the producers (what the summary's pairing keeps per event).
    p1, p2 = producer_of(id1), producer_of(id2)
    assert interval_ms_of(T1, m1, p1, T2, m2, p2) == expected
    assert interval_ms_of(T2, None, p1, T1, None, p2) is None


def test_producers():
    assert producer_of("evt-3fa2c9d01b7e-1a") == "evt-3fa2c9d01b7e"
    assert producer_of("plain") is None and producer_of(7) is None and producer_of("-1") is None
    assert producer_of("a-b-c") == "a-b" and producer_of("evt-") == "evt"
    assert same_producer("evt-a-1", "evt-a-2") and not same_producer("evt-a-1", "evt-b-1")
    assert same_producer("evt-a-1", 7) and same_producer("x", "evt-b-1")


def test_the_summary_and_the_blotter_measure_two_producers_by_ts(tmp_path):
    """An order logged by the pipeline and its ack and fill by a venue adapter (another
    process, another monotonic clock): both readers measure by ts. Before the rule was
    shared, the summary took the mono_ns difference (5 ms) where the blotter took ts."""
    base = tmp_path / "logs"
    base.mkdir()
    lines = [
        line(T0, "intent", session="s", intent_id="i", side="buy", quantity=1.0,
             current_price=100.0, mono=10**9, event_id="evt-pa-1"),
        line(T0 + 0.5, "order", session="s", client_id="c", intent_id="i", side="buy",
             quantity=1.0, mono=10**9 + 1_000_000, event_id="evt-pa-2"),
        line(T0 + 2.5, "ack", session="s", client_id="c", mono=10**9 + 5_000_000,
             event_id="evt-pb-1"),
        line(T0 + 4.5, "fill", session="s", client_id="c", filled_quantity=1.0,
             fill_price=100.0, mono=10**9 + 6_000_000, event_id="evt-pb-2"),
    ]  # fmt: skip
    (base / "s.jsonl").write_text("\n".join(lines) + "\n")
    s = summarize(base, EventFilter.build(session_id="s"), as_of=T0 + 10, workers=1)
    (row,) = query_orders(base, "s", now=T0 + 10).orders
    lat = s.latency
    assert lat.intent_to_order.max_ms == row.latency_ms.intent_to_order == 1.0  # one: mono
    assert lat.order_to_ack.max_ms == row.latency_ms.order_to_ack == 2000.0
    assert lat.order_to_fill.max_ms == row.latency_ms.order_to_complete == 4000.0
    assert lat.intent_to_fill.max_ms == 4500.0


@pytest.mark.parametrize(("m1", "id1", "m2", "id2", "expected"), CASES)
def test_the_summary_measures_every_case_by_the_rule(tmp_path, m1, id1, m2, id2, expected):
    """The pairing keeps each event's producer and measures the mono case inline: every
    latency it takes is the rule's, intent->order, order->fill and intent->fill alike."""
    base = tmp_path / "logs"
    base.mkdir()
    lines = [
        # a: the intent is the earlier event, the order (and its fill) the later one
        line(T0, "intent", session="a", intent_id="i", side="buy", quantity=1.0,
             current_price=100.0, mono=m1, event_id=id1),
        line(T0 + 2, "order", session="a", client_id="c", intent_id="i", side="buy",
             quantity=1.0, mono=m2, event_id=id2),
        # b: the intent and the order are the earlier events, the fill the later one
        line(T0, "intent", session="b", intent_id="i", side="buy", quantity=1.0,
             current_price=100.0, mono=m1, event_id=id1),
        line(T0, "order", session="b", client_id="c", intent_id="i", side="buy",
             quantity=1.0, mono=m1, event_id=id1),
        line(T0 + 2, "fill", session="b", client_id="c", filled_quantity=1.0,
             fill_price=100.0, mono=m2, event_id=id2),
    ]  # fmt: skip
    (base / "a.jsonl").write_text("\n".join(lines[:2]) + "\n")
    (base / "b.jsonl").write_text("\n".join(lines[2:]) + "\n")
    a = summarize(base, EventFilter.build(session_id="a"), as_of=T0 + 10, workers=1)
    b = summarize(base, EventFilter.build(session_id="b"), as_of=T0 + 10, workers=1)
    assert a.latency.intent_to_order.max_ms == expected
    assert b.latency.order_to_fill.max_ms == expected
    assert b.latency.intent_to_fill.max_ms == expected
    assert a.latency.negative_intervals == b.latency.negative_intervals == 0
