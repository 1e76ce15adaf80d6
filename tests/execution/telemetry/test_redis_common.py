"""The shared Redis pieces: line round trip, URL redaction, reply shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.execution.events import KINDS, MODES, ExecutionEvent
from src.execution.serialization import encode_event_line
from src.execution.telemetry.redis_common import (
    decode_line,
    redact_url,
    scrubber,
    stream_entries,
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.text(max_size=20)
    | st.floats(allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
offsets = st.sampled_from([None, UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-3))])


@given(
    ts=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)),
    tz=offsets,
    session=st.text(min_size=1, max_size=30),
    symbol=st.text(max_size=12),
    kind=st.sampled_from(KINDS),
    mode=st.sampled_from(MODES),
    payload=st.dictionaries(st.text(max_size=10), json_values, max_size=6),
    seq=st.none() | st.integers(0, 2**62),
    mono=st.none() | st.integers(0, 2**62),
)
def test_collector_rewrites_the_producers_line_exactly(
    ts, tz, session, symbol, kind, mode, payload, seq, mono
):
    """decode_line -> ExecutionEvent -> encode_event_line reproduces the stream's bytes, so the
    archive written through JsonlExecutionLogger equals what the producer would have logged."""
    event = ExecutionEvent(
        ts=ts if tz is None else ts.replace(tzinfo=tz), session_id=session, symbol=symbol,
        mode=mode, kind=kind, payload=payload, seq=seq, mono_ns=mono,
    )  # fmt: skip
    line = encode_event_line(event)
    decoded_line, decoded = decode_line({b"line": line})
    assert decoded_line == line
    assert encode_event_line(decoded) == line
    assert decoded.event_id == event.event_id


def test_round_trip_holds_for_values_json_has_no_type_for(make_event):
    """Decimal, tuples and int keys are written as JSON values; re-encoding keeps the bytes."""
    line = encode_event_line(make_event(payload={"p": Decimal("1.25"), "t": (1, 2), 3: "x"}))
    assert encode_event_line(decode_line({"line": line.decode()})[1]) == line


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@host:6379/0", "redis://:***@host:6379/0"),
        ("redis://user:s3cret@host:6379/0", "redis://user:***@host:6379/0"),
        ("rediss://s3cret@host/1", "rediss://:***@host/1"),
        ("redis://host:6379/0?password=s3cret&db=1", "redis://host:6379/0?password=***&db=1"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("unix:///run/redis.sock?password=s3cret", "unix:///run/redis.sock?password=***"),
    ],
)
def test_redact_url_hides_every_form_of_password(url, shown):
    """User-info and query passwords become *** ; the rest stays readable."""
    assert redact_url(url) == shown
    assert "s3cret" not in redact_url(url)


def test_scrubber_removes_plain_and_percent_encoded_passwords():
    """Any text mentioning the password (raw or URL-decoded) is cleaned."""
    scrub = scrubber("redis://u:p%40ss%2Fw0rd@h:1/0")
    assert scrub("auth failed for p%40ss%2Fw0rd / p@ss/w0rd") == "auth failed for *** / ***"
    assert scrubber("redis://h:1/0")("nothing to hide") == "nothing to hide"


def test_stream_entries_accepts_every_reply_shape():
    """RESP2 lists, RESP3 dicts (with or without the extra list) and trimmed entries."""
    entries = [(b"1-0", {b"line": b"a"}), (b"2-0", {})]
    expected = [(b"1-0", {b"line": b"a"}), (b"2-0", {})]
    assert stream_entries([[b"s", entries]]) == expected
    assert stream_entries({b"s": entries}) == expected
    assert stream_entries({b"s": [entries]}) == expected
    assert stream_entries([]) == [] and stream_entries(None) == []
    assert stream_entries([[b"s", [(None, None), (b"3-0", None)]]]) == [(b"3-0", {})]


def test_decode_line_refuses_entries_that_are_not_events():
    """A missing field, bad JSON or a non-object is an error for the caller to route."""
    with pytest.raises(ValueError, match="no 'line' field"):
        decode_line({b"other": b"x"})
    with pytest.raises(ValueError):
        decode_line({b"line": b"not json"})
    with pytest.raises(ValueError, match="not a JSON object"):
        decode_line({b"line": b"[1, 2]"})
