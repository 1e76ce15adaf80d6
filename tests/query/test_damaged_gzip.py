"""Damaged gzip files: every reader uses what decodes, counts and names the file; --check warns."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

from src.cli.view_telemetry import EXIT_WARNING, main
from src.query.engine import iter_events, scan, summarize, tail
from src.query.filters import EventFilter
from src.query.incremental import IncrementalSummary
from src.query.paging import page_back
from src.query.records import ParseStats
from src.webui.sessions import SessionIndex


def lines(count: int) -> bytes:
    return b"".join(
        json.dumps(
            {
                "ts": f"2025-12-20T10:00:00.{n:06d}Z",
                "session_id": "s",
                "symbol": "BTC-USD",
                "mode": "paper",
                "kind": "intent",
                "payload": {"intent_id": f"i{n}", "pad": "x" * (n % 97)},
            }
        ).encode()
        + b"\n"
        for n in range(count)
    )


def bad_crc(count: int) -> bytes:
    raw = bytearray(gzip.compress(lines(count)))
    raw[-8] ^= 0xFF  # the CRC32 in the trailer
    return bytes(raw)


def truncated(count: int) -> bytes:
    raw = gzip.compress(lines(count))
    return raw[: len(raw) * 6 // 10]


DAMAGE = {
    "bad_crc": (lambda: bad_crc(4), 4),
    "bad_crc_big": (lambda: bad_crc(20_000), 20_000),
    "truncated": (lambda: truncated(20_000), None),  # some, not all
    "not_gzip": (lambda: lines(4), 0),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_every_reader_counts_the_same_events_and_names_the_file(tmp_path, damage):
    make, expected = DAMAGE[damage]
    base = tmp_path / "logs"
    base.mkdir()
    path = base / "s.jsonl.gz"
    path.write_bytes(make())
    flt = EventFilter.build(session_id="s")

    summary = summarize(base, flt, workers=1)
    stats = ParseStats()
    events = list(iter_events(base, flt, stats))
    newest = tail(base, flt, 100_000)
    page = page_back(base, flt, 100_000)
    live = IncrementalSummary(base, "s").refresh()
    index = SessionIndex(base).describe()[0]

    count = summary.event_count
    if expected is None:
        assert 0 < count < 20_000
    else:
        assert count == expected
    assert len(events) == len(newest) == len(page.records) == live.event_count == count
    assert index["lines"] == count
    for parse in (summary.parse, stats, live.parse):
        assert parse.unreadable_files == 1
        assert parse.unreadable_paths == [str(path)]

    out = io.StringIO()
    code = main(["--path", str(base), "--session", "s", "--check", "--plain"], stdout=out)
    assert code >= EXIT_WARNING
    assert f"damaged_files: 1 damaged files, read only as far as they decode: {path}" in (
        out.getvalue()
    )


def test_a_healthy_archive_is_not_reported(tmp_path):
    base = tmp_path / "logs"
    base.mkdir()
    (base / "s.jsonl.gz").write_bytes(gzip.compress(lines(10)))
    summary = summarize(base, EventFilter.build(session_id="s"), workers=1)
    assert summary.event_count == 10
    assert summary.parse.unreadable_files == 0
    out = io.StringIO()
    main(["--path", str(base), "--session", "s", "--check", "--plain"], stdout=out)
    assert "damaged_files" not in out.getvalue()


def test_the_parallel_scan_names_damaged_files_too(tmp_path):
    base = tmp_path / "logs"
    base.mkdir()
    path = base / "s.jsonl.gz"
    path.write_bytes(bad_crc(20_000))
    for n in range(3):
        (base / f"p{n}.jsonl").write_bytes(lines(2000))
    paths = [base / "p0.jsonl", path, base / "p1.jsonl", base / "p2.jsonl"]
    _, stats = scan(paths, 60.0, None, workers=2, range_bytes=100_000)
    assert stats.unreadable_paths == [str(path)]
    assert stats.valid_events == 26_000


def test_a_summary_round_trips_through_json(tmp_path):
    """The names are plain strings (the summary is printed as JSON)."""
    base: Path = tmp_path
    (base / "s.jsonl.gz").write_bytes(b"plain text")
    json.dumps(summarize(base, workers=1).to_dict())
