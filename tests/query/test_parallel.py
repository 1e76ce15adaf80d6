"""Parallel scans: ranges cut at line starts, and results identical to one sequential pass."""

from __future__ import annotations

import gzip
import itertools
import os
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from src.query import parallel
from src.query.engine import scan, select_sessions, summarize
from src.query.filters import EventFilter
from src.query.parallel import plan_ranges
from tests.query.event_streams import START, event_lines, write_session

AS_OF = START.timestamp() + 3600


def summaries(base: Path, flt: EventFilter, **kwargs: object) -> dict:
    paths = [p for s in select_sessions(base, flt) for p in s.files]
    match = None if flt.is_trivial else flt.matches
    builder, stats = scan(paths, 30.0, match, **kwargs)
    return builder.result(stats, as_of=AS_OF)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    event_lines(),
    st.lists(st.integers(0, 20_000), max_size=2),
    st.booleans(),
    st.booleans(),
    st.sampled_from([1, 700, 3_000, 8_000]),
    st.sampled_from([2, 3]),
    st.sampled_from(
        [
            None,
            {"kind": "fill,order,intent,gate"},
            {"symbol": "BTC-USD"},
            {"start": "2025-06-01T00:00:00.002Z", "end": "2025-06-01T00:03:00Z"},
        ]
    ),
)
def test_parallel_scan_equals_sequential_scan(
    tmp_path_factory, lines, cuts, gz, torn, range_bytes, workers, selection
):
    """Any split into ranges and workers gives the summary one sequential pass gives."""
    base = tmp_path_factory.mktemp("par")
    write_session(base, lines, cuts, gz, torn)
    flt = EventFilter.build(session_id="s", **(selection or {}))
    expected = summaries(base, flt, workers=1)
    got = summaries(base, flt, workers=workers, range_bytes=range_bytes)
    assert got == expected


def test_ranges_start_at_line_starts_and_cover_every_byte(tmp_path):
    """Cuts land just after a newline; pieces are contiguous; gzip files stay whole."""
    plain = tmp_path / "a.jsonl"
    plain.write_bytes(
        b"".join(b'{"n": %d, "pad": "%s"}\n' % (n, b"x" * (n % 50)) for n in range(400))
    )
    packed = tmp_path / "b.jsonl.gz"
    packed.write_bytes(gzip.compress(b'{"n": 1}\n' * 100))
    fd = os.open(plain, os.O_RDONLY)
    try:
        files = [(plain, fd, plain.stat().st_size), (packed, None, packed.stat().st_size)]
        ranges = plan_ranges(files, 7)
        pieces = [p for r in ranges for p in r]
        data = plain.read_bytes()
        assert 2 <= len(ranges) <= 7
        assert next(p.start for p in pieces if p.index == 0) == 0
        for before, after in itertools.pairwise(pieces):
            if before.index == after.index:
                assert before.end == after.start and data[after.start - 1 : after.start] == b"\n"
        assert [p for p in pieces if p.index == 1] == [parallel.Piece(1, packed, None, 0, None)]
    finally:
        os.close(fd)


def test_small_reads_stay_in_this_process(tmp_path, monkeypatch):
    """Under the size threshold no worker is forked."""
    (tmp_path / "s.jsonl").write_bytes(b'{"ts": "2025-01-01T00:00:00Z", "kind": "x"}\n' * 10)
    monkeypatch.setattr(parallel.os, "fork", pytest.fail)
    assert summarize(tmp_path, workers=4).event_count == 10


def test_a_failed_worker_falls_back_to_one_pass(tmp_path, monkeypatch):
    """A worker that dies without an answer costs time, not correctness."""
    (tmp_path / "s.jsonl").write_bytes(b'{"ts": "2025-01-01T00:00:00Z", "kind": "x"}\n' * 50)
    monkeypatch.setattr(parallel, "_collect", lambda pid, fd: parallel._discard(pid, fd))
    paths = [tmp_path / "s.jsonl"]
    builder, stats = scan(paths, 30.0, None, workers=2, range_bytes=100)
    assert builder.event_count == 50 and stats.files == 1


def _lines(n: int) -> bytes:
    return b"".join(
        b'{"ts": "2025-01-01T00:00:%02dZ", "session_id": "s", "kind": "gate", "payload": {}}\n'
        % (k % 60)
        for k in range(n)
    )


def test_progress_ends_with_every_file_and_line(tmp_path):
    """A parallel read reports its own lines as it goes, then the exact totals."""
    (tmp_path / "s.jsonl").write_bytes(_lines(300))
    calls: list[tuple[int, int, int]] = []
    scan([tmp_path / "s.jsonl"], 30.0, None, lambda *a: calls.append(a), workers=2, range_bytes=500)
    assert calls[-1] == (1, 1, 300)


def test_a_read_error_here_falls_back_to_one_pass(tmp_path, monkeypatch):
    """An I/O error while reading a range in this process: read again, sequentially."""
    (tmp_path / "s.jsonl").write_bytes(_lines(300))

    def broken(*args: object) -> object:
        raise OSError("disk on fire")

    monkeypatch.setattr(parallel, "iter_range_blocks", broken)
    builder, stats = scan([tmp_path / "s.jsonl"], 30.0, None, workers=2, range_bytes=500)
    assert builder.event_count == 300 and stats.total_lines == 300
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no worker left behind


def test_a_read_from_another_thread_forks_and_agrees(tmp_path):
    """Dashboards summarise from worker threads: forking there works and agrees."""
    (tmp_path / "s.jsonl").write_bytes(_lines(400))
    paths = [tmp_path / "s.jsonl"]
    out: dict[str, object] = {}

    def run() -> None:
        builder, stats = scan(paths, 30.0, None, workers=2, range_bytes=2_000)
        out["got"] = builder.result(stats, as_of=AS_OF)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    builder, stats = scan(paths, 30.0, None, workers=1)
    assert out["got"] == builder.result(stats, as_of=AS_OF)


def test_a_worker_that_dies_mid_read_falls_back_to_one_pass(tmp_path, monkeypatch):
    """A worker killed before it answers (out of memory, say): same result, one pass."""
    (tmp_path / "s.jsonl").write_bytes(_lines(300))
    parent, real = os.getpid(), parallel._summarise_ranges

    def dying(*args: object, **kwargs: object) -> object:
        if os.getpid() != parent:
            os._exit(3)
        return real(*args, **kwargs)

    monkeypatch.setattr(parallel, "_summarise_ranges", dying)
    builder, stats = scan([tmp_path / "s.jsonl"], 30.0, None, workers=2, range_bytes=500)
    assert builder.event_count == 300 and stats.files == 1
