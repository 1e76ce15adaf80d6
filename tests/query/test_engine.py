"""The query engine: session discovery, filters as instants, tails across sessions."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from src.query.engine import iter_events, summarize, tail
from src.query.files import list_sessions, session_files
from src.query.filters import EventFilter, parse_instant


def write(path: Path, records: list[dict], *, gz: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r) + "\n" for r in records)
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        with path.open("a") as fh:
            fh.write(text)


def ev(ts: str, kind: str = "fill", symbol: str = "BTC-USD", session: str = "s", **payload):
    return {
        "ts": ts,
        "session_id": session,
        "symbol": symbol,
        "mode": "paper",
        "kind": kind,
        "payload": payload,
    }


def test_discovery_finds_flat_daily_and_gzip_and_ignores_strangers(tmp_path):
    """Session files in every layout are found; other files, bad names and symlinks are not."""
    write(tmp_path / "a.jsonl", [ev("2025-01-01T00:00:00Z")])
    write(tmp_path / "a.jsonl.gz", [ev("2024-12-31T00:00:00Z")], gz=True)
    write(tmp_path / "2025-01-02" / "a.jsonl", [ev("2025-01-02T00:00:00Z")])
    write(tmp_path / "2025-01-02" / "b.jsonl", [ev("2025-01-02T00:00:00Z", session="b")])
    write(tmp_path / "notes.txt", [])
    write(tmp_path / "bad name.jsonl", [ev("2025-01-01T00:00:00Z")])
    write(tmp_path / "not-a-day" / "c.jsonl", [ev("2025-01-01T00:00:00Z")])
    outside = tmp_path.parent / f"{tmp_path.name}-outside.jsonl"
    write(outside, [ev("2025-01-01T00:00:00Z")])
    os.symlink(outside, tmp_path / "linked.jsonl")
    assert sorted(s.session_id for s in list_sessions(tmp_path)) == ["a", "b"]
    os.utime(tmp_path / "a.jsonl.gz", (1735603200, 1735603200))  # written 2024-12-31
    os.utime(tmp_path / "a.jsonl", (1735689600, 1735689600))  # written 2025-01-01
    files = session_files(tmp_path, "a").files
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "a.jsonl.gz",
        "a.jsonl",
        "2025-01-02/a.jsonl",
    ]
    assert session_files(tmp_path, "linked") is None


def test_time_filter_compares_instants_not_strings(tmp_path):
    """10:30+02:00 is 08:30Z: it falls inside 08:00Z..09:00Z whatever the string says."""
    write(
        tmp_path / "s.jsonl",
        [
            ev("2025-01-01T10:30:00+02:00", n=1),  # 08:30Z -> in
            ev("2025-01-01T08:45:00", n=2),  # naive = UTC -> in
            ev("2025-01-01T09:30:00Z", n=3),  # out
            ev("2025-01-01T07:59:59.999999Z", n=4),  # out
        ],
    )
    flt = EventFilter.build(
        session_id="s", start="2025-01-01T08:00:00Z", end="2025-01-01T09:00:00+00:00"
    )
    assert sorted(r.payload["n"] for r in iter_events(tmp_path, flt)) == [1, 2]
    assert summarize(tmp_path, flt).event_count == 2


@pytest.mark.parametrize("bad", ["yesterday", "2025-13-01", "12:00", ""])
def test_bad_time_values_name_the_value(bad):
    """Unparseable times raise ValueError naming the value and an example."""
    with pytest.raises(ValueError, match="invalid time") as info:
        parse_instant(bad)
    assert repr(bad) in str(info.value)


def test_reversed_time_range_is_refused():
    """from after to is a clear error."""
    with pytest.raises(ValueError, match="after"):
        EventFilter.build(start="2025-01-02T00:00:00Z", end="2025-01-01T00:00:00Z")


def test_symbol_and_kind_filters_combine(tmp_path):
    """symbol and kind filters both apply, before the limit."""
    write(
        tmp_path / "s.jsonl",
        [
            ev(f"2025-01-01T00:00:{n:02d}Z", kind=k, symbol=sym, n=n)
            for n, (k, sym) in enumerate(
                [
                    ("fill", "BTC-USD"),
                    ("fill", "ETH-USD"),
                    ("order", "BTC-USD"),
                    ("fill", "BTC-USD"),
                ]
                * 5
            )
        ],
    )
    rows = tail(tmp_path, EventFilter.build(kind="fill", symbol="BTC-USD"), limit=4)
    assert [r.payload["n"] for r in rows] == [19, 16, 15, 12]
    assert all(r.kind == "fill" and r.symbol == "BTC-USD" for r in rows)


def test_tail_without_session_merges_sessions_newest_first(tmp_path):
    """Across sessions the newest events come first, interleaved by time."""
    write(
        tmp_path / "a.jsonl",
        [ev("2025-01-01T00:00:01Z", session="a"), ev("2025-01-01T00:00:04Z", session="a")],
    )
    write(
        tmp_path / "b.jsonl",
        [ev("2025-01-01T00:00:02Z", session="b"), ev("2025-01-01T00:00:03Z", session="b")],
    )
    assert [r.session_id for r in tail(tmp_path, EventFilter(), limit=4)] == ["a", "b", "b", "a"]


def test_summary_over_all_sessions_counts_everything(tmp_path):
    """Without a session filter the summary covers every session and file."""
    write(tmp_path / "a.jsonl", [ev("2025-01-01T00:00:01Z", session="a")] * 3)
    write(tmp_path / "b.jsonl.gz", [ev("2025-01-01T00:00:02Z", session="b")] * 2, gz=True)
    s = summarize(tmp_path)
    assert s.event_count == 5 and s.parse.files == 2 and s.sessions == ["a", "b"]


def test_missing_base_directory_is_just_empty(tmp_path):
    """A base path that does not exist reads as no sessions, not an exception."""
    assert list_sessions(tmp_path / "nope") == []
    assert summarize(tmp_path / "nope").found is False
    assert tail(tmp_path / "nope") == []


def test_progress_callback_reports_files_and_lines(tmp_path):
    """The progress hook sees every file finish with the running line count."""
    write(tmp_path / "a.jsonl", [ev("2025-01-01T00:00:01Z", session="a")] * 3)
    write(tmp_path / "b.jsonl", [ev("2025-01-01T00:00:01Z", session="b")] * 4)
    calls = []
    summarize(tmp_path, progress=lambda done, total, lines: calls.append((done, total, lines)))
    assert calls[-1] == (2, 2, 7)


def test_far_future_instants_are_stepped_in_float_seconds(tmp_path):
    """Beyond 2242 float seconds are coarser than a microsecond: the scan redoes the exact check."""
    stamps = ["2300-01-01T00:00:00.000002Z", "2300-01-01T00:00:00.000001Z", "2300-01-01T00:00:01Z"]
    write(tmp_path / "s.jsonl", [ev(ts) for ts in stamps])
    t = [parse_instant(ts) for ts in stamps]
    s = summarize(tmp_path, EventFilter.build(session_id="s"))
    assert s.timestamps.non_monotonic_steps == int(t[1] - t[0] < 0)
    assert s.end_time.startswith("2300-01-01T00:00:01")
