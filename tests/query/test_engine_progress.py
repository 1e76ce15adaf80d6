"""iter_events progress: the bytes it reports add up to the size of the files it read."""

from __future__ import annotations

import gzip
import json

from src.query.engine import iter_events
from src.query.filters import EventFilter


def line(i: int) -> bytes:
    record = {"ts": f"2025-01-01T00:00:{i % 60:02d}Z", "kind": "fill", "session_id": "s"}
    return json.dumps(record).encode() + b"\n"


def test_reported_bytes_sum_to_the_files_sizes(tmp_path):
    """A plain file reports its bytes in batches, a gzip file its size when done."""
    plain = b"".join(line(i) for i in range(70_000)) + b'{"torn'
    (tmp_path / "s.jsonl").write_bytes(plain)
    (tmp_path / "s.jsonl.gz").write_bytes(gzip.compress(b"".join(line(i) for i in range(5))))
    calls: list[int] = []
    events = sum(1 for _ in iter_events(tmp_path, EventFilter(), progress=calls.append))
    assert events == 70_005
    size = len(plain) + (tmp_path / "s.jsonl.gz").stat().st_size
    assert sum(calls) == size
    assert len(calls) >= 3  # one mid-file report, then one per file
