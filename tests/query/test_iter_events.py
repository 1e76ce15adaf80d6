"""iter_events reads whole lines a block at a time and builds a record only for a line its
kind filter keeps: every line is still counted, and it agrees with decode_record line by
line, whatever the filter and wherever the blocks end."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from src.execution.events import ExecutionEvent
from src.execution.telemetry import JsonlExecutionLogger
from src.query import lines as lines_module
from src.query.engine import iter_events
from src.query.filters import EventFilter
from src.query.lines import oversized_line
from src.query.records import ParseStats, decode_record


def event(n: int, kind: str, symbol: str = "X") -> bytes:
    """A line as the logger starts it (``{"ts": ``: where a line after a fragment is found)."""
    return b'{"ts": ' + orjson.dumps(
        {
            "ts": f"2025-01-01T00:00:{n % 60:02d}Z",
            "session_id": "s",
            "symbol": symbol,
            "kind": kind,
            "payload": {"n": n},
        }
    ).removeprefix(b'{"ts":')


LINES = [
    event(0, "fill"),
    event(1, "order", "Y"),
    b"",  # a blank line: not a line at all
    b"not json",
    b'{"ts": "2025-01-01T00:00:0',  # a killed writer's fragment, then a whole line
    event(2, "fill", "Y"),
    b'{"ts": "0001-01-01T00:00:00+01:00", "kind": "fill"}',  # an instant out of range
    b"x" * 300,  # over the cap of the test (256 bytes)
    event(3, "intent"),
    event(4, "fill"),
]
LINES[4] += LINES.pop(5)


@pytest.fixture
def session(tmp_path):
    data = b"\n".join(LINES) + b"\n" + b'{"ts": "2025'  # and a torn last line
    (tmp_path / "s.jsonl").write_bytes(data)
    return tmp_path, data


def expected(flt: EventFilter) -> tuple[list[bytes], tuple[int, int, int, int]]:
    records, total, valid, invalid = [], 0, 0, 0
    for line in filter(None, LINES):
        rec = decode_record(line if len(line) <= 256 else oversized_line(len(line), 256))
        total += 1 + (rec is not None and rec.fragment)
        if rec is None or rec.fragment:
            invalid += 1
        if rec is not None:
            valid += 1
            if flt.matches(rec.kind, rec.symbol, rec.t):
                records.append(orjson.dumps(rec.data))
    return records, (total + 1, valid, invalid + 1, 1)  # and the torn line


@pytest.mark.parametrize(
    "flt",
    [
        EventFilter.build(session_id="s"),
        EventFilter.build(session_id="s", kind="fill"),
        EventFilter.build(session_id="s", kind=["fill", "order"], symbol="Y"),
        EventFilter.build(session_id="s", kind="fill", start="2025-01-01T00:00:02Z"),
    ],
)
@pytest.mark.parametrize("block", [7, 64, 1 << 20])
def test_records_and_counts_agree_with_decode_record(session, monkeypatch, flt, block):
    base, data = session
    blocks = lines_module.iter_blocks
    monkeypatch.setattr("src.query.engine.iter_blocks", lambda fh, _size: blocks(fh, block))
    monkeypatch.setattr(
        "src.query.engine.line_batches",
        lambda b: lines_module.line_batches(b, 256),
    )
    want, counts = expected(flt)
    assert counts == (10, 5, 5, 1)  # the file is what it says (one fragment, one torn line)
    for name, raw in (("s.jsonl", data), ("s.jsonl.gz", gzip.compress(data))):
        for old in base.iterdir():
            old.unlink()
        (base / name).write_bytes(raw)
        stats = ParseStats()
        got = [orjson.dumps(rec.data) for rec in iter_events(base, flt, stats)]
        assert got == want, name
        assert (stats.total_lines, stats.valid_events, stats.invalid_lines) == counts[:3]
        assert stats.torn_lines == 1


def test_a_failing_progress_callback_is_raised_not_taken_for_a_damaged_file(tmp_path):
    """The caller's progress error (a closed pipe, say) ends the read with that error; it
    is not counted as an unreadable file with the rest of the events silently dropped."""
    with JsonlExecutionLogger(tmp_path) as logger:
        for n in range(2_000):
            logger.emit(
                ExecutionEvent(
                    ts=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=n),
                    session_id="s", symbol="X", mode="paper", kind="fill",
                    payload={"n": n, "pad": "x" * 60}, seq=n,
                )
            )  # fmt: skip

    def progress(n: int) -> None:
        raise BrokenPipeError("reader went away")

    stats = ParseStats()
    with pytest.raises(BrokenPipeError):
        list(iter_events(tmp_path, EventFilter.build(session_id="s"), stats, progress=progress))
    assert stats.unreadable_files == 0
