"""Very long lines: read in linear time and bounded memory, counted invalid, never held whole."""

from __future__ import annotations

import json
import random
import tracemalloc
from pathlib import Path

import pytest

from src.query.engine import summarize, tail
from src.query.filters import EventFilter
from src.query.lines import (
    MAX_LINE_BYTES,
    cap_lines,
    clip,
    iter_lines,
    iter_lines_reversed_at,
    line_batches,
    oversized_line,
    split_lines,
)

HUGE = 64 << 20


def event(n: int) -> bytes:
    record = {"ts": f"2025-12-20T10:00:{n:02d}Z", "session_id": "big", "kind": "fill"}
    return json.dumps({**record, "symbol": "BTC-USD", "payload": {"n": n}}).encode()


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    """Three events, one 64 MiB line (a JSON string: it would decode if held whole), three
    more events."""
    path = tmp_path_factory.mktemp("long") / "big.jsonl"
    with path.open("wb") as fh:
        for n in range(3):
            fh.write(event(n) + b"\n")
        fh.write(b'"' + b"x" * (HUGE - 2) + b'"\n')
        for n in range(3, 6):
            fh.write(event(n) + b"\n")
    return path


def peak_while(fn):  # type: ignore[no-untyped-def]
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_64mb_line_is_read_backward_in_bounded_memory(big_file):
    """Backward reading never holds the long line: the peak stays a few MB, the line comes
    as a stand-in with its size at its real offset, and its neighbours are read."""
    got, peak = peak_while(lambda: list(iter_lines_reversed_at(big_file)))
    assert peak < 4 * MAX_LINE_BYTES
    lines = [line for _, line, _ in got]
    assert lines == [event(n) for n in (5, 4, 3)] + [oversized_line(HUGE)] + [
        event(n) for n in (2, 1, 0)
    ]
    assert got[3][0] == 3 * (len(event(0)) + 1)  # where the long line starts
    assert all(complete for _, _, complete in got)


def test_a_64mb_line_is_read_forward_and_scanned_in_bounded_memory(big_file):
    """Forward lines, the scan and the tail all skip the long line as one invalid line."""
    lines, peak = peak_while(lambda: list(iter_lines(big_file)))
    assert peak < 4 * MAX_LINE_BYTES
    assert [line for line, _ in lines][3] == oversized_line(HUGE)
    summary, peak = peak_while(lambda: summarize(big_file.parent, workers=1))
    assert peak < 8 * MAX_LINE_BYTES
    assert summary.event_count == 6
    assert summary.parse.invalid_lines == 1
    newest = tail(big_file.parent, EventFilter.build(session_id="big"), 6)
    assert [r.data["payload"]["n"] for r in newest] == [5, 4, 3, 2, 1, 0]


def test_the_stand_in_is_short_and_says_how_long_the_line_was():
    assert oversized_line(HUGE) == b"<oversized line: 67108864 bytes, over the limit of 1048576>"
    assert clip("x" * 5000, 10) == "xxxxxxxxxx... (5000 bytes in all)"
    assert clip(b"abc") == "abc"


def reference(data: bytes, limit: int) -> list[tuple[int, bytes, bool]]:
    out, pos = [], 0
    for raw in data.split(b"\n")[:-1]:
        if raw:
            out.append((pos, raw if len(raw) <= limit else oversized_line(len(raw), limit), True))
        pos += len(raw) + 1
    rest = data[pos:]
    if rest:
        out.append((pos, rest if len(rest) <= limit else oversized_line(len(rest), limit), False))
    return out


@pytest.mark.parametrize("seed", range(40))
def test_every_reader_agrees_with_a_plain_split(tmp_path, seed):
    """Random lines around the limit, random block sizes: forward, backward, the capped
    block stream and the batches of lines all give what a plain split gives."""
    rnd = random.Random(seed)
    limit = rnd.randint(1, 40)
    parts = [b"a" * rnd.choice([0, 1, limit - 1, limit, limit + 1, 3 * limit]) for _ in range(30)]
    data = b"\n".join(parts) + (b"\n" if rnd.random() < 0.5 else b"")
    want = reference(data, limit)
    block = rnd.randint(1, 3 * limit + 2)
    blocks = [data[i : i + block] for i in range(0, len(data), block)]
    assert list(split_lines(blocks, 0, limit)) == want
    batches = list(line_batches(blocks, limit))
    assert [(line, done) for lines, done in batches for line in lines] == [
        (line, complete) for _, line, complete in want
    ]
    assert all(lines for lines, _ in batches) and all(done for _, done in batches[:-1])
    path = tmp_path / "f.jsonl"
    path.write_bytes(data)
    backward = list(iter_lines_reversed_at(path, block_size=block, limit=limit))
    assert backward == want[::-1]
    capped = b"".join(cap_lines(blocks, limit))
    assert [(line, complete) for _, line, complete in split_lines([capped], 0, 10**9)] == [
        (line, complete) for _, line, complete in want
    ]


def test_followers_skip_a_64mb_line_in_bounded_memory(big_file):
    """The dashboard's incremental summary, its live page head and the live feed's reader
    take the file in, long line included, without holding it."""
    from src.query.head import LiveHead
    from src.query.incremental import IncrementalSummary
    from src.webui.live import read_rows

    summary, peak = peak_while(lambda: IncrementalSummary(big_file.parent, "big").refresh())
    assert peak < 4 * MAX_LINE_BYTES
    assert summary.event_count == 6 and summary.parse.invalid_lines == 1
    head = LiveHead(big_file.parent, EventFilter.build(session_id="big"), 10, lambda r: r.data)
    (rows, _), peak = peak_while(head.refresh)
    assert peak < 4 * MAX_LINE_BYTES
    assert [r["payload"]["n"] for r in rows] == [5, 4, 3, 2, 1, 0]
    (rows, end), peak = peak_while(lambda: read_rows(big_file, 0))
    assert peak < 4 * MAX_LINE_BYTES
    assert len(rows) == 6 and end == big_file.stat().st_size


def test_a_long_line_appended_to_a_followed_session_is_skipped(tmp_path):
    """Appended after the first read: the live head and the incremental summary read only
    the new bytes, in bounded memory."""
    from src.query.head import LiveHead
    from src.query.incremental import IncrementalSummary

    path = tmp_path / "big.jsonl"
    path.write_bytes(event(0) + b"\n")
    head = LiveHead(tmp_path, EventFilter.build(session_id="big"), 10, lambda r: r.data)
    live = IncrementalSummary(tmp_path, "big", max_age_s=0)
    head.refresh()
    live.refresh()
    with path.open("ab") as fh:
        fh.write(b"[" * (16 << 20) + b"\n" + event(1) + b"\n")
    (rows, _), peak = peak_while(head.refresh)
    assert peak < 4 * MAX_LINE_BYTES
    assert [r["payload"]["n"] for r in rows] == [1, 0] and head.rebuilds == 1
    summary, peak = peak_while(live.refresh)
    assert peak < 4 * MAX_LINE_BYTES
    assert summary.event_count == 2 and summary.parse.invalid_lines == 1
