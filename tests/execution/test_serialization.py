"""The JSONL line format: spec spacing, exact isoformat ts, never failing on odd payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum

import orjson
from hypothesis import given
from hypothesis import strategies as st

from src.execution.events import KINDS, MODES, ExecutionEvent
from src.execution.serialization import encode_event_line, encode_json_line


def test_top_level_keeps_spec_spacing(make_event):
    """Top-level keys are written as "key": value so the spec's grep works on raw logs."""
    line = encode_event_line(make_event()).decode()
    assert line.endswith("\n") and line.count("\n") == 1
    assert '"kind": "fill"' in line
    assert line.startswith('{"ts": "2025-01-01T12:00:02+00:00", "session_id": "session_123"')


def test_line_parses_to_to_dict(make_event):
    """The line is valid JSON equal to event.to_dict()."""
    event = make_event(seq=5, mono_ns=123)
    assert json.loads(encode_event_line(event)) == event.to_dict()


def test_unusual_payload_values_are_written_not_raised(make_event):
    """Decimal, Enum, sets, non-str keys and arbitrary objects serialise instead of failing."""

    class Side(Enum):
        BUY = "buy"

    payload = {"d": Decimal("1.5"), "e": Side.BUY, "s": {1}, 3: "int key", "o": object()}
    parsed = json.loads(encode_event_line(make_event(payload=payload)))
    assert parsed["payload"]["d"] == 1.5
    assert parsed["payload"]["e"] == "buy"
    assert parsed["payload"]["s"] == [1]
    assert parsed["payload"]["3"] == "int key"
    assert parsed["payload"]["o"].startswith("<object object")


def test_encode_json_line_keeps_spacing():
    """Re-encoding a parsed record keeps the spec spacing (used by exports)."""
    assert encode_json_line({"kind": "fill", "payload": {"a": 1}}) == (
        b'{"kind": "fill", "payload": {"a":1}}\n'
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
offsets = st.sampled_from(
    [None, UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]
)


@given(
    ts=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)),
    tz=offsets,
    session=st.text(min_size=1, max_size=30),
    symbol=st.text(max_size=12),
    kind=st.sampled_from(KINDS),
    mode=st.sampled_from(MODES),
    payload=st.dictionaries(st.text(max_size=10), json_values, max_size=6),
    seq=st.none() | st.integers(0, 2**62),
)
def test_round_trip_property(ts, tz, session, symbol, kind, mode, payload, seq):
    """For any event, the line parses back to to_dict(), ts the isoformat() of the UTC instant."""
    ts = ts if tz is None else ts.replace(tzinfo=tz)
    event = ExecutionEvent(
        ts=ts, session_id=session, symbol=symbol, mode=mode, kind=kind, payload=payload, seq=seq
    )
    line = encode_event_line(event)
    assert line.endswith(b"\n") and b"\n" not in line[:-1]
    parsed = orjson.loads(line)
    assert parsed == event.to_dict()
    # Written as the UTC instant; a naive ts is the host's local time (astimezone()).
    assert parsed["ts"] == ts.astimezone(UTC).isoformat()
    assert ExecutionEvent.from_dict(parsed).ts == ts.astimezone(UTC)


@given(
    ts=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 1, 1)),
    symbol=st.text(max_size=12),
    payload=st.dictionaries(st.text(max_size=10), json_values, max_size=6),
    seq=st.integers(0, 2**62),
    mono=st.integers(0, 2**62),
    event_id=st.none() | st.text(max_size=20),
)
def test_pipeline_shaped_events_take_the_template_and_match_the_general_path(
    ts, symbol, payload, seq, mono, event_id
):
    """An aware UTC ts with seq and mono_ns (what the pipeline builds) is written through the
    cached template, its ts encoded by msgspec: byte for byte what the general path writes
    (orjson's isoformat of the instant, whole or with microseconds)."""
    event = ExecutionEvent(
        ts=ts.replace(tzinfo=UTC), session_id="s%1", symbol=symbol, mode="paper", kind="fill",
        payload=payload, seq=seq, mono_ns=mono,
        **({} if event_id is None else {"event_id": event_id}),
    )  # fmt: skip
    line = encode_event_line(event)
    expected = b"{" + b", ".join(
        orjson.dumps(key) + b": " + orjson.dumps(value)
        for key, value in {**event.to_dict(), "ts": event.ts.isoformat()}.items()
    ) + b"}\n"  # fmt: skip
    assert line == expected
