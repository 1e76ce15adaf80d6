"""decode_record against the validity rule written out plainly: its shortcut (a line with
no ``[``, at most two ``{`` and an object payload skips the field-by-field naming and
depth checks) must never accept a line the rule rejects, nor reject one it accepts."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from src.query.records import (
    EARLIEST,
    KIND_NAME_FIELDS,
    LATEST,
    MAX_DEPTH,
    NAME_FIELDS,
    decode_record,
    decode_scan,
)


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def rule(line: bytes) -> bool:
    """The rule of src.query.records' docstring for a whole line, checked field by field."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str) or not data["kind"]:
        return False
    try:
        ts = datetime.fromisoformat(data["ts"])
    except (KeyError, TypeError, ValueError):
        return False
    ts = ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
    if not EARLIEST <= ts < LATEST or _depth(data) > MAX_DEPTH:
        return False
    kind, payload = data["kind"], data.get("payload")
    names = [data.get(k) for k in NAME_FIELDS]
    if kind == "fill":
        names.append(data.get("event_id"))
    if isinstance(payload, dict):
        names += [payload.get(k) for k in KIND_NAME_FIELDS.get(kind, ())]
    return not any(isinstance(v, (list, dict)) for v in names)


def event(**fields: object) -> bytes:
    base = {"ts": "2025-01-01T00:00:00Z", "session_id": "s", "symbol": "X", "kind": "fill"}
    return orjson.dumps({**base, **fields})


# Each would pass a shortcut that forgot one of its three conditions.
EDGES = [
    event(symbol={"a": 1}),  # two `{`, no payload
    event(symbol={}, payload="x"),  # two `{`, a payload that is not an object
    event(session_id={}, payload={}),  # three `{`
    event(payload={"side": {}}),  # three `{`, the object inside the payload
    event(payload={"order_id": [1]}),  # a `[`
    event(event_id=[], payload={}),
    b'{"ts": "2025-01-01T00:00:00Z", "kind": "fill", "symbol": {}, "payload": {}, '
    b'"payload": 1}',  # a duplicate key: the last one counts
    b'{"ts": "2025-01-01T00:00:00Z", "kind": "fill", "payload": {}, "symbol": {}, '
    b'"symbol": "X"}',  # valid (the object was overwritten), though three `{`
    b' {"ts": "2025-01-01T00:00:00Z", "kind": "fill", "payload": {"side": "b"}}',  # a space
    event(payload={"reason": "{[{"}, note="{"),  # brackets in strings only: valid
    event(payload={"side": "buy", "detail": {"x": [1]}}),  # nesting where no name is
]


def test_the_shortcut_agrees_with_the_rule_on_its_edges():
    verdicts = [rule(line) for line in EDGES]
    assert verdicts == [False] * 7 + [True] * 4  # the cases are what they say
    for line, valid in zip(EDGES, verdicts, strict=True):
        assert (decode_record(line) is not None) is valid, line
        assert (decode_scan(line) is not None) is valid, line


scalars = st.none() | st.booleans() | st.integers(-10, 10) | st.text("ab{[}] ", max_size=4)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=2)
        | st.dictionaries(st.sampled_from(["side", "order_id", "k"]), inner, max_size=2)
    ),
    max_leaves=4,
)
payload_keys = st.sampled_from(["intent_id", "client_id", "order_id", "side", "gate_name", "k"])


@settings(max_examples=400, deadline=None)
@given(
    kind=st.sampled_from(["fill", "order", "intent", "gate", "error", "other"]),
    top=st.dictionaries(st.sampled_from(["session_id", "symbol", "event_id", "note"]), values),
    payload=st.one_of(values, st.dictionaries(payload_keys, values, max_size=4)),
)
def test_decode_record_is_the_rule_on_arbitrary_events(kind, top, payload):
    line = event(kind=kind, **top, payload=payload)
    valid = rule(line)
    assert (decode_record(line) is not None) is valid, line
    assert (decode_scan(line) is not None) is valid, line


def test_every_reader_reads_the_same_instant_from_every_form_of_ts():
    """The typed decoders (msgspec) and the whole-line rule read ``ts`` alike: forms only
    msgspec reads are valid for both, and more than six decimals round the same way."""
    from src.query.records import decode_record, decode_scan, parse_instant_dt

    forms = [
        "2025-01-01T00:00:01.123456+00:00",
        "2025-01-01t00:00:01z",
        "2025-01-01T00:00:01.1234567Z",
        "2025-01-01T23:59:59.9999999Z",
        "2025-01-01 00:00:01+05:00",
        "2025-01-01T00:00:01",
        "20250101T000001Z",
        "2025-01-01T00:00:01,5Z",
    ]
    for ts in forms:
        line = orjson.dumps(
            {"ts": ts, "session_id": "s", "symbol": "X", "kind": "fill", "payload": {}}
        )
        record, scanned = decode_record(line), decode_scan(line)
        assert record is not None and scanned is not None, ts
        assert record.t == scanned.ts.timestamp() == parse_instant_dt(ts).timestamp(), ts
