"""CSV export: one row per event, typed flat columns, the payload whole, formula-safe cells."""

from __future__ import annotations

import csv
import io

import orjson

from src.export import export, stream_chunks
from src.export.csv import HEADER, escape_cell, unescape_cell
from src.query.engine import iter_events
from src.query.filters import EventFilter


def read_csv(path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_every_event_is_one_row_with_its_payload_whole(archive, tmp_path):
    """Rows match the log's events in order; the payload column parses back to the payload."""
    out = tmp_path / "out.csv"
    result = export(archive, EventFilter.build(session_id="s1"), "csv", out)
    rows = read_csv(out)
    source = [r.data for r in iter_events(archive, EventFilter.build(session_id="s1"))]
    assert result.events == len(rows) == len(source) == 6
    assert list(rows[0]) == list(HEADER)
    for row, data in zip(rows, source, strict=True):
        assert row["ts"] == data["ts"]
        assert row["event_id"] == data["event_id"]
        assert orjson.loads(row["payload"]) == data["payload"]


def test_flat_columns_hold_the_kind_specific_values(archive, tmp_path):
    """A fill row carries its price and quantity in their own columns; booleans are words."""
    out = tmp_path / "out.csv"
    export(archive, EventFilter.build(session_id="s1"), "csv", out)
    rows = {r["kind"] + r["seq"]: r for r in read_csv(out)}
    fill = rows["fill5"]
    assert (fill["fill_price"], fill["filled_quantity"], fill["client_id"]) == (
        "100020.125",
        "1.5",
        "o1",
    )
    assert fill["fill_fee"] == "-0.5"  # a number: never prefixed like text
    assert rows["gate2"]["passed"] == "true" and rows["gate3"]["passed"] == "false"
    assert rows["gate2"]["reason"] == 'comma, "quote", new\nline, ünïcode ✓, tab\there'


def test_text_a_spreadsheet_would_evaluate_is_escaped_reversibly():
    """Cells starting with = + - @ TAB CR or ' get a leading quote; unescaping undoes it."""
    for text in ("=1+1", "+x", "-1 over", "@desk", "'quoted", "\tx", "\rx", "plain", ""):
        escaped = escape_cell(text)
        assert unescape_cell(escaped) == text
        if text[:1] in ("=", "+", "-", "@", "'", "\t", "\r"):
            assert escaped.startswith("'")
        else:
            assert escaped == text


def test_formula_like_payload_text_is_escaped_in_its_column(archive, tmp_path):
    """A strategy key that looks like a formula is written as quoted text."""
    out = tmp_path / "out.csv"
    export(archive, EventFilter.build(session_id="s1", kind="intent"), "csv", out)
    (row,) = read_csv(out)
    assert row["strategy_key"] == '\'=HYPERLINK("x")'


def test_filters_apply_as_in_the_viewer(archive, tmp_path):
    """--type/--symbol/--from/--to select exactly what iter_events selects."""
    flt = EventFilter.build(
        kind="fill,gate", symbol="ETH-USD", start="2025-12-20T23:59:59Z", end="2025-12-21T00:00:02Z"
    )
    out = tmp_path / "out.csv"
    result = export(archive, flt, "csv", out)
    expected = [r.data["event_id"] for r in iter_events(archive, flt)]
    assert [r["event_id"] for r in read_csv(out)] == expected
    assert result.events == len(expected) == 3


def test_stream_chunks_gives_the_same_bytes_as_the_file(archive, tmp_path):
    """The HTTP stream and the file export produce identical CSV."""
    out = tmp_path / "out.csv"
    export(archive, EventFilter(), "csv", out)
    streamed = b"".join(stream_chunks(archive, EventFilter(), "csv", chunk_bytes=100))
    assert streamed == out.read_bytes()
    assert len(list(csv.reader(io.StringIO(streamed.decode())))) == 13


def test_gzip_output_when_the_name_ends_in_gz(archive, tmp_path):
    """out.csv.gz is gzip-compressed CSV."""
    import gzip

    out = tmp_path / "out.csv.gz"
    export(archive, EventFilter(), "csv", out)
    with gzip.open(out, "rt", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 12
