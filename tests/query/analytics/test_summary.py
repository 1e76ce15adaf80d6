"""The scan loop: blocks split anywhere count like whole lines; fast and exact step checks agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.query.analytics.summary import SummaryBuilder
from src.query.records import ParseStats, decode_record, decode_scan

GOOD = b'{"ts": "2025-01-01T00:00:00Z", "kind": "fill", "symbol": "X", "payload": {}}'
LINES = [
    GOOD,
    b"",
    b" ",
    b"\r",
    b"garbage",
    b"\xff\xfe",
    '{"ts": "2025-01-01T00:00:00Z", "kind": "caf\u00e9"}'.encode(),
    b'{"ts": "2025-01-01T00:00:00Z", "kind": "x", "s": "\xe9"}',
    b'{"ts": "2025-01-01T10:00:00", "kind": "gate", "payload": {"passed": false}}',
    b'{"ts": "2025-01-01 10:00:00+02:00", "kind": "intent", "payload": "odd"}',
    b'{"ts": "2025-01-01T00:00:00Z", "kind": ""}',
]


def blocks_of(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(LINES), max_size=30), st.booleans(), st.integers(1, 120))
def test_blocks_split_anywhere_count_like_whole_lines(lines, newline_at_end, size):
    """Any block size: the same totals, invalid, torn and kind counts as decoding line by line."""
    data = b"\n".join(lines) + (b"\n" if newline_at_end else b"")
    builder, stats = SummaryBuilder(), ParseStats()
    builder.consume(blocks_of(data, size), stats)

    expected = ParseStats()
    kinds: dict[str, int] = {}
    parts = data.split(b"\n")
    for n, line in enumerate(parts):
        last = n == len(parts) - 1
        if not line:
            continue
        expected.total_lines += 1
        rec = None if last else decode_scan(line)
        if rec is None:
            expected.invalid_lines += 1
            expected.torn_lines += last
        else:
            expected.valid_events += 1
            kinds[rec.kind] = kinds.get(rec.kind, 0) + 1
    assert stats == expected
    assert builder.kind_counts == kinds


def _line(session: str, ts: datetime) -> bytes:
    return orjson.dumps({"ts": ts.isoformat(), "session_id": session, "kind": "gate"})


steps_s = st.sampled_from(
    [0.0, 1e-6, 0.5, 29.999, 29.9995, 30.0, 30.000001, 31.0, 5e4, -1e-6, -2.0]
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["a", "b"]), steps_s), max_size=40),
    st.sampled_from([30.0, 0.005, -1.0, float("inf"), 1e300]),
    st.datetimes(
        min_value=datetime(1700, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
)
def test_fast_step_check_agrees_with_checking_every_step(steps, threshold, start):
    """Backward steps and gaps come out the same whether or not every step is checked."""
    now = {"a": start, "b": start}
    lines = []
    for session, step in steps:
        now[session] += timedelta(seconds=step)
        lines.append(_line(session, now[session]))
    data = b"\n".join(lines) + b"\n"
    results = []
    for exact in (False, True):
        builder = SummaryBuilder(gap_threshold_s=threshold, exact_steps=exact)
        builder.consume(blocks_of(data, 64), ParseStats())
        assert not builder.needs_exact_steps
        results.append(builder.result(ParseStats(), as_of=0.0))
    assert results[0] == results[1]


def test_instants_outside_the_fast_range_ask_for_exact_steps():
    """A year-2300 instant makes the fast check unsafe: the builder says so."""
    builder = SummaryBuilder()
    builder.consume([_line("a", datetime(2300, 1, 1, tzinfo=UTC)) + b"\n"], ParseStats())
    assert builder.needs_exact_steps
    assert not SummaryBuilder(exact_steps=True).needs_exact_steps


def _gate(name: object, passed: object, **extra: object) -> bytes:
    event = {"ts": "2025-01-01T00:00:00Z", "session_id": "s", "symbol": "X", "kind": "gate"}
    line = orjson.dumps({**event, "payload": {"gate_name": name, "passed": passed, **extra}})
    return b'{"ts": ' + line[6:]  # as our logger starts a line (a fragment's end is found)


def test_undecodable_bytes_invalidate_their_line_but_not_a_line_glued_after_them():
    """A line with undecodable bytes is one invalid line; a fragment cut inside a
    character and the valid line glued to it are two lines, the second recovered: the
    scan loop, decode_scan and decode_record judge alike."""
    good = _gate("G", True)
    bad_string = good.replace(b'"G"', b'"G\xff"')
    glued = b'{"ts": "2025-01-01T00:00:00Z", "kind": "x", "s": "\xe9' + good
    lines = [good, bad_string, glued, b"\xc3\xa9" + good, good.replace(b'"X"', b'"\xc3\xa9"')]
    # (The third and fourth are a fragment and a line: the line is recovered.)
    judged = [True, False, True, True, True]
    assert [decode_scan(line) is not None for line in lines] == judged
    assert [decode_record(line) is not None for line in lines] == judged
    builder, stats = SummaryBuilder(), ParseStats()
    builder.consume([b"\n".join(lines) + b"\n"], stats)
    assert (stats.total_lines, stats.valid_events, stats.invalid_lines) == (7, 4, 3)
    assert builder.kind_counts == {"gate": 4}
    assert builder.symbols == {"X", "\u00e9"}


def test_gate_names_that_are_not_strings_are_shown_as_unknown():
    """The loop counts gate names as logged; the report shows a missing name and one that
    is not a string as "?" (blocks too), as the record path (add) counts them."""
    lines = [
        _gate("G", True),
        _gate(5, True),
        _gate(True, False, reason="r"),
        _gate(None, True),
        _gate(1.5, "yes"),
        _gate("G", False, reason="r", intent_id="i"),
    ]
    builder, stats = SummaryBuilder(), ParseStats()
    builder.consume([b"\n".join(lines) + b"\n"], stats)
    by_record = SummaryBuilder()
    for line in lines:
        rec = decode_scan(line)
        assert rec is not None
        by_record.add(rec)
    for b in (builder, by_record):
        gates = b.gates.result(0)
        assert (gates.evaluations, gates.blocks) == (6, 3)
        assert sorted(gates.by_gate) == ["?", "G"]
        assert (gates.by_gate["?"].evaluations, gates.by_gate["?"].blocks) == (4, 2)
        assert (gates.by_gate["G"].evaluations, gates.by_gate["G"].blocks) == (2, 1)
    assert builder.gates.result(0) == by_record.gates.result(0)


def test_consume_numbers_orders_on_from_the_builder_alone():
    """consume() takes no order numbering of its own (a re-read part continues the merged
    numbers); only the constructor's seq_base starts a part's numbers."""
    order = b'{"ts": "2025-01-01T00:00:00Z", "kind": "order", "payload": {"client_id": "c"}}\n'
    builder = SummaryBuilder(seq_base=7)
    builder.consume([order], ParseStats())
    assert builder.pairer.next_seq == 8
    with pytest.raises(TypeError):
        builder.consume([order], ParseStats(), seq_base=0)  # type: ignore[call-arg]
