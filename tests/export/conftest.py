"""Fixtures for exports: a small archive of awkward events written by the real logger."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from src.execution.events import ExecutionEvent
from src.execution.telemetry.jsonl import JsonlExecutionLogger

T0 = datetime(2025, 12, 20, 23, 59, 58, 250000, tzinfo=UTC)  # two seconds before midnight

AWKWARD_TEXT = 'comma, "quote", new\nline, ünïcode ✓, tab\there'


def round_trip_events(session_id: str = "s1", symbol: str = "BTC-USD") -> list[ExecutionEvent]:
    """One intent's life (intent, gates, order, fill) plus an error, with awkward values."""
    t = T0
    step = timedelta(milliseconds=700)
    events = [
        (
            "intent",
            {
                "intent_id": "i1",
                "side": "buy",
                "quantity": 1.5,
                "current_price": 100000.0,
                "strategy_key": '=HYPERLINK("x")',
                "order_type": "market",
                "limit_price": None,
            },
        ),
        (
            "gate",
            {"intent_id": "i1", "gate_name": "PriceSanity", "passed": True, "reason": AWKWARD_TEXT},
        ),
        (
            "gate",
            {
                "intent_id": "i1",
                "gate_name": "MaxNotional",
                "passed": False,
                "reason": "-1 over +limit @desk",
            },
        ),
        (
            "order",
            {
                "client_id": "o1",
                "intent_id": "i1",
                "side": "buy",
                "quantity": 1.5,
                "order_type": "limit",
                "limit_price": 100010.25,
            },
        ),
        (
            "fill",
            {
                "client_id": "o1",
                "intent_id": "i1",
                "side": "buy",
                "filled_quantity": 1.5,
                "fill_price": 100020.125,
                "fill_notional": 150030.1875,
                "fill_fee": -0.5,
                "reference_price": 100000.0,
                "venue": {"name": "X", "ids": [1, 2]},
            },
        ),
        (
            "error",
            {
                "error": "'quoted' \x01 control",
                "stacktrace": "Traceback\n  line 1",
                "stage": "executor",
            },
        ),
    ]
    out = []
    for seq, (kind, payload) in enumerate(events, 1):
        out.append(
            ExecutionEvent(
                ts=t + step * seq,
                session_id=session_id,
                symbol=symbol,
                mode="paper",
                kind=kind,
                payload=payload,
                seq=seq,
                event_id=f"evt-{session_id}-{seq}",
                mono_ns=1_000_000_000 * seq,
            )
        )
    return out


def write_events(base: Path, events: list[ExecutionEvent]) -> None:
    with JsonlExecutionLogger(base, strict=True) as logger:
        for event in events:
            logger.emit(event)


@pytest.fixture
def archive(tmp_path) -> Path:
    """Two sessions (one with an id Hive must escape) whose events cross midnight UTC."""
    base = tmp_path / "logs"
    write_events(base, round_trip_events("s1", "BTC-USD"))
    write_events(base, round_trip_events("desk:eu=1", "ETH-USD"))
    return base


@pytest.fixture
def writer() -> Callable[[Path, list[ExecutionEvent]], None]:
    return write_events
