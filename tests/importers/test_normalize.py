"""Normalising other systems' records: names, value case, ids, decisions, times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from src.importers.normalize import RowError, normalize, parse_time


def test_a_foreign_flat_fill_becomes_our_fill():
    """Upper-case values, order_id, qty/price/fee and a Z timestamp map onto our schema."""
    event = normalize(
        {
            "timestamp": "2025-12-20T10:00:00.5Z",
            "session": "broker-1",
            "instrument": "BTC-USD",
            "env": "PAPER",
            "type": "EXECUTION",
            "order_id": "A-17",
            "side": "BUY",
            "qty": "1.5",
            "price": "100,020.5",
            "fee": 0.25,
            "venue": "X",
        }
    )
    assert (event.kind, event.mode, event.session_id, event.symbol) == (
        "fill",
        "paper",
        "broker-1",
        "BTC-USD",
    )
    assert event.ts == datetime(2025, 12, 20, 10, 0, 0, 500000, tzinfo=UTC)
    assert dict(event.payload) == {
        "client_id": "A-17",
        "side": "buy",
        "filled_quantity": 1.5,
        "fill_price": 100020.5,
        "fill_fee": 0.25,
        "venue": "X",
    }


def test_gate_decisions_and_names():
    """gate -> gate_name and decision ALLOW|BLOCK -> passed True|False."""
    base = {"ts": "2025-12-20T10:00:00Z", "session_id": "s", "mode": "live", "kind": "GATE"}
    allow = normalize({**base, "payload": {"gate": "MaxNotional", "decision": "ALLOW"}})
    block = normalize({**base, "payload": {"gate": "MaxNotional", "decision": "block"}})
    assert dict(allow.payload) == {"gate_name": "MaxNotional", "passed": True}
    assert block.payload["passed"] is False
    with pytest.raises(RowError, match="invalid decision 'MAYBE'"):
        normalize({**base, "payload": {"gate": "G", "decision": "MAYBE"}})


def test_our_own_names_win_over_aliases():
    """A record with both client_id and order_id keeps both untouched."""
    event = normalize(
        {
            "ts": "2025-12-20T10:00:00Z",
            "session_id": "s",
            "mode": "live",
            "kind": "order",
            "payload": {"client_id": "c1", "order_id": "exch-9", "order_type": "LMT"},
        }
    )
    assert dict(event.payload) == {"client_id": "c1", "order_id": "exch-9", "order_type": "limit"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-12-20T10:00:00Z", datetime(2025, 12, 20, 10, tzinfo=UTC)),
        ("2025-12-20T11:00:00+01:00", datetime(2025, 12, 20, 10, tzinfo=UTC)),
        ("2025-12-20T05:00:00-05:00", datetime(2025, 12, 20, 10, tzinfo=UTC)),
        ("2025-12-20 10:00:00", datetime(2025, 12, 20, 10, tzinfo=UTC)),
        (1766224800, datetime(2025, 12, 20, 10, tzinfo=UTC)),
        ("1766224800000", datetime(2025, 12, 20, 10, tzinfo=UTC)),
        (1766224800000000, datetime(2025, 12, 20, 10, tzinfo=UTC)),
        (1766224800000000000, datetime(2025, 12, 20, 10, tzinfo=UTC)),
    ],
)
def test_times_become_utc(value, expected):
    """Z, offsets, naive text (UTC) and epoch s/ms/us/ns all give the same UTC instant."""
    assert parse_time(value) == expected
    assert parse_time(value).utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"kind": "fill", "session_id": "s", "mode": "paper"}, "missing ts"),
        ({"ts": "yesterday", "kind": "fill", "session_id": "s", "mode": "paper"}, "invalid time"),
        ({"ts": 1, "kind": "heartbeat", "session_id": "s", "mode": "paper"}, "invalid kind"),
        ({"ts": 1, "kind": "fill", "session_id": "../x", "mode": "paper"}, "invalid session_id"),
        ({"ts": 1, "kind": "fill", "session_id": "s"}, "missing mode"),
        ({"ts": 1, "kind": "fill", "mode": "paper"}, "missing session_id"),
        ({"ts": 1, "kind": "fill", "session_id": "s", "mode": "paper", "qty": "lots"},
         "invalid number for filled_quantity: 'lots'"),
        ({"ts": 1, "kind": "fill", "session_id": "s", "mode": "paper", "side": "up"},
         "invalid side 'up'"),
        ({"ts": 1, "kind": "fill", "session_id": "s", "mode": "paper", "payload": "[1]"},
         "payload is not an object"),
    ],
)  # fmt: skip
def test_rows_that_cannot_be_events_say_why(record, reason):
    """Each kind of bad row raises RowError naming the problem."""
    with pytest.raises(RowError, match=reason.replace("(", r"\(").replace("[", r"\[")):
        normalize(record)


def test_defaults_and_stable_ids():
    """session_id/mode options fill gaps; a missing event_id is derived from the row identity."""
    record = {"time": "2025-12-20T10:00:00Z", "event_type": "signal", "quantity": "2"}
    a = normalize(record, session_id="imp", mode="backtest", identity=b"f.csv:2:row")
    b = normalize(record, session_id="imp", mode="backtest", identity=b"f.csv:2:row")
    assert (a.kind, a.mode, a.session_id, a.payload["quantity"]) == (
        "intent",
        "backtest",
        "imp",
        2.0,
    )
    assert a.event_id == b.event_id and a.event_id.startswith("evt-imp-")


def test_an_imported_event_gets_its_own_id_and_keeps_the_original():
    """The record's own id moves to payload origin_event_id; the new id is stable for the same
    row and session, and differs between sessions (two imports of one file never collide)."""
    record = {"ts": "2025-12-20T10:00:00Z", "kind": "fill", "mode": "paper", "event_id": "evt-1"}
    a = normalize(record, session_id="a", identity=b"f.jsonl:1:row")
    again = normalize(record, session_id="a", identity=b"f.jsonl:1:row")
    b = normalize(record, session_id="b", identity=b"f.jsonl:1:row")
    assert a.payload["origin_event_id"] == "evt-1" and a.event_id != "evt-1"
    assert a.event_id == again.event_id and a.event_id != b.event_id
