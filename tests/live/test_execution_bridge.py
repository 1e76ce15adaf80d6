"""The bridge's public functions, as the spec documents them, over real files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from src.execution import ExecutionPipeline, OrderIntent, PaperExecutor
from src.execution.schema import KINDS
from src.execution.telemetry import JsonlExecutionLogger
from src.live.execution_bridge import (
    ExecutionTimelineRow,
    get_execution_summary,
    get_execution_timeline,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "execution_telemetry"


def write(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")


def ev(kind: str, payload: dict, ts: str = "2025-01-01T12:00:00", **extra) -> dict:
    return {
        "ts": ts,
        "session_id": "session_123",
        "symbol": "BTC-USD",
        "mode": "paper",
        "kind": kind,
        "payload": payload,
        **extra,
    }


def test_spec_example_descriptions_exactly(tmp_path):
    """The spec's three lines, read back newest first with the spec's exact wording."""
    write(
        tmp_path / "session_123.jsonl",
        [
            ev("intent", {"side": "buy", "quantity": 1.0, "current_price": 100000.0}),
            ev(
                "order",
                {"client_id": "ord_001", "side": "buy", "quantity": 1.0, "order_type": "market"},
                ts="2025-01-01T12:00:01",
            ),
            ev(
                "fill",
                {
                    "client_id": "ord_001",
                    "filled_quantity": 1.0,
                    "fill_price": 100020.0,
                    "fill_notional": 100020.0,
                    "fill_fee": 10.0,
                },
                ts="2025-01-01T12:00:02",
            ),
        ],
    )
    rows = get_execution_timeline("session_123", limit=200, base_path=tmp_path)
    assert [f"{r.ts:%Y-%m-%d %H:%M:%S} [{r.kind}] {r.description}" for r in rows] == [
        "2025-01-01 12:00:02 [fill] Fill: 1.000000 @ $100,020.00 (fee: $10.0000)",
        "2025-01-01 12:00:01 [order] Order: BUY 1.000000 (market)",
        "2025-01-01 12:00:00 [intent] Intent: BUY 1.000000 @ $100,000.00",
    ]
    assert all(isinstance(r, ExecutionTimelineRow) and r.ts.tzinfo is not None for r in rows)
    assert rows[0].details["fill_price"] == 100020.0


def test_gate_and_error_descriptions(tmp_path):
    """Gates read ✅ PASS / ❌ BLOCK (reason); errors read Error: <message>."""
    write(
        tmp_path / "session_123.jsonl",
        [
            ev("gate", {"gate_name": "PriceSanity", "passed": True, "reason": "ok"}),
            ev("gate", {"gate_name": "MaxNotional", "passed": False, "reason": "too big"}),
            ev("error", {"error": "broker timeout", "stacktrace": "..."}),
        ],
    )
    rows = get_execution_timeline("session_123", base_path=tmp_path)
    assert [r.description for r in rows] == [
        "Error: broker timeout",
        "Gate [MaxNotional]: ❌ BLOCK (too big)",
        "Gate [PriceSanity]: ✅ PASS",
    ]


@pytest.mark.parametrize(
    ("kind", "payload", "expected"),
    [
        (
            "intent",
            {"side": "buy", "quantity": 1.0, "current_price": None},
            "Intent: BUY 1.000000 (no price)",
        ),
        ("intent", {}, "Intent: ? ? (no price)"),
        ("order", {"side": None, "quantity": "abc"}, "Order: ? ? (market)"),
        ("fill", {"filled_quantity": None}, "Fill: ? @ $? (fee: $?)"),
        ("gate", {}, "Gate [?]: ❌ BLOCK"),
        ("error", {}, "Error: ?"),
        (
            "order",
            {"side": "sell", "quantity": 2, "order_type": "limit", "limit_price": 99.5},
            "Order: SELL 2.000000 (limit @ $99.50)",
        ),
    ],
)
def test_missing_or_odd_values_give_readable_rows(tmp_path, kind, payload, expected):
    """Null, missing or non-numeric payload values never raise; they show as '?'."""
    write(tmp_path / "session_123.jsonl", [ev(kind, payload)])
    assert get_execution_timeline("session_123", base_path=tmp_path)[0].description == expected


def test_filter_is_applied_before_the_limit(tmp_path):
    """kind='fill', limit=3 gives the last 3 fills even when they are far from the end."""
    records = [ev("fill", {"fill_price": n}, seq=n) for n in range(10)]
    records += [ev("gate", {"gate_name": "G", "passed": True}) for _ in range(500)]
    write(tmp_path / "session_123.jsonl", records)
    rows = get_execution_timeline("session_123", limit=3, base_path=tmp_path, kind="fill")
    assert [r.details["fill_price"] for r in rows] == [9, 8, 7]


def test_unknown_session_is_empty_and_not_found(tmp_path):
    """An unknown session: empty timeline, summary found False with zero counts."""
    assert get_execution_timeline("nope", base_path=tmp_path) == []
    summary = get_execution_summary("nope", base_path=tmp_path)
    assert summary["found"] is False and summary["event_count"] == 0
    assert summary["kind_counts"] == dict.fromkeys(KINDS, 0)


@pytest.mark.parametrize("bad", ["../etc/passwd", "a/b", ".."])
def test_unsafe_session_ids_raise(tmp_path, bad):
    """Traversal attempts are refused before any file is touched."""
    with pytest.raises(ValueError, match="invalid session_id"):
        get_execution_timeline(bad, base_path=tmp_path)
    with pytest.raises(ValueError, match="invalid session_id"):
        get_execution_summary(bad, base_path=tmp_path)


def test_summary_of_clean_fixture_is_exact():
    """The clean golden session: counts, symbols, time range, gates, fills, slippage."""
    s = get_execution_summary("session_clean", base_path=FIXTURES, as_of=0)
    assert s["found"] is True and s["session_id"] == "session_clean"
    assert s["event_count"] == 22
    assert s["kind_counts"] == dict.fromkeys(KINDS, 0) | {
        "intent": 5, "order": 4, "fill": 4, "gate": 9, "error": 0
    }  # fmt: skip
    assert s["symbols"] == ["BTC-USD", "ETH-USD"]
    assert s["start_time"] == "2025-12-20T10:00:00+00:00"
    assert s["end_time"] == "2025-12-20T10:10:00.001000+00:00"
    assert s["gates"]["blocks"] == 1 and s["gates"]["rejection_rate"] == pytest.approx(0.2)
    assert s["gates"]["by_gate"]["MaxNotional"]["blocks"] == 1
    assert s["gates"]["by_gate"]["MaxNotional"]["evaluations"] == 5
    assert s["fills"]["fill_rate"] == 1.0 and s["fills"]["orders_without_fills"] == 0
    slip = s["slippage"]["by_symbol"]
    assert slip["BTC-USD"]["count"] == 2
    assert sorted(
        round(x, 6) for x in (slip["BTC-USD"]["max_bps"], slip["ETH-USD"]["max_bps"])
    ) == [2.0, 5.0]
    assert s["slippage"]["overall"]["p50_bps"] == pytest.approx(2.0)
    assert s["parse"]["error_rate"] == 0.0


def test_summary_of_latency_fixture_is_exact():
    """Known latencies: exact avg/p50/p95/max with the nearest-rank percentile."""
    lat = get_execution_summary("session_latency", base_path=FIXTURES)["latency"]
    assert lat["intent_to_order"] == {
        "count": 5,
        "avg_ms": 70.0,
        "p50_ms": 30.0,
        "p95_ms": 250.0,
        "p99_ms": 250.0,
        "max_ms": 250.0,
    }
    assert lat["order_to_fill"] == {
        "count": 5,
        "avg_ms": 422.0,
        "p50_ms": 120.0,
        "p95_ms": 1500.0,
        "p99_ms": 1500.0,
        "max_ms": 1500.0,
    }
    assert lat["intent_to_fill"]["max_ms"] == 1750.0


def test_summary_of_bad_lines_fixture_counts_every_kind_of_damage():
    """Not JSON, array, missing ts, bad UTF-8 and a torn last line: 5 invalid of 15."""
    s = get_execution_summary("session_bad_lines", base_path=FIXTURES)
    assert s["parse"]["total_lines"] == 15
    assert s["parse"]["valid_events"] == 10 == s["event_count"]
    assert s["parse"]["invalid_lines"] == 5
    assert s["parse"]["torn_lines"] == 1
    assert s["parse"]["error_rate"] == pytest.approx(5 / 15)
    rows = get_execution_timeline("session_bad_lines", base_path=FIXTURES)
    assert len(rows) == 10


def test_gzip_session_reads_transparently():
    """A compressed session reads like a plain one (timeline and summary)."""
    rows = get_execution_timeline("session_archived", base_path=FIXTURES, limit=3)
    assert [r.kind for r in rows] == ["fill", "order", "gate"]
    assert get_execution_summary("session_archived", base_path=FIXTURES)["event_count"] == 10


def test_session_spread_over_gzip_plain_and_days_is_one_session(tmp_path):
    """Old gzip part + today's plain part + a daily-rotated part read as one, in order."""
    base = tmp_path
    day1 = [
        ev("intent", {"n": 1}, ts="2025-01-01T10:00:00+00:00"),
        ev("intent", {"n": 2}, ts="2025-01-01T11:00:00+00:00"),
    ]
    (base / "2025-01-01").mkdir()
    with gzip.open(base / "2025-01-01" / "session_123.jsonl.gz", "wt") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in day1))
    write(
        base / "2025-01-02" / "session_123.jsonl",
        [ev("intent", {"n": 3}, ts="2025-01-02T09:00:00Z")],
    )
    rows = get_execution_timeline("session_123", base_path=base)
    assert [r.details["n"] for r in rows] == [3, 2, 1]
    assert get_execution_summary("session_123", base_path=base)["event_count"] == 3


def test_pipeline_to_bridge_round_trip(tmp_path):
    """The spec's integration test: submit an order, read it back newest first."""
    emitter = JsonlExecutionLogger(tmp_path)
    pipeline = ExecutionPipeline(executor=PaperExecutor(), emitter=emitter)
    intent = OrderIntent(
        symbol="BTC-USD", side="buy", quantity=1.0, current_price=100000.0, session_id="s1"
    )
    pipeline.submit_order(intent)
    timeline = get_execution_timeline(intent.session_id, base_path=tmp_path)
    assert len(timeline) >= 3 and timeline[0].kind == "fill"
    summary = get_execution_summary("s1", base_path=tmp_path)
    assert summary["latency"]["intent_to_fill"]["count"] == 1
    assert summary["latency"]["intent_to_fill"]["max_ms"] >= 0
    emitter.close()


def test_counts_are_exact_for_large_files(tmp_path):
    """No silent caps: 30,000 events are all counted."""
    line = json.dumps(ev("gate", {"gate_name": "G", "passed": True})) + "\n"
    (tmp_path / "session_123.jsonl").write_text(line * 30_000)
    assert get_execution_summary("session_123", base_path=tmp_path)["kind_counts"]["gate"] == 30_000
