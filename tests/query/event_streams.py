"""Random event streams for tests: interleaved round trips with colliding ids, and junk.

Shared by the pairing-merge and parallel-scan property tests.
"""

from __future__ import annotations

import gzip
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from hypothesis import strategies as st

START = datetime(2025, 6, 1, tzinfo=UTC)

IDS = st.sampled_from([None, "a", "b", "c", "d", "e"])  # few ids: reuse and collisions
SIDES = st.sampled_from(["buy", "sell", "SELL", None, ""])
# An order's terms, which decide its deadline (src.query.lifecycle.deadline): none (a market
# order: due when placed), working until cancelled, until the end of the day, or for a while.
TERMS = st.one_of(
    st.just({}),
    st.just({"order_type": "limit", "limit_price": 99.0, "time_in_force": "GTC"}),
    st.just({"order_type": "limit", "limit_price": 99.0, "time_in_force": "DAY"}),
    st.just({"order_type": "limit", "limit_price": 99.0, "time_in_force": "IOC"}),
    st.fixed_dictionaries(
        {
            "order_type": st.just("limit"),
            "limit_price": st.just(99.0),
            "expire_after_s": st.sampled_from([0.1234567, 30, 600, 3600.5, 1e300, "x"]),
        }
    ),
)
LIFECYCLE = st.sampled_from(["ack", "partial_fill", "cancel", "expire", "reject", "error"])


@st.composite
def flow(draw: st.DrawFn, orders: bool = True) -> list[dict]:
    """The events of one round trip: intent, gate decisions, order, (partial) fills, and
    the order's lifecycle events (acks, partial fills, cancel, expire, reject, errors).

    ``orders=False``: no order events (a sink filter that logs intents, fills and errors);
    fills then pair to their intents by intent_id."""
    intent_id, client_id, side = draw(IDS), draw(IDS), draw(SIDES)
    events = [
        {
            "kind": "intent",
            "payload": {
                "intent_id": intent_id,
                "side": side,
                "current_price": draw(st.sampled_from([100, 100.5, "101", None, 0, "nan"])),
            },
        }
    ]
    for _ in range(draw(st.integers(0, 2))):
        events.append(
            {
                "kind": "gate",
                "payload": {
                    "intent_id": intent_id,
                    "gate_name": draw(st.sampled_from(["A", "B", None])),
                    "passed": draw(st.sampled_from([True, True, True, False, None])),
                    "reason": draw(st.sampled_from(["ok", "too big", "stale", None])),
                },
            }
        )
    if orders and draw(st.integers(0, 4)):
        key = draw(st.sampled_from(["client_id", "client_id", "order_id"]))
        events.append(
            {
                "kind": "order",
                "payload": {
                    "intent_id": intent_id if draw(st.integers(0, 5)) else draw(IDS),
                    key: client_id,
                    "side": side if draw(st.integers(0, 5)) else draw(SIDES),
                    "quantity": draw(st.sampled_from([1, 2, 0.5, "2", None])),
                    **draw(TERMS),
                },
            }
        )
    for _ in range(draw(st.integers(0, 3))):
        fill = {
            "kind": "fill",
            "payload": {
                "client_id": client_id if draw(st.integers(0, 5)) else draw(IDS),
                "intent_id": intent_id if draw(st.integers(0, 3)) else draw(IDS),
                "side": draw(SIDES),
                "filled_quantity": draw(st.sampled_from([1, 0.5, 0, "1", None])),
                "fill_price": draw(st.sampled_from([100.2, 99.1, "100", None, "nan"])),
                "reference_price": draw(st.sampled_from([100, None])),
            },
        }
        if draw(st.integers(0, 3)):
            fill["event_id"] = draw(st.sampled_from(["e1", "e2", "e3", "e4", "e5", "e6", "e7"]))
        events.append(fill)
    # The order's life: acks, partial fills and an end (or two), anywhere after the intent.
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(LIFECYCLE)
        payload: dict = {"client_id": client_id if draw(st.integers(0, 5)) else draw(IDS)}
        if kind == "error":
            payload.update(error="x", stage=draw(st.sampled_from(["execute", "gate", None])))
        elif kind == "partial_fill":
            payload.update(
                filled_quantity=draw(st.sampled_from([0.5, 1, "0.5", None, 0])),
                fill_price=draw(st.sampled_from([100.2, 99.1, "100", None, "nan"])),
                reference_price=draw(st.sampled_from([100, None])),
            )
        elif kind in ("cancel", "expire"):
            payload.update(filled_quantity=draw(st.sampled_from([0, 0.5, None])), reason="r")
        events.insert(draw(st.integers(1, len(events))), {"kind": kind, "payload": payload})
    return events


@st.composite
def event_lines(draw: st.DrawFn, orders: bool | None = None) -> list[bytes]:
    """Interleaved round trips plus errors, other kinds and junk lines, in arrival order.

    ``orders``: False for a log without order events, None for either (drawn)."""
    keyed: list[tuple[int, int, dict | bytes]] = []
    if orders is None:
        orders = draw(st.integers(0, 3)) > 0  # a quarter of the logs have no orders
    for n, events in enumerate(draw(st.lists(flow(orders), min_size=1, max_size=25))):
        at = draw(st.integers(0, 60))
        for event in events:
            keyed.append((at, n, event))
            at += draw(st.integers(0, 8))
    for _ in range(draw(st.integers(0, 6))):
        junk = [b"", b"not json", b"\xff\xfe{", b'{"kind": "fill"}', b"[1]"]
        other = {"kind": draw(st.sampled_from(["error", "other"])), "payload": {"error": "x"}}
        keyed.append((draw(st.integers(0, 80)), -1, draw(st.sampled_from([*junk, other]))))
    keyed.sort(key=lambda k: k[:2])
    lines = []
    for _, _, event in keyed:
        if isinstance(event, bytes):
            lines.append(event)
            continue
        event["step"] = draw(st.sampled_from([0, 1, 1, 30, 500, 90_000, -1, -2_000]))  # ms
        event["session_id"] = draw(st.sampled_from(["s", "s", "s", "t"]))
        event["symbol"] = draw(st.sampled_from(["BTC-USD", "ETH-USD"]))
        if not draw(st.integers(0, 40)):
            event["payload"] = "not an object"
        if draw(st.integers(0, 6)):
            event["mono_ns"] = 0
        lines.append(orjson.dumps(event))
    return lines


def stamped(lines: list[bytes]) -> list[bytes]:
    """Give the events of :func:`event_lines` instants (and mono readings) in file order."""
    now, mono, out = START, 10**12, []
    for line in lines:
        if line.startswith(b'{"kind"') and b'"step"' in line:
            event = orjson.loads(line)
            step = event.pop("step")
            now += timedelta(milliseconds=step)
            mono += abs(step) * 1_000_000 + 1 if step != -1 else -3_000_000
            event["ts"] = now.isoformat() if step != 500 else now.isoformat(sep=" ")
            if "mono_ns" in event:
                event["mono_ns"] = mono
            line = orjson.dumps(event)
        out.append(line)
    return out


def write_session(base: Path, lines: list[bytes], cuts: list[int], gz: bool, torn: bool) -> None:
    """Write stamped ``lines`` as session ``s`` over files cut at byte offsets ``cuts``."""
    body = b"".join(line + b"\n" for line in stamped(lines))
    if torn:
        body += b'{"ts": "2025-06-01T00:00:00Z", "ki'
    bounds = sorted({min(c, len(body)) for c in cuts} | {0, len(body)})
    parts = [body[a:b] for a, b in itertools.pairwise(bounds)]
    for n, part in enumerate(parts):
        day = base / f"2025-06-0{n + 1}"
        day.mkdir(parents=True, exist_ok=True)
        if gz and n == 0 and len(parts) > 1:
            (day / "s.jsonl.gz").write_bytes(gzip.compress(part))
        else:
            (day / "s.jsonl").write_bytes(part)
