"""ExecutionEvent: the spec's six fields, the extras, validation and severity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from src.execution.events import ExecutionEvent, event_severity, event_to_dict


def test_to_dict_keeps_spec_fields_first_with_isoformat_ts(make_event):
    """to_dict starts with the spec's six keys, ts exactly as datetime.isoformat() gives it."""
    event = make_event(seq=3)
    d = event.to_dict()
    assert list(d)[:6] == ["ts", "session_id", "symbol", "mode", "kind", "payload"]
    assert d["ts"] == event.ts.isoformat() == "2025-01-01T12:00:02+00:00"
    assert d["payload"]["fill_price"] == 100020.0
    assert d["seq"] == 3
    assert d["event_id"].startswith("evt-")


def test_event_to_dict_is_the_method(make_event):
    """event_to_dict(e) is the same mapping as e.to_dict()."""
    event = make_event()
    assert event_to_dict(event) == event.to_dict()


def test_spec_example_constructs_with_naive_ts():
    """The spec's own example (naive datetime.now(), no seq) builds and serialises."""
    event = ExecutionEvent(
        ts=datetime.now(),
        session_id="session_123",
        symbol="BTC-USD",
        mode="paper",
        kind="intent",
        payload={"side": "buy", "quantity": 1.0, "current_price": 100000.0},
    )
    d = event.to_dict()
    assert "seq" not in d and "mono_ns" not in d
    assert d["kind"] == "intent"


def test_event_ids_are_unique(make_event):
    """Each event gets its own event_id."""
    ids = {make_event().event_id for _ in range(1000)}
    assert len(ids) == 1000


@pytest.mark.parametrize(
    ("field", "value"), [("kind", "trade"), ("mode", "prod"), ("ts", "2025-01-01")]
)
def test_invalid_fields_are_refused_naming_the_value(make_event, field, value):
    """Unknown kinds, modes and non-datetime ts raise ValueError naming the bad value."""
    with pytest.raises(ValueError, match=repr(value)):
        make_event(**{field: value})


def test_from_dict_round_trips(make_event):
    """from_dict(to_dict(e)) gives back an equal event, including an offset timestamp."""
    tz = timezone(timedelta(hours=2))
    event = make_event(ts=datetime(2025, 6, 1, 8, 30, 0, 123456, tzinfo=tz), seq=9, mono_ns=42)
    assert ExecutionEvent.from_dict(event.to_dict()) == event


@pytest.mark.parametrize(
    ("kind", "payload", "expected"),
    [
        ("error", {"error": "x"}, "error"),
        ("gate", {"passed": False}, "warning"),
        ("gate", {"passed": True}, "info"),
        ("fill", {}, "info"),
        ("fill", {"severity": "debug"}, "debug"),
        ("reject", {"reason": "insufficient balance"}, "warning"),
        ("cancel", {"reason": "requested"}, "info"),
    ],
)
def test_severity_derivation(make_event, kind, payload, expected):
    """Severity: explicit payload value, else error/blocked-gate/info by kind."""
    assert event_severity(make_event(kind=kind, payload=payload)) == expected


def test_utc_ts_roundtrip_is_aware(make_event):
    """An aware UTC ts keeps its offset in the serialised form."""
    assert make_event(ts=datetime(2025, 1, 1, tzinfo=UTC)).to_dict()["ts"].endswith("+00:00")
