"""Events with mistyped fields (an id that is a list, a symbol that is an object, ...) never
crash a reader: every line is counted, as a valid event or as an invalid line."""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from src.query.checks import evaluate
from src.query.engine import iter_events, summarize, tail
from src.query.filters import EventFilter
from src.query.head import LiveHead
from src.query.incremental import IncrementalSummary
from src.query.paging import page_back
from src.query.records import ParseStats, decode_record, decode_scan
from src.query.timeline import row_from_record

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


@st.composite
def mutated_lines(draw: st.DrawFn) -> list[bytes]:
    kinds = ["intent", "gate", "order", "fill", "error"]
    out = []
    for n in range(draw(st.integers(1, 25))):
        ev = event(n, kinds[n % 5])
        for _ in range(draw(st.integers(0, 2))):
            if draw(st.booleans()):
                ev[draw(st.sampled_from(TOP))] = draw(values)
            elif isinstance(ev.get("payload"), dict):
                ev["payload"][draw(st.sampled_from(PAYLOAD))] = draw(values)
        try:
            out.append(orjson.dumps(ev))
        except (TypeError, orjson.JSONEncodeError):
            continue  # an integer beyond 64 bits: orjson cannot write it
    return out


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=mutated_lines())
def test_every_reader_survives_mistyped_fields(tmp_path_factory, lines):
    base = tmp_path_factory.mktemp("mistyped")
    (base / "s.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    for line in lines:  # the two decoders agree on which lines are events
        assert (decode_record(line) is None) == (decode_scan(line) is None), line
    flt = EventFilter.build(session_id="s")
    for workers in (1, 2):
        summary = summarize(base, flt, workers=workers)
        parse = summary["parse"]
        assert parse["total_lines"] == len(lines)
        assert parse["valid_events"] + parse["invalid_lines"] == len(lines)
        evaluate(summary)
    assert summarize(base, EventFilter.build(session_id="s", symbol="X"), workers=1)
    incremental = IncrementalSummary(base, "s", max_age_s=0).refresh()
    assert incremental["parse"]["valid_events"] == parse["valid_events"]
    records = tail(base, flt, 1000)
    assert len(records) == parse["valid_events"]
    for rec in records:
        row_from_record(rec).to_dict()
    stats = ParseStats()
    assert len(list(iter_events(base, flt, stats))) == parse["valid_events"]
    assert len(page_back(base, flt, 1000).records) == parse["valid_events"]
    assert len(LiveHead(base, flt, 1000, row_from_record).refresh()[0]) == parse["valid_events"]


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
