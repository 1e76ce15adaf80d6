"""The order blotter's query layer: one row per order over a session with every lifecycle
path, filters, pages, the live book (appends, resets, bounded memory) and chains."""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, datetime

import pytest

from src.query.orders import OrderBook, OrderQuery, order_chain, query_orders
from src.query.orders.latency import between_ms, mark_of, producer_of
from tests.query.orders_sessions import (
    EXPECTED_STATUS,
    NEWEST_FIRST,
    SESSION,
    T0,
    lifecycle_lines,
    line,
    write_session,
)

NOW = T0 + 100


@pytest.fixture
def base(tmp_path):
    root = tmp_path / "logs"
    write_session(root)
    return root


def _all(base, **kw):
    return query_orders(base, SESSION, OrderQuery.build(limit=500, **kw), now=NOW)


def test_every_lifecycle_path_is_one_row_newest_first(base):
    page = _all(base)
    assert [r.id for r in page.orders] == NEWEST_FIRST
    assert {r.id: r.status for r in page.orders} == EXPECTED_STATUS
    assert page.counts == {
        "open": 3, "filled": 3, "cancelled": 2, "expired": 1, "rejected": 1, "blocked": 1,
        "error": 1,
    }  # fmt: skip
    assert page.next_before is None
    rows = {r.id: r for r in page.orders}
    c1 = rows["c1"]
    assert (c1.filled_quantity, c1.avg_fill_price, c1.fees) == (1.0, 100.1, 0.01)
    assert c1.slippage_bps == pytest.approx(10.0)  # bought above the quote: worse, positive
    assert [(g.name, g.passed) for g in c1.gates] == [("Risk", True), ("MaxNotional", True)]
    # mono_ns from one producer: exact milliseconds
    assert c1.latency_ms.intent_to_order == pytest.approx(5.0)
    assert c1.latency_ms.order_to_ack == pytest.approx(10.0)
    assert c1.latency_ms.order_to_first_fill == pytest.approx(20.0)
    assert c1.latency_ms.order_to_complete == pytest.approx(20.0)
    c2 = rows["c2"]
    assert (c2.filled_quantity, c2.avg_fill_price, c2.reason) == (0.4, 201.0, "cancel requested")
    assert c2.slippage_bps == pytest.approx(-50.0)  # sold above the quote: better
    assert c2.limit_price == 201.0 and c2.time_in_force == "GTC" and c2.order_type == "limit"
    assert c2.age_s == pytest.approx(1.0)  # ended: from creation to its end
    c3 = rows["c3"]  # the fill after a partial fill carries the whole order's numbers
    assert (c3.filled_quantity, c3.avg_fill_price, c3.fees) == (2.0, 50.075, 0.01)
    assert rows["c5"].reason == "IOC remainder"
    assert rows["c6"].reason == "insufficient balance"
    i7 = rows["i7"]
    assert i7.client_id is None and i7.intent_id == "i7"
    assert i7.reason == "MaxNotional: notional over limit"
    assert [(g.name, g.passed) for g in i7.gates] == [("Risk", True), ("MaxNotional", False)]
    assert rows["c8"].reason == "ConnectionError: venue down"
    assert {k: rows[k].stage for k in ("c9", "c10", "c11")} == {
        "c9": "acknowledged", "c10": "sent", "c11": "partially_filled",
    }  # fmt: skip
    assert rows["c9"].age_s == pytest.approx(NOW - (T0 + 16))  # open: until now
    assert all(rows[k].stage is None for k in EXPECTED_STATUS if EXPECTED_STATUS[k] != "open")
    c12 = rows["c12"]  # no order logged: the fill paired with its intent by intent_id
    assert (c12.intent_id, c12.side, c12.quantity, c12.filled_quantity) == ("i12", "sell", 1, 1)
    assert c12.slippage_bps == pytest.approx(10.0)  # sold below the intent's quote
    assert c12.created_ts == datetime.fromtimestamp(T0 + 22, UTC).isoformat()


def test_invalid_lines_are_skipped_as_every_reader_skips_them(base):
    """The array-symbol fill for c9 and the object-id cancel are invalid: c9 stays open."""
    rows = {r.id: r for r in _all(base).orders}
    assert rows["c9"].status == "open" and rows["c9"].filled_quantity == 0


@pytest.mark.parametrize(
    ("kw", "ids"),
    [
        ({"status": "open"}, ["c11", "c10", "c9"]),
        ({"status": "cancelled,expired"}, ["c5", "c4", "c2"]),
        ({"status": "blocked"}, ["i7"]),
        ({"symbol": "ETH-USD"}, ["c10", "c5", "c4"]),
        ({"status": "open", "symbol": "ETH-USD,BTC-USD"}, ["c11", "c10", "c9"]),
        (
            {"since": datetime.fromtimestamp(T0 + 10, UTC), "until": "2026-11-30T09:00:16Z"},
            ["c9", "c8", "i7", "c6"],
        ),
    ],
)
def test_filters(base, kw, ids):
    assert [r.id for r in _all(base, **kw).orders] == ids


@pytest.mark.parametrize(
    ("kw", "named"),
    [
        ({"status": "working"}, "'working'"),
        ({"status": ","}, "','"),
        ({"limit": 0}, "0"),
        ({"limit": 501}, "501"),
        ({"since": "yesterday"}, "'yesterday'"),
        ({"since": "2026-11-30T10:00:00Z", "until": "2026-11-30T09:00:00Z"}, "10:00"),
    ],
)
def test_bad_criteria_name_the_value(kw, named):
    with pytest.raises(ValueError, match=named):
        OrderQuery.build(**kw)


def test_pages_follow_the_cursor(base):
    seen, before = [], None
    for _ in range(10):
        page = query_orders(base, SESSION, OrderQuery(limit=5), before, now=NOW)
        seen += [r.id for r in page.orders]
        before = page.next_before
        if before is None:
            break
    assert seen == NEWEST_FIRST
    with pytest.raises(ValueError, match="invalid cursor 'nope'"):
        query_orders(base, SESSION, OrderQuery(), "nope")
    other = query_orders(base, SESSION, OrderQuery(limit=1)).next_before
    (base / "other.jsonl").write_text((base / f"{SESSION}.jsonl").read_text())
    with pytest.raises(ValueError, match="not a position in this session"):
        query_orders(base, "other", OrderQuery(), other)


def test_the_book_reads_only_what_was_appended(base):
    path = base / f"{SESSION}.jsonl"
    book = OrderBook(base, SESSION)
    assert [r.id for r in book.page(OrderQuery.build(status="open"), now=NOW).orders] == [
        "c11", "c10", "c9",
    ]  # fmt: skip
    events = book.fold.events
    with path.open("a") as fh:
        fh.write(line(T0 + 30, "cancel", client_id="c9", reason="user") + "\n")
        fh.write(line(T0 + 31, "fill", client_id="c10", filled_quantity=3.0, fill_price=10.0))
    page = book.page(OrderQuery.build(status="open"), now=NOW)
    assert [r.id for r in page.orders] == ["c11", "c10"]  # the fill's line is not complete
    assert book.fold.events == events + 1 and book.rebuilds == 0
    with path.open("a") as fh:
        fh.write("\n")
    page = book.page(OrderQuery.build(status="open"), now=NOW)
    assert [r.id for r in page.orders] == ["c11"]
    assert page.counts["open"] == 1 and page.counts["filled"] == 4
    assert book.rebuilds == 0
    # Rewritten in place (say, a restore of an older copy): folded again from the start.
    write_session(base)
    page = book.page(OrderQuery.build(status="open"), now=NOW)
    assert [r.id for r in page.orders] == ["c11", "c10", "c9"] and book.rebuilds == 1


def _many(base, n):
    """n orders: every third one stays open, the others fill, cancel or get rejected."""
    lines = []
    for k in range(n):
        t = T0 + k
        lines.append(
            line(t, "intent", intent_id=f"i{k}", side="buy", quantity=1.0, current_price=100.0)
        )
        lines.append(
            line(t + 0.1, "order", client_id=f"c{k}", intent_id=f"i{k}", side="buy", quantity=1.0)
        )
        if k % 3 == 1:
            lines.append(
                line(t + 0.2, "fill", client_id=f"c{k}", filled_quantity=1.0, fill_price=100.0)
            )
        elif k % 3 == 2:
            kind = "cancel" if k % 2 else "reject"
            lines.append(line(t + 0.2, kind, client_id=f"c{k}", reason="r"))
    base.mkdir(parents=True, exist_ok=True)
    (base / "many.jsonl").write_text("\n".join(lines) + "\n")


def test_memory_is_bounded_and_dropped_orders_are_read_back(tmp_path):
    base = tmp_path / "logs"
    _many(base, 600)
    small = OrderBook(base, "many", max_ended=50)
    full = OrderBook(base, "many", max_ended=10_000)
    small.refresh()
    assert small.fold.ended_kept <= 50 + 64 and small.fold.dropped_upto is not None
    assert len(small.fold.open) == 200  # open orders are all kept
    for kw in ({}, {"status": "filled"}, {"status": "open,rejected"}, {"status": "open"}):
        for limit in (7, 120):
            q = OrderQuery.build(limit=limit, **kw)
            before_small = before_full = None
            for _ in range(200):
                a = small.page(q, before_small, now=NOW)
                b = full.page(q, before_full, now=NOW)
                assert a == b, (kw, limit)
                before_small, before_full = a.next_before, b.next_before
                if before_small is None:
                    break
            else:
                pytest.fail("pages did not end")
    reads = small.readbacks
    small.page(OrderQuery.build(status="open", limit=500), now=NOW)
    assert small.readbacks == reads  # the open view never reads back
    chain = small.chain("c1", now=NOW)  # filled and dropped long ago
    assert small.readbacks == reads + 1
    assert chain == full.chain("c1", now=NOW)
    assert [s.kind for s in chain.chain] == ["intent", "order", "fill"]


def test_order_chain_oldest_first_with_time_between(base):
    chain = order_chain(base, SESSION, "c2", now=NOW)
    assert chain.order.id == "c2" and chain.order.status == "cancelled"
    assert [s.kind for s in chain.chain] == [
        "intent", "gate", "order", "ack", "partial_fill", "cancel",
    ]  # fmt: skip
    gaps = [s.since_previous_ms for s in chain.chain]
    assert gaps[0] is None
    assert gaps[1:] == pytest.approx([1.0, 1.0, 8.0, 490.0, 500.0])
    assert chain.chain[-1].event["payload"]["reason"] == "cancel requested"
    blocked = order_chain(base, SESSION, "i7", now=NOW)
    assert [s.kind for s in blocked.chain] == ["intent", "gate", "gate"]
    c1 = order_chain(base, SESSION, "c1", now=NOW)
    assert [s.since_previous_ms for s in c1.chain][1:] == pytest.approx([1, 1, 3, 10, 10])
    assert order_chain(base, SESSION, "nope") is None
    assert order_chain(base, "no-such-session", "c1") is None


def test_chain_of_a_compressed_session(base):
    path = base / f"{SESSION}.jsonl"
    with path.open("rb") as src, gzip.open(f"{path}.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    path.unlink()
    chain = order_chain(base, SESSION, "c3", now=NOW)
    assert [s.kind for s in chain.chain] == ["intent", "order", "ack", "partial_fill", "fill"]


def test_logs_without_ids_pair_in_arrival_order(tmp_path):
    base = tmp_path / "logs"
    base.mkdir()
    lines = [
        line(T0, "intent", session="s", side="buy", quantity=1.0, current_price=10.0),
        line(T0 + 1, "order", session="s", side="buy", quantity=1.0),
        line(T0 + 2, "fill", session="s", filled_quantity=1.0, fill_price=10.1),
        line(T0 + 3, "intent", session="s", side="buy", quantity=2.0, current_price=10.0),
    ]
    (base / "s.jsonl").write_text("\n".join(lines) + "\n")
    rows = query_orders(base, "s", now=NOW).orders
    assert [(r.status, r.quantity, r.filled_quantity, r.stage) for r in rows] == [
        ("open", 2.0, 0.0, None),  # an intent still waiting for its order
        ("filled", 1.0, 1.0, None),
    ]
    assert rows[1].slippage_bps == pytest.approx(100.0)
    assert rows[1].latency_ms.intent_to_order == pytest.approx(1000.0)
    chain = order_chain(base, "s", rows[1].id)
    assert [s.kind for s in chain.chain] == ["intent", "order", "fill"]


def test_older_logs_with_several_fills_per_order(tmp_path):
    """Before partial_fill existed an order filled in several fill lines: they add up."""
    base = tmp_path / "logs"
    base.mkdir()
    lines = [
        line(T0, "order", session="s", client_id="c", side="buy", quantity=2.0),
        line(T0 + 1, "fill", session="s", client_id="c", filled_quantity=1.0, fill_price=10.0),
        line(T0 + 2, "fill", session="s", client_id="c", filled_quantity=1.0, fill_price=12.0),
        line(T0 + 3, "fill", session="s", client_id="c", filled_quantity=1.0, fill_price=12.0),
    ]
    (base / "s.jsonl").write_text("\n".join(lines) + "\n")
    (row,) = query_orders(base, "s", now=NOW).orders
    assert (row.status, row.filled_quantity, row.avg_fill_price) == ("filled", 2.0, 11.0)


def test_latency_uses_mono_only_from_one_producer():
    t1 = datetime.fromtimestamp(T0, UTC)
    t2 = datetime.fromtimestamp(T0 + 1, UTC)

    def ms(a, b):
        return between_ms(mark_of(t1, *a), mark_of(t2, *b))

    assert ms((0, "evt-a-1"), (5_000_000, "evt-a-2")) == 5.0
    assert ms((0, "evt-a-1"), (5_000_000, "evt-b-1")) == 1000.0  # two processes: ts
    assert ms((0, None), (5_000_000, "evt-b-1")) == 5.0  # unknown: trusted, as the analytics
    assert ms((9, None), (5, None)) == 1000.0  # the monotonic clock went back: ts
    assert between_ms(mark_of(t2, None, None), mark_of(t1, None, None)) is None
    assert producer_of("evt-3fa2c9d01b7e-1a") == "evt-3fa2c9d01b7e"
    assert producer_of("plain") is None and producer_of(7) is None


def test_producers_in_a_session(tmp_path):
    """Order and ack written by two processes (a venue adapter): ts, not mono_ns."""
    base = tmp_path / "logs"
    base.mkdir()
    lines = [
        line(T0, "order", session="s", client_id="c", mono=10**9, event_id="evt-pa-1"),
        line(T0 + 2, "ack", session="s", client_id="c", mono=10**9 + 5, event_id="evt-pb-1"),
    ]
    (base / "s.jsonl").write_text("\n".join(lines) + "\n")
    (row,) = query_orders(base, "s", now=NOW).orders
    assert row.latency_ms.order_to_ack == 2000.0


@pytest.mark.parametrize("step", [1, 7, 500, 3000])
def test_the_book_fed_in_pieces_equals_one_fold(tmp_path, step):
    """Appended a few bytes at a time (lines cut anywhere), refreshed after each piece: the
    live book ends where one fold of the whole file does, chains included."""
    text = "\n".join(lifecycle_lines()) + "\n"
    base = tmp_path / "logs"
    base.mkdir()
    path = base / f"{SESSION}.jsonl"
    path.write_text("")
    book = OrderBook(base, SESSION, max_ended=3)  # small: dropping and reading back too
    data = text.encode()
    for start in range(0, len(data), step * 97):
        with path.open("ab") as fh:
            fh.write(data[start : start + step * 97])
        book.page(OrderQuery(limit=2), now=NOW)
    assert book.rebuilds == 0
    q = OrderQuery(limit=500)
    assert book.page(q, now=NOW) == query_orders(base, SESSION, q, now=NOW)
    for order_id in EXPECTED_STATUS:
        assert book.chain(order_id, now=NOW) == order_chain(base, SESSION, order_id, now=NOW)
