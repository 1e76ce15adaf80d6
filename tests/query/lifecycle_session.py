"""A hand-written session with every path of an order's life (docs/events.md), for the
summary, ``--check``, alert, export and CLI tests.

Orders (``o1`` ... ``o11``), 10 s apart from T0 (2025-12-20 10:00 UTC); times below are
after each order's own intent:

* o1  BTC market buy 1: ack +10 ms, fill at 100.1 (+10 bps) +100 ms          -> filled
* o2  BTC limit buy 2 @100 GTC: ack, partial 1 @99.9, partial 1 @100.1, fill 2 @100.0
      (the average: 0 bps, one slippage sample for the order)                 -> filled
* o3  ETH limit sell 1 @3600 GTC: ack, partial 0.4 @3600, cancel after 60 s
      (partly filled; slippage of the partial: -285.71 bps vs the 3500 quote) -> cancelled
* o4  ETH limit buy 1 @3400 GTC: ack, cancel after 2 s                        -> cancelled
* o5  BTC limit buy 1 @99 IOC: expire at once                                -> expired
* o6  BTC market buy 5: reject "insufficient balance"                        -> rejected
* o7  BTC market sell 1: execute-stage error                                 -> error
* o8  BTC limit buy 1 @90 GTC: ack, nothing since (working, never missing)    -> open
* o9  ETH limit buy 1 @3000 DAY: ack (working until the end of the UTC day)   -> open
* o10 BTC limit sell 1 @120 expire_after_s 30: ack, no expire logged
      (overdue 30 s after it was placed)                                      -> open, missing
* o11 ETH market buy 1: nothing after the order (overdue at once)             -> open, missing
* one intent blocked by MaxNotional                                           -> blocked
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

T0 = datetime(2025, 12, 20, 10, 0, 0, tzinfo=UTC)
SESSION = "life"
# Instants the tests judge at: an hour later (o10 and o11 overdue), and just after the
# session's UTC day ended (o9 overdue too).
AS_OF = (T0 + timedelta(hours=1)).timestamp()
AFTER_MIDNIGHT = datetime(2025, 12, 21, 0, 5, tzinfo=UTC).timestamp()

SENT = 11
BY_STATUS = {
    "open": 4,
    "filled": 2,
    "cancelled": 2,
    "expired": 1,
    "rejected": 1,
    "blocked": 1,
    "error": 1,
}
KIND_COUNTS = {
    "intent": 12,
    "gate": 12,
    "order": 11,
    "ack": 7,
    "partial_fill": 3,
    "fill": 2,
    "cancel": 2,
    "expire": 1,
    "reject": 1,
    "error": 1,
}


def _intent(n: int, symbol: str, side: str, qty: float, price: float, **terms) -> tuple:
    return (
        0,
        symbol,
        "intent",
        {
            "intent_id": f"i{n}",
            "side": side,
            "quantity": qty,
            "current_price": price,
            "strategy_key": "fixture",
            **terms,
        },
    )


def _order(n: int, symbol: str, side: str, qty: float, **terms) -> list[tuple]:
    return [
        (1, symbol, "gate", {"intent_id": f"i{n}", "gate_name": "MaxNotional", "passed": True}),
        (
            5,
            symbol,
            "order",
            {"client_id": f"o{n}", "intent_id": f"i{n}", "side": side, "quantity": qty, **terms},
        ),
    ]


def _ids(n: int, side: str) -> dict:
    return {"client_id": f"o{n}", "intent_id": f"i{n}", "side": side}


MARKET = {"order_type": "market"}


def _limit(price: float, tif: str = "GTC", **more) -> dict:
    return {"order_type": "limit", "limit_price": price, "time_in_force": tif, **more}


# (order number, [(ms after the intent, symbol, kind, payload), ...])
FLOWS: list[tuple[int, list[tuple]]] = [
    (
        1,
        [
            _intent(1, "BTC-USD", "buy", 1.0, 100.0, **MARKET),
            *_order(1, "BTC-USD", "buy", 1.0, **MARKET),
            (15, "BTC-USD", "ack", {**_ids(1, "buy"), "order_id": "v1"}),
            (
                105,
                "BTC-USD",
                "fill",
                {
                    **_ids(1, "buy"),
                    "filled_quantity": 1.0,
                    "fill_price": 100.1,
                    "fill_notional": 100.1,
                    "fill_fee": 0.1,
                },
            ),
        ],
    ),
    (
        2,
        [
            _intent(2, "BTC-USD", "buy", 2.0, 100.0, **_limit(100.0)),
            *_order(2, "BTC-USD", "buy", 2.0, **_limit(100.0)),
            (25, "BTC-USD", "ack", {**_ids(2, "buy"), "order_id": "v2"}),
            (
                500,
                "BTC-USD",
                "partial_fill",
                {
                    **_ids(2, "buy"),
                    "filled_quantity": 1.0,
                    "fill_price": 99.9,
                    "fill_notional": 99.9,
                    "fill_fee": 0.1,
                    "cumulative_quantity": 1.0,
                    "remaining_quantity": 1.0,
                },
            ),
            (
                900,
                "BTC-USD",
                "partial_fill",
                {
                    **_ids(2, "buy"),
                    "filled_quantity": 1.0,
                    "fill_price": 100.1,
                    "fill_notional": 100.1,
                    "fill_fee": 0.1,
                    "cumulative_quantity": 2.0,
                    "remaining_quantity": 0.0,
                },
            ),
            (
                900,
                "BTC-USD",
                "fill",
                {
                    **_ids(2, "buy"),
                    "filled_quantity": 2.0,
                    "fill_price": 100.0,
                    "fill_notional": 200.0,
                    "fill_fee": 0.2,
                },
            ),
        ],
    ),
    (
        3,
        [
            _intent(3, "ETH-USD", "sell", 1.0, 3500.0, **_limit(3600.0)),
            *_order(3, "ETH-USD", "sell", 1.0, **_limit(3600.0)),
            (35, "ETH-USD", "ack", _ids(3, "sell")),
            (
                2000,
                "ETH-USD",
                "partial_fill",
                {
                    **_ids(3, "sell"),
                    "filled_quantity": 0.4,
                    "fill_price": 3600.0,
                    "fill_notional": 1440.0,
                    "fill_fee": 1.44,
                    "cumulative_quantity": 0.4,
                    "remaining_quantity": 0.6,
                },
            ),
            (
                60_005,
                "ETH-USD",
                "cancel",
                {
                    **_ids(3, "sell"),
                    "reason": "cancel requested",
                    "filled_quantity": 0.4,
                    "remaining_quantity": 0.6,
                },
            ),
        ],
    ),
    (
        4,
        [
            _intent(4, "ETH-USD", "buy", 1.0, 3500.0, **_limit(3400.0)),
            *_order(4, "ETH-USD", "buy", 1.0, **_limit(3400.0)),
            (45, "ETH-USD", "ack", _ids(4, "buy")),
            (
                2005,
                "ETH-USD",
                "cancel",
                {
                    **_ids(4, "buy"),
                    "reason": "cancel requested",
                    "filled_quantity": 0.0,
                    "remaining_quantity": 1.0,
                },
            ),
        ],
    ),
    (
        5,
        [
            _intent(5, "BTC-USD", "buy", 1.0, 100.0, **_limit(99.0, "IOC")),
            *_order(5, "BTC-USD", "buy", 1.0, **_limit(99.0, "IOC")),
            (
                6,
                "BTC-USD",
                "expire",
                {
                    **_ids(5, "buy"),
                    "reason": "IOC: nothing to match",
                    "time_in_force": "IOC",
                    "filled_quantity": 0.0,
                    "remaining_quantity": 1.0,
                },
            ),
        ],
    ),
    (
        6,
        [
            _intent(6, "BTC-USD", "buy", 5.0, 100.0, **MARKET),
            *_order(6, "BTC-USD", "buy", 5.0, **MARKET),
            (8, "BTC-USD", "reject", {**_ids(6, "buy"), "reason": "insufficient balance"}),
        ],
    ),
    (
        7,
        [
            _intent(7, "BTC-USD", "sell", 1.0, 100.0, **MARKET),
            *_order(7, "BTC-USD", "sell", 1.0, **MARKET),
            (
                9,
                "BTC-USD",
                "error",
                {
                    "error": "ConnectionError: venue down",
                    "client_id": "o7",
                    "intent_id": "i7",
                    "stage": "execute",
                },
            ),
        ],
    ),
    (
        8,
        [
            _intent(8, "BTC-USD", "buy", 1.0, 100.0, **_limit(90.0)),
            *_order(8, "BTC-USD", "buy", 1.0, **_limit(90.0)),
            (55, "BTC-USD", "ack", _ids(8, "buy")),
        ],
    ),
    (
        9,
        [
            _intent(9, "ETH-USD", "buy", 1.0, 3500.0, **_limit(3000.0, "DAY")),
            *_order(9, "ETH-USD", "buy", 1.0, **_limit(3000.0, "DAY")),
            (65, "ETH-USD", "ack", _ids(9, "buy")),
        ],
    ),
    (
        10,
        [
            _intent(10, "BTC-USD", "sell", 1.0, 100.0, **_limit(120.0, expire_after_s=30.0)),
            *_order(10, "BTC-USD", "sell", 1.0, **_limit(120.0, expire_after_s=30.0)),
            (75, "BTC-USD", "ack", _ids(10, "sell")),
        ],
    ),
    (
        11,
        [
            _intent(11, "ETH-USD", "buy", 1.0, 3500.0, **MARKET),
            *_order(11, "ETH-USD", "buy", 1.0, **MARKET),
        ],
    ),
    (
        12,
        [
            _intent(12, "BTC-USD", "buy", 500.0, 100.0, **MARKET),
            (
                1,
                "BTC-USD",
                "gate",
                {
                    "intent_id": "i12",
                    "gate_name": "MaxNotional",
                    "passed": False,
                    "reason": "notional too large",
                },
            ),
        ],
    ),
]


def events(session: str = SESSION) -> list[dict]:
    """The session's events, in time order."""
    out = []
    for n, flow in FLOWS:
        start = T0 + timedelta(seconds=10 * (n - 1))
        for ms, symbol, kind, payload in flow:
            out.append(
                {
                    "ts": start + timedelta(milliseconds=ms),
                    "session_id": session,
                    "symbol": symbol,
                    "mode": "paper",
                    "kind": kind,
                    "payload": payload,
                }
            )
    out.sort(key=lambda e: e["ts"])
    for seq, event in enumerate(out, 1):
        event["ts"] = event["ts"].isoformat()
        event["seq"] = seq
        event["event_id"] = f"evt-{session}-{seq}"
    return out


def write(base: Path, session: str = SESSION, *, split_days: bool = False) -> Path:
    """Write the session under ``base`` (``split_days``: its second half in a second day's
    directory, as a session that ran over midnight); returns ``base``."""
    lines = [json.dumps(e) + "\n" for e in events(session)]
    if not split_days:
        (base / f"{session}.jsonl").write_text("".join(lines))
        return base
    half = len(lines) // 2
    for day, part in (("2025-12-20", lines[:half]), ("2025-12-21", lines[half:])):
        (base / day).mkdir(parents=True, exist_ok=True)
        (base / day / f"{session}.jsonl").write_text("".join(part))
    return base
