"""ExecutionEvent as a frozen msgspec Struct: what users of the old dataclass relied on."""

from __future__ import annotations

import pickle
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

from src.execution.events import ORIGIN_EVENT_ID, ExecutionEvent, copy_of
from src.execution.serialization import encode_event_line
from tests.conftest import REPO_ROOT


def test_fields_cannot_be_assigned(make_event):
    """Assigning a field raises (AttributeError, as FrozenInstanceError was) and changes nothing."""
    event = make_event()
    with pytest.raises(AttributeError):
        event.kind = "error"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        event.ts = datetime(2030, 1, 1, tzinfo=UTC)  # type: ignore[misc]
    assert event.kind == "fill" and event.ts == datetime(2025, 1, 1, 12, 0, 2, tzinfo=UTC)


def test_positional_and_keyword_construction_and_defaults():
    """The constructor keeps its field order, keywords and defaults (payload {}, fresh id)."""
    ts = datetime(2025, 1, 1, tzinfo=UTC)
    a = ExecutionEvent(ts, "s", "BTC-USD", "paper", "intent")
    b = ExecutionEvent(ts=ts, session_id="s", symbol="BTC-USD", mode="paper", kind="intent")
    assert a.payload == {} and a.seq is None and a.mono_ns is None
    assert a.event_id.startswith("evt-") and a.event_id != b.event_id
    assert a.payload is not b.payload  # not one shared default dict


def test_equality_is_by_value(make_event):
    """Events are equal when every field is; a different id makes them different."""
    event = make_event(seq=1, event_id="evt-x")
    assert event == make_event(seq=1, event_id="evt-x")
    assert event != make_event(seq=1, event_id="evt-y")
    assert event != event.to_dict()


def test_replace_runs_the_checks_and_the_utc_conversion(make_event):
    """msgspec.structs.replace (what copy_of and replay use) refuses a bad kind and makes an
    offset ts UTC, as the constructor does."""
    event = make_event()
    later = msgspec.structs.replace(
        event, ts=datetime(2025, 6, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    )
    assert later.ts.tzinfo is UTC and later.ts == datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
    assert encode_event_line(later).startswith(b'{"ts": "2025-06-01T08:00:00+00:00"')
    with pytest.raises(ValueError, match="'trade'"):
        msgspec.structs.replace(event, kind="trade")


def test_copy_of_gives_a_new_id_and_keeps_the_original(make_event):
    """copy_of: a new event_id, the original's in the payload, other changes applied."""
    event = make_event(event_id="evt-orig")
    copy = copy_of(event, session_id="other")
    assert copy.event_id != "evt-orig" and copy.payload[ORIGIN_EVENT_ID] == "evt-orig"
    assert copy.session_id == "other" and ORIGIN_EVENT_ID not in event.payload


_LINE_IN_CHILD = """
import pickle, sys
from src.execution.serialization import encode_event_line
sys.stdout.buffer.write(encode_event_line(pickle.loads(sys.stdin.buffer.read())))
"""


def test_events_pickle_and_cross_processes(make_event):
    """Pickling round-trips, also into another interpreter (as multiprocessing sends events),
    and the line written there is the same."""
    event = make_event(seq=7, mono_ns=99)
    data = pickle.dumps(event)
    assert pickle.loads(data) == event
    child = subprocess.run(
        [sys.executable, "-c", _LINE_IN_CHILD],
        input=data, cwd=REPO_ROOT, capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    assert child.stdout == encode_event_line(event)
