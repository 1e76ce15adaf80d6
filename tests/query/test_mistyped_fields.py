"""Events with mistyped fields (an id that is a list, a symbol that is an object, ...), odd
values (instants beyond the datetime range, deep nesting, numbers beyond a double, a gate
without a boolean ``passed``) and lines glued to a killed writer's fragment never crash a
reader, and every reader agrees: each line is counted, as a valid event or as an invalid
line, the same way everywhere."""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from src.execution.schema import PAYLOADS
from src.query.checks import evaluate
from src.query.engine import iter_events, summarize, tail
from src.query.filters import EventFilter
from src.query.head import LiveHead
from src.query.incremental import IncrementalSummary
from src.query.paging import page_back
from src.query.records import ParseStats, decode_record, decode_scan
from src.query.timeline import row_from_record
from src.sql import connect

TOP = ["ts", "session_id", "symbol", "mode", "kind", "payload", "seq", "event_id", "mono_ns"]
PAYLOAD = [
    "intent_id",
    "client_id",
    "order_id",
    "side",
    "quantity",
    "current_price",
    "limit_price",
    "order_type",
    "gate_name",
    "passed",
    "reason",
    "filled_quantity",
    "fill_price",
    "fill_fee",
    "reference_price",
    "error",
    "stage",
    "cumulative_quantity",
    "remaining_quantity",
    "time_in_force",
    "expire_after_s",
]

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def event(n: int, kind: str) -> dict:
    payload = {
        "intent_id": f"i{n // 4}",
        "client_id": f"c{n // 4}",
        "side": "buy",
        "quantity": 1.0,
        "current_price": 100.0,
        "gate_name": "G",
        "passed": n % 3 != 0,
        "reason": "ok",
        "filled_quantity": 1.0,
        "fill_price": 100.1,
        "reference_price": 100.0,
        "error": "boom",
        "stage": "execute",  # an error ends its order
        "cumulative_quantity": 1.0,
        "remaining_quantity": 0.0,
        "time_in_force": "GTC",
    }
    return {
        "ts": f"2025-01-01T00:00:{n % 60:02d}.{n:06d}+00:00",
        "session_id": "s",
        "symbol": "X",
        "mode": "paper",
        "kind": kind,
        "payload": payload,
        "seq": n,
        "event_id": f"e{n}",
        "mono_ns": 1_000_000 * n,
    }


# Instants at and beyond the ends of the valid range, and ISO forms of ordinary ones.
ODD_TS = [
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T00:00:00Z",
    "9999-12-30T23:59:59.999999Z",
    "0001-01-02T00:00:00+00:00",
    "0001-01-01T23:59:59Z",
    "2025-01-01T00:00:00",
    "2025-01-01 00:00:00+05:00",
    "2025-01-01t00:00:00z",  # lowercase: msgspec reads it, Python's fromisoformat does not
    "2025-01-01T00:00:00.9999995Z",  # 7 decimals: msgspec rounds, fromisoformat truncates
    "20250101T000000Z",
    "2025-01-01T00:00:00.123456789Z",
]
# Written into the line as they are (orjson cannot write them): numbers beyond a double,
# nesting around the depth limit, the largest 64-bit integers.
RAW = [
    "1e400",
    "-2e308",
    "9" * 330,
    "1" + "0" * 25,
    "18446744073709551615",
    "9223372036854775808",
    "1e-400",
    "[" * 62 + "]" * 62,
    "[" * 63 + "]" * 63,
    "{" + '"a": {' * 62 + "}" * 63,
    "[" * 2000 + "]" * 2000,
]
PLACEHOLDER = "@@raw@@"
AS_OF = 1_750_000_000.0  # open-order ages at one instant, so that readers can be compared


@st.composite
def mutated_lines(draw: st.DrawFn) -> list[bytes]:
    # Every kind, an order's life in order (acks, partial fills, ends after the order).
    kinds = list(PAYLOADS)
    out = []
    for n in range(draw(st.integers(1, 25))):
        ev = event(n, kinds[n % len(kinds)])
        raw = None
        for _ in range(draw(st.integers(0, 2))):
            what = draw(st.integers(0, 5))
            if what == 0:
                ev[draw(st.sampled_from(TOP))] = draw(values)
            elif what == 1 and isinstance(ev.get("payload"), dict):
                ev["payload"][draw(st.sampled_from(PAYLOAD))] = draw(values)
            elif what == 2:
                ev["ts"] = draw(st.sampled_from(ODD_TS))
            elif what == 3 and isinstance(ev.get("payload"), dict):
                raw = draw(st.sampled_from(RAW))
                ev["payload"][draw(st.sampled_from([*PAYLOAD, "extra"]))] = PLACEHOLDER
            elif what == 4 and isinstance(ev.get("payload"), dict):
                ev["payload"].pop("passed", None)  # a gate decision that says nothing
        try:
            line = logged(ev)
        except (TypeError, orjson.JSONEncodeError):
            continue  # an integer beyond 64 bits: orjson cannot write it
        if raw is not None:
            line = line.replace(b'"%s"' % PLACEHOLDER.encode(), raw.encode(), 1)
        if out and draw(st.integers(0, 5)) == 0:
            # A writer killed mid-line left a fragment; this line is glued to it.
            # It may end inside a character (a short write cut it there).
            cut = draw(st.sampled_from([b"", b"\xc3", b"\xe2\x82", b"\xff"]))
            line = event_line_prefix(draw) + cut + line
        out.append(line)
    return out


def logged(ev: dict) -> bytes:
    """``ev`` as a line that starts the way our logger starts every line."""
    line = orjson.dumps(ev)
    return b'{"ts": ' + line[6:] if line.startswith(b'{"ts":') else line


def event_line_prefix(draw: st.DrawFn) -> bytes:
    whole = logged(event(99, "fill"))
    return whole[: draw(st.integers(1, len(whole)))]


def expected_counts(lines: list[bytes]) -> tuple[int, int, int, int]:
    """Lines, valid events, fragments and blocking gate decisions, by decode_record."""
    valid = fragments = blocks = 0
    for line in lines:
        rec = decode_record(line)
        if rec is None:
            continue
        valid += 1
        fragments += rec.fragment
        if rec.kind == "gate" and rec.payload.get("passed") is not True:
            blocks += 1
    return len(lines) + fragments, valid, fragments, blocks


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=mutated_lines())
def test_every_reader_survives_mistyped_fields(tmp_path_factory, lines):
    base = tmp_path_factory.mktemp("mistyped")
    (base / "s.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    for line in lines:  # the two decoders agree on which lines are events
        assert (decode_record(line) is None) == (decode_scan(line) is None), line
    total, valid, _fragments, blocks = expected_counts(lines)
    flt = EventFilter.build(session_id="s")
    outcomes = []
    for workers in (1, 2):
        summary = summarize(base, flt, workers=workers, as_of=AS_OF)
        outcomes.append((summary.orders, summary.latency))
        parse = summary.parse
        assert parse.total_lines == total
        assert parse.valid_events == valid
        assert parse.valid_events + parse.invalid_lines == total
        assert summary.gates.blocks == blocks
        evaluate(summary)
    # A filter sees no line the rules reject (an out-of-range instant included).
    by_symbol = summarize(base, EventFilter.build(session_id="s", symbol="X"), workers=1)
    assert by_symbol.parse == parse
    incremental = IncrementalSummary(base, "s", max_age_s=0).refresh(as_of=AS_OF)
    outcomes.append((incremental.orders, incremental.latency))
    assert outcomes[0] == outcomes[1] == outcomes[2]  # order outcomes agree too
    assert incremental.parse.valid_events == valid
    assert incremental.parse.total_lines == total
    records = tail(base, flt, 1000)
    assert len(records) == valid
    rows = [row_from_record(rec).to_dict() for rec in records]
    assert sum("BLOCK" in row["description"] for row in rows if row["kind"] == "gate") == blocks
    orjson.dumps(rows)  # every valid event can be written out again
    stats = ParseStats()
    assert len(list(iter_events(base, flt, stats))) == valid
    assert (stats.total_lines, stats.valid_events) == (total, valid)
    assert len(page_back(base, flt, 1000).records) == valid
    assert len(LiveHead(base, flt, 1000, row_from_record).refresh()[0]) == valid
    # telemetry-sql: the same lines, the same blocks, every instant a time.
    con = connect(base, threads=1)
    try:
        got = con.sql(
            "SELECT count(*), count(ts), count(*) FILTER (kind = 'gate' AND passed IS NOT TRUE) "
            "FROM events"
        ).fetchall()[0]
        by_kind = dict(con.sql("SELECT kind, count(*) FROM events GROUP BY kind").fetchall())
    finally:
        con.close()
    assert got == (valid, valid, blocks)
    assert by_kind == summary.kind_counts  # the lifecycle kinds' views count alike


def _line(kind: str, payload: dict, **top) -> bytes:
    event = {"ts": "2025-01-01T00:00:00Z", "session_id": "s", "symbol": "X", "kind": kind}
    return orjson.dumps({**event, **top, "payload": payload})


def test_the_rule_names_what_each_kind_is_grouped_by():
    """Arrays or objects where a kind's readers group or pair make the line invalid; the
    same value in a field that kind does not use is ignored, and the rest is kept."""
    invalid = [
        _line("fill", {"client_id": ["c"]}),
        _line("fill", {"intent_id": ["i"]}),  # fills pair to intents when no order is logged
        _line("fill", {}, event_id={"a": 1}),
        _line("order", {"intent_id": {"i": 1}}),
        _line("intent", {"side": ["buy"]}),
        _line("gate", {"gate_name": ["G"]}),
        _line("error", {}, session_id=["s"]),
        _line("intent", {}, symbol={"s": "X"}),
    ]
    for line in invalid:
        assert decode_record(line) is None and decode_scan(line) is None, line
    order = _line("order", {"client_id": "c1", "gate_name": ["odd"], "error": {"x": 1}})
    scanned = decode_scan(order)
    assert decode_record(order) is not None and scanned is not None
    assert scanned.payload.client_id == "c1" and scanned.payload.gate_name is None
    assert decode_scan(_line("error", {}, event_id=[1])) is not None  # not a fill


def test_nesting_the_typed_decoder_gives_up_on_is_judged_by_the_full_rules(tmp_path):
    """msgspec raises RecursionError (not a decode error) on some deep lines, here a
    fragment's start glued to a line nested 2000 deep: invalid, never a crash."""
    deep = (
        b'{"ts":{"ts": "2025-01-01T00:00:00Z", "session_id": "s", "kind": "order", '
        b'"payload": {"intent_id": ' + b"[" * 2000 + b"]" * 2000 + b"}}\n"
    )
    (tmp_path / "s.jsonl").write_bytes(deep + _line("error", {}) + b"\n")
    parse = summarize(tmp_path, EventFilter.build(session_id="s"), workers=1).parse
    assert (parse.valid_events, parse.invalid_lines) == (1, 1)
    assert decode_record(deep) is None and decode_scan(deep) is None


def _nested_to(levels: int, opener: str, strings: str = "") -> bytes:
    """An error line nesting ``levels`` deep (its own object the first, the payload the
    second), the rest made of ``opener`` (``[``, ``{`` or ``mix``), and ``strings`` (text
    full of brackets) in a string at the top, in the payload and in the innermost level."""
    text = orjson.dumps(strings).decode()
    inner = []
    for n in range(levels - 2):
        kind = opener if opener != "mix" else "[{"[n % 2]
        inner.append(("[", "]") if kind == "[" else ('{"k": ', "}"))
    value = text
    for start, end in reversed(inner):
        value = f"{start}{value}{end}"
    return (
        '{"ts": "2025-01-01T00:00:00Z", "session_id": "s", "symbol": "X", "kind": "error", '
        f'"note": {text}, "payload": {{"reason": {text}, "detail": {value}}}}}'
    ).encode()


def test_the_depth_bound_is_exactly_64_levels_with_brackets_in_strings_or_not(tmp_path):
    """64 levels of arrays and objects are valid and 65 are not, however the levels are
    made and whatever brackets strings hold (which only the walk can tell from nesting):
    every decoder and a scan of a file agree."""
    lines, expected = [], []
    for strings in ("", "{" * 70, "[" * 70, "{[" * 40, "]}" * 70, "[" * 30):
        for opener in ("[", "{", "mix"):
            for levels in (2, 63, 64, 65, 66):
                lines.append(_nested_to(levels, opener, strings))
                expected.append(levels <= 64)
    assert orjson.loads(lines[0])["note"] == ""  # the line is what it says
    assert len({line.count(b"{") + line.count(b"[") > 64 for line in lines}) == 2
    for line, valid in zip(lines, expected, strict=True):
        assert (decode_record(line) is not None) is valid, line[:200]
        assert (decode_scan(line) is not None) is valid, line[:200]
    (tmp_path / "s.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    parse = summarize(tmp_path, EventFilter.build(session_id="s"), workers=1).parse
    assert (parse.valid_events, parse.invalid_lines) == (sum(expected), expected.count(False))
    assert len(list(iter_events(tmp_path, EventFilter.build(session_id="s")))) == sum(expected)
