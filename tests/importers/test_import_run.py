"""Imports: round trips from our own exports, bad rows reported, sessions whole, refusals."""

from __future__ import annotations

import fcntl
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from src.execution.events import ExecutionEvent
from src.execution.telemetry.jsonl import JsonlExecutionLogger
from src.export import export
from src.importers import SessionExistsError, import_file
from src.query.engine import iter_events
from src.query.filters import EventFilter

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "execution_telemetry"


def events_of(base: Path) -> list[ExecutionEvent]:
    return [ExecutionEvent.from_dict(r.data) for r in iter_events(base, EventFilter())]


def as_original(event: ExecutionEvent) -> ExecutionEvent:
    """An imported event with the original's id back (from payload origin_event_id)."""
    payload = dict(event.payload)
    origin = payload.pop("origin_event_id")
    assert event.event_id != origin, "an imported event must not reuse the original's id"
    return msgspec.structs.replace(event, event_id=origin, payload=payload)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "csv.gz", "jsonl.gz"])
def test_export_then_import_gives_the_same_events(tmp_path, fmt):
    """Every valid fixture event survives export and import unchanged (times, payloads), as a
    new event: its own id, the original's in payload origin_event_id."""
    out = tmp_path / f"all.{fmt}"
    export(FIX, EventFilter(), fmt.split(".")[0], out)
    bad: list = []
    result = import_file(
        out, tmp_path / "logs", fmt=fmt.split(".")[0], on_bad_row=lambda *a: bad.append(a)
    )
    assert bad == [] and result.events == 67
    original = sorted(events_of(FIX), key=lambda e: e.event_id)
    imported = [as_original(e) for e in events_of(tmp_path / "logs")]
    assert sorted(imported, key=lambda e: e.event_id) == original
    again = tmp_path / "again"
    import_file(out, again, fmt=fmt.split(".")[0])
    assert {e.event_id for e in events_of(again)} == {
        e.event_id for e in events_of(tmp_path / "logs")
    }, "stable ids"


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def events(draw) -> list[ExecutionEvent]:
    n = draw(st.integers(1, 8))
    t0 = datetime(2025, 12, 20, tzinfo=UTC)
    out = []
    for i in range(n):
        payload = draw(
            st.dictionaries(st.from_regex(r"x_[a-z]{1,6}", fullmatch=True), _value, max_size=4)
        )
        out.append(
            ExecutionEvent(
                ts=t0 + timedelta(microseconds=draw(st.integers(0, 10**12))),
                session_id="prop",
                symbol=draw(_text),
                mode=draw(st.sampled_from(["backtest", "paper", "live"])),
                kind=draw(st.sampled_from(["intent", "order", "fill", "gate", "error"])),
                payload=payload,
                seq=i,
                event_id=f"e{i}",
                mono_ns=draw(st.none() | st.integers(0, 2**62)),
            )
        )
    return out


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(evs=events(), fmt=st.sampled_from(["csv", "jsonl"]))
def test_round_trip_of_arbitrary_payloads(tmp_path_factory, evs, fmt):
    """Any text (quotes, newlines, formula starts, unicode) and nested values round-trip."""
    tmp = tmp_path_factory.mktemp("prop")
    with JsonlExecutionLogger(tmp / "src", strict=True) as logger:
        for event in evs:
            logger.emit(event)
    export(tmp / "src", EventFilter(), fmt, tmp / f"out.{fmt}")
    bad: list = []
    import_file(tmp / f"out.{fmt}", tmp / "dst", fmt=fmt, on_bad_row=lambda *a: bad.append(a))
    assert bad == []
    assert [as_original(e) for e in events_of(tmp / "dst")] == events_of(tmp / "src")


def test_bad_rows_are_reported_with_line_numbers_and_the_rest_imported(tmp_path):
    """Two bad rows of four: both reported with line and reason; the good two imported."""
    src = tmp_path / "other.csv"
    src.write_text(
        "timestamp,session,env,type,order_id,side,qty,price\n"
        "2025-12-20T10:00:00Z,broker,LIVE,ORDER,A1,BUY,1,100\n"
        "2025-12-20T10:00:01+01:00,broker,LIVE,FILL,A1,BUY,1,abc\n"
        "not a time,broker,LIVE,FILL,A1,BUY,1,100\n"
        "2025-12-20T10:00:02Z,broker,LIVE,FILL,A1,SELL,1,100.5\n"
    )
    bad: list = []
    result = import_file(src, tmp_path / "logs", fmt="csv", on_bad_row=lambda *a: bad.append(a[:2]))
    assert bad == [(3, "invalid number for fill_price: 'abc'"), (4, "invalid time 'not a time'")]
    assert result.events == 2 and result.bad_rows == 2
    imported = events_of(tmp_path / "logs")
    assert [(e.kind, e.payload["client_id"], e.payload["side"]) for e in imported] == [
        ("order", "A1", "buy"),
        ("fill", "A1", "sell"),
    ]


def test_existing_session_is_refused_and_nothing_is_written(tmp_path):
    """An import meeting an existing session stops, leaves it as it was and no staging behind."""
    logs = tmp_path / "logs"
    export(FIX, EventFilter.build(session_id="session_clean"), "jsonl", tmp_path / "a.jsonl")
    import_file(tmp_path / "a.jsonl", logs, fmt="jsonl")
    before = (logs / "session_clean.jsonl").read_bytes()
    with pytest.raises(SessionExistsError, match="--force"):
        import_file(tmp_path / "a.jsonl", logs, fmt="jsonl")
    assert (logs / "session_clean.jsonl").read_bytes() == before
    assert sorted(os.listdir(logs)) == ["session_clean.jsonl"]
    result = import_file(tmp_path / "a.jsonl", logs, fmt="jsonl", session_id="copy")
    assert result.imported == {"copy": 22}


def test_force_replaces_but_never_a_live_log(tmp_path):
    """--force replaces a session's files, except while a writer holds one open."""
    logs = tmp_path / "logs"
    export(
        FIX,
        EventFilter.build(session_id="session_clean", kind="fill"),
        "jsonl",
        tmp_path / "f.jsonl",
    )
    (logs).mkdir()
    (logs / "session_clean.jsonl").write_text("old\n")
    fd = os.open(logs / "session_clean.jsonl", os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        with pytest.raises(SessionExistsError, match="being written to"):
            import_file(tmp_path / "f.jsonl", logs, fmt="jsonl", force=True)
    finally:
        os.close(fd)
    import_file(tmp_path / "f.jsonl", logs, fmt="jsonl", force=True)
    assert [e.kind for e in events_of(logs)] == ["fill"] * 4


def test_dry_run_writes_nothing(tmp_path):
    """--dry-run counts and reports, and creates no file or directory."""
    result = import_file(
        FIX / "session_bad_lines.jsonl", tmp_path / "logs", fmt="jsonl", dry_run=True
    )
    assert (result.events, result.bad_rows) == (10, 5)
    assert not (tmp_path / "logs").exists()
