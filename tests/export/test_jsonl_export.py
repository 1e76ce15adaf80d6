"""JSON lines export: the matching events exactly as logged, to a file, gzip or stdout."""

from __future__ import annotations

import gzip
import io

import orjson

from src.export import export, stream_chunks
from src.query.engine import iter_events
from src.query.filters import EventFilter


def test_lines_are_the_logged_events(archive, tmp_path):
    """Every matching event appears once, in order, with every field as logged."""
    out = tmp_path / "out.jsonl"
    flt = EventFilter.build(kind="fill,error")
    result = export(archive, flt, "jsonl", out)
    lines = out.read_bytes().splitlines()
    assert [orjson.loads(line) for line in lines] == [r.data for r in iter_events(archive, flt)]
    assert result.events == 4 and dict(result.by_kind) == {"fill": 2, "error": 2}
    assert b'"kind": "fill"' in out.read_bytes()  # greppable like the log


def test_gzip_and_stdout(archive, tmp_path):
    """A .gz name compresses; '-' writes to the given stdout; both equal the plain file."""
    plain, packed = tmp_path / "a.jsonl", tmp_path / "a.jsonl.gz"
    export(archive, EventFilter(), "jsonl", plain)
    export(archive, EventFilter(), "jsonl", packed)
    sink = io.BytesIO()
    export(archive, EventFilter(), "jsonl", "-", stdout=sink)
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes() == sink.getvalue()
    assert b"".join(stream_chunks(archive, EventFilter(), "jsonl", 64)) == plain.read_bytes()
