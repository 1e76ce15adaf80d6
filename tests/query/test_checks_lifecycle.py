"""``missing_fills`` in ``--check``: an order is missing only when it is still open past its
deadline plus the grace (60 s); cancelled, expired, rejected and failed orders are not open,
and a working limit order inside its time in force has no deadline yet. Also the order
outcome, reject and open-order findings."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from src.query.checks import CRITICAL, INFO, OK, WARNING, CheckThresholds, evaluate
from src.query.engine import summarize
from src.query.filters import EventFilter
from tests.query import lifecycle_session as life

T0 = datetime(2025, 12, 20, 10, 0, tzinfo=UTC).timestamp()


def ev(t: float, kind: str, **payload) -> dict:
    return {
        "ts": datetime.fromtimestamp(T0 + t, UTC).isoformat(),
        "session_id": "s",
        "symbol": "X",
        "mode": "paper",
        "kind": kind,
        "payload": payload,
    }


def findings(tmp_path, events, at: float) -> dict:
    (tmp_path / "s.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    summary = summarize(tmp_path, EventFilter.build(session_id="s"), as_of=T0 + at)
    return {f.check: f for f in evaluate(summary)}


FILLED = [  # one filled order, so that a fill rate of 0% is not what is judged
    ev(0, "order", client_id="f", side="buy", quantity=1, order_type="market"),
    ev(0.1, "fill", client_id="f", side="buy", filled_quantity=1, fill_price=1.0),
]
LIMIT = {"side": "buy", "quantity": 1, "order_type": "limit", "limit_price": 1.0}
MARKET = {"side": "buy", "quantity": 1, "order_type": "market"}


@pytest.mark.parametrize(
    ("case", "events", "at", "severity"),
    [
        ("cancelled", [ev(1, "order", client_id="c", **LIMIT), ev(2, "cancel", client_id="c")],
         3600, OK),
        ("cancelled market order", [ev(1, "order", client_id="c", **MARKET),
                                    ev(2, "cancel", client_id="c")], 3600, OK),
        ("expired", [ev(1, "order", client_id="c", **LIMIT, time_in_force="IOC"),
                     ev(1, "expire", client_id="c", time_in_force="IOC")], 3600, OK),
        ("rejected", [ev(1, "order", client_id="c", **MARKET),
                      ev(1, "reject", client_id="c", reason="price band")], 3600, OK),
        ("failed", [ev(1, "order", client_id="c", **MARKET),
                    ev(1, "error", client_id="c", stage="execute", error="boom")], 3600, OK),
        ("GTC limit working", [ev(1, "order", client_id="c", **LIMIT, time_in_force="GTC")],
         86_400 * 3, OK),
        ("limit without a time in force", [ev(1, "order", client_id="c", **LIMIT)], 86_400, OK),
        ("DAY limit before midnight", [ev(1, "order", client_id="c", **LIMIT,
                                          time_in_force="DAY")], 13 * 3600, OK),
        ("DAY limit past midnight", [ev(1, "order", client_id="c", **LIMIT,
                                        time_in_force="DAY")], 14 * 3600 + 61, WARNING),
        ("expire_after_s inside", [ev(1, "order", client_id="c", **LIMIT, expire_after_s=300)],
         1 + 300 + 59, OK),
        ("expire_after_s past", [ev(1, "order", client_id="c", **LIMIT, expire_after_s=300)],
         1 + 300 + 61, WARNING),
        ("market within the grace", [ev(1, "order", client_id="c", **MARKET)], 50, OK),
        ("market past the grace", [ev(1, "order", client_id="c", **MARKET)], 62, WARNING),
        ("IOC without its expire", [ev(1, "order", client_id="c", **LIMIT, time_in_force="IOC")],
         62, WARNING),
        ("acknowledged market order", [ev(1, "order", client_id="c", **MARKET),
                                       ev(1.1, "ack", client_id="c")], 62, WARNING),
    ],
)  # fmt: skip
def test_missing_fills_rule(tmp_path, case, events, at, severity):
    got = findings(tmp_path, FILLED + events, at)["missing_fills"]
    assert got.severity == severity, (case, got.message)
    if severity == WARNING:
        assert "c for" in got.message


def test_no_fill_at_all_is_critical_only_for_orders_that_should_have_filled(tmp_path):
    working = [ev(1, "order", client_id=f"w{n}", **LIMIT) for n in range(5)]
    ended = [ev(1, "order", client_id="x", **MARKET), ev(2, "cancel", client_id="x")]
    assert findings(tmp_path, working + ended, 3600)["missing_fills"].severity == OK
    late = findings(tmp_path, [*working, ev(5, "order", client_id="m", **MARKET)], 3600)
    assert late["missing_fills"].severity == CRITICAL
    assert "fill rate 0%" in late["missing_fills"].message


def test_the_lifecycle_session_judged(tmp_path):
    life.write(tmp_path)
    summary = summarize(tmp_path, EventFilter.build(session_id=life.SESSION), as_of=life.AS_OF)
    got = {f.check: f for f in evaluate(summary)}
    assert got["missing_fills"].severity == WARNING
    assert got["missing_fills"].message.startswith(
        "2 orders without a fill past their deadline, the longest overdue o11 for 3500s"
    )
    assert got["order_outcomes"].severity == INFO
    assert got["order_outcomes"].message == (
        "11 orders: 2 filled, 2 cancelled (1 cancelled/expired partly filled), 1 expired, "
        "1 rejected, 1 failed, 4 open; cancel rate 18.18%, reject rate 9.09%"
    )
    assert got["rejects"].severity == WARNING  # 1 of 11 > 5%
    assert got["open_orders"].severity == INFO
    assert "4 open orders, the oldest placed 2025-12-20T10:01:10.005000Z (3530s ago)" in (
        got["open_orders"].message
    )
    assert got["latency_order_to_ack"].message == "p95 order->ack 70.0ms"
    lenient = CheckThresholds(reject_rate_warn=0.10)
    assert {f.check: f for f in evaluate(summary, lenient)}["rejects"].severity == INFO


def test_reject_rate_needs_enough_orders(tmp_path):
    few = [ev(1, "order", client_id="c", **MARKET), ev(1, "reject", client_id="c", reason="r")]
    assert findings(tmp_path, FILLED + few, 10)["rejects"].severity == INFO
    many = [
        e
        for n in range(10)
        for e in (
            ev(n, "order", client_id=f"c{n}", **MARKET),
            ev(n, "reject", client_id=f"c{n}", reason="r"),
        )
    ]
    assert findings(tmp_path, FILLED + many, 100)["rejects"].severity == CRITICAL  # 10 of 11


def test_sessions_without_orders_get_no_order_findings(tmp_path):
    got = findings(tmp_path, [ev(1, "intent", intent_id="i", side="buy")], 10)
    assert not {"order_outcomes", "rejects", "open_orders"} & set(got)


def test_summary_shows_the_order_outcomes_compactly(tmp_path):
    from src.cli.render import summary_lines

    life.write(tmp_path)
    summary = summarize(tmp_path, EventFilter.build(session_id=life.SESSION), as_of=life.AS_OF)
    lines = summary_lines(summary)
    assert (
        "Orders: 11 sent: 2 filled, 2 cancelled (1 partly filled), 1 expired, 1 rejected, "
        "1 failed, 4 open (2 past their deadline)"
    ) in lines
    assert "Order rates: cancel 18.18%, reject 9.09%; 7 acknowledged, 3 partial fills" in lines
    assert "Latency (order->ack): avg 40ms, p50 40ms, p95 70ms, max 70ms (n=7)" in lines
    assert (
        "  o11 ETH-USD since 2025-12-20T10:01:40.005000Z (age 3500s, 3500s past its deadline)"
        in lines
    )
    assert len(lines) <= 40  # the runbook's first step: short
