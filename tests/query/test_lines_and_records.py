"""Line reading (forward, backward) and record decoding: never crash, agree with each other."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from src.query import lines as lines_module
from src.query.lines import iter_lines, iter_lines_reversed
from src.query.records import ParseStats, decode_record, decode_scan


def test_reverse_matches_forward_reversed(tmp_path):
    """Backward reading yields the same lines as forward reading, in reverse order."""
    content = b"".join(b'{"n": %d, "pad": "%s"}\n' % (n, b"x" * (n * 37 % 900)) for n in range(500))
    path = tmp_path / "f.jsonl"
    path.write_bytes(content)
    assert list(iter_lines_reversed(path, block_size=97)) == list(reversed(list(iter_lines(path))))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.integers(1, 64))
def test_reverse_and_forward_agree_on_arbitrary_bytes(tmp_path_factory, data, block):
    """For any file content and block size, backward == reversed(forward), torn flag included."""
    path = tmp_path_factory.mktemp("rev") / "f.jsonl"
    path.write_bytes(data)
    forward = [x for x in iter_lines(path) if x[0]]
    assert list(iter_lines_reversed(path, block_size=block)) == list(reversed(forward))


def test_torn_last_line_is_flagged(tmp_path):
    """A last line without newline comes back with complete=False, both directions."""
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": 2}\n{"c": ')
    assert list(iter_lines(path))[-1] == (b'{"c": ', False)
    assert next(iter_lines_reversed(path)) == (b'{"c": ', False)


def test_reading_backwards_costs_what_it_reads_not_the_file(tmp_path, monkeypatch):
    """Taking the last 10 lines of a 20 MB file reads a block or two, not the file."""
    path = tmp_path / "big.jsonl"
    path.write_bytes(b'{"kind": "gate", "payload": {}}\n' * 700_000)
    read = []
    real = os.pread
    monkeypatch.setattr(
        lines_module.os, "pread", lambda fd, n, off: read.append(n) or real(fd, n, off)
    )
    it = iter_lines_reversed(path)
    got = [next(it) for _ in range(10)]
    assert len(got) == 10 and sum(read) <= 2 * lines_module.BLOCK_SIZE


GOOD = (
    b'{"ts": "2025-01-01T00:00:00Z", "kind": "fill", "symbol": "X", "payload": {"fill_price": 1}}'
)


def test_validity_rules():
    """Valid: JSON object with string kind and ISO ts. Everything else is invalid."""
    assert decode_record(GOOD) is not None and decode_scan(GOOD) is not None
    for bad in [
        b"not json",
        b"[1, 2]",
        b'"string"',
        b'{"kind": "fill"}',
        b'{"ts": "2025-01-01T00:00:00", "kind": 5}',
        b'{"ts": "yesterday", "kind": "fill"}',
        b'{"ts": "2025-01-01T00:00:00", "kind": ""}',
        b'{"ts": "2025-01-01", "kind": "fill", "s": "\xff"}',
    ]:
        assert decode_record(bad) is None, bad
        assert decode_scan(bad) is None, bad


def test_odd_but_valid_events_are_kept():
    """A non-object payload, a space-separated ts or a naive ts still make a valid event."""
    for ok in [
        b'{"ts": "2025-01-01 10:00:00", "kind": "fill", "payload": "x"}',
        b'{"ts": "2025-01-01T10:00:00+02:00", "kind": "order", "payload": [1]}',
        b'{"ts": "2025-01-01T10:00:00", "kind": "intent"}',
    ]:
        assert decode_record(ok) is not None, ok
        scanned = decode_scan(ok)
        assert scanned is not None and scanned.t == decode_record(ok).t


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_and_decoders_agree(data):
    """Any bytes: both decoders return a record or None, never raise, and agree on validity."""
    full, scan = decode_record(data), decode_scan(data)
    assert (full is None) == (scan is None)
    if full is not None:
        assert full.t == scan.t and full.kind == scan.kind


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["ts", "kind", "payload", "symbol", "session_id", "seq"]),
        json_scalars | st.dictionaries(st.text(max_size=5), json_scalars, max_size=3),
    )
)
def test_arbitrary_json_objects_agree(obj):
    """Random JSON objects (missing or mistyped fields) get the same verdict from both decoders."""
    import orjson

    try:
        data = orjson.dumps(obj)
    except (TypeError, orjson.JSONEncodeError):
        return
    assert (decode_record(data) is None) == (decode_scan(data) is None)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=30))
def test_summary_counts_every_line_of_arbitrary_files(tmp_path_factory, chunks):
    """For arbitrary line soup, valid + invalid == total, and nothing raises."""
    from src.query.engine import summarize
    from src.query.filters import EventFilter

    base = tmp_path_factory.mktemp("soup")
    body = b"\n".join(c.replace(b"\n", b"") for c in chunks)
    (base / "s.jsonl").write_bytes(body + b"\n" + GOOD + b"\n")
    s = summarize(base, EventFilter.build(session_id="s"))
    p = s.parse
    assert p.valid_events + p.invalid_lines == p.total_lines
    assert p.valid_events >= 1 and s.event_count == p.valid_events


def test_parse_stats_error_rate():
    """error_rate is invalid/total and 0.0 for an empty read."""
    assert ParseStats().error_rate == 0.0
    assert ParseStats(total_lines=10_000, valid_events=9_987, invalid_lines=13).error_rate == 0.0013


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=20),
    st.integers(1, 50),
)
def test_reverse_offsets_point_at_line_starts(tmp_path_factory, parts, block):
    """Every offset yielded is where that line starts; resuming at it yields the earlier lines."""
    from src.query.lines import iter_lines_reversed_at

    path = tmp_path_factory.mktemp("off") / "f.jsonl"
    data = b"\n".join(parts) + (b"\n" if parts else b"")
    path.write_bytes(data)
    got = list(iter_lines_reversed_at(path, block_size=block))
    for offset, line, _ in got:
        assert data[offset : offset + len(line)] == line
    if len(got) >= 2:
        resumed = list(iter_lines_reversed_at(path, end=got[0][0], block_size=block))
        assert resumed == got[1:]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from([b"a", b"\n", b"x" * 70_000]), max_size=5),
    st.integers(0, 200_000),
)
def test_the_last_line_end_is_the_same_by_path_and_by_descriptor(tmp_path_factory, parts, floor):
    """One search for where the last complete line ends, the follower's by path and the
    saved states' by descriptor alike, also across more than one 64 KiB probe; a floor
    past every newline is given back."""
    from src.query.follow import last_line_end as by_path
    from src.query.lines import last_line_end
    from src.query.state_marks import last_line_end as of_states

    data = b"".join(parts)
    path = tmp_path_factory.mktemp("end") / "f.jsonl"
    path.write_bytes(data)
    expected = data.rfind(b"\n") + 1
    assert by_path(path) == expected
    fd = os.open(path, os.O_RDONLY)
    try:
        assert of_states is last_line_end
        assert last_line_end(fd, len(data)) == expected
        floor = min(floor, len(data))
        assert last_line_end(fd, len(data), floor=floor) == max(expected, floor)
    finally:
        os.close(fd)
