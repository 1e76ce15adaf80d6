"""The blotter decodes lines with the summary's lean per-kind decoders (each line only its
kind's keys): the orders are the same as folded from full records, including for the
kinds whose payload lacks a key another kind has (an error's order_id and side, a
reject's filled_quantity)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from src.query.orders.decode import decode_line
from src.query.orders.fold import OrderFold
from src.query.orders.state import to_row
from src.query.records import decode_scan
from src.query.scan_events import EVENT_TYPES
from tests.execution.lifecycle_scenario import run_every_path
from tests.query import lifecycle_session
from tests.query.orders_sessions import T0, lifecycle_lines, line

NOW = T0 + 3600


def _odd_kinds() -> list[str]:
    s = {"session": "odd"}
    return [
        line(T0, "order", client_id="c1", intent_id="i1", side="buy", quantity=2.0, **s),
        line(T0 + 1, "reject", client_id="c1", reason="price band", **s),
        # An execute-stage error naming only the intent, and one for an order never logged.
        line(T0 + 2, "intent", intent_id="i2", side="sell", quantity=1.0, **s),
        line(T0 + 3, "order", client_id="c2", intent_id="i2", side="sell", quantity=1.0, **s),
        line(T0 + 4, "error", intent_id="i2", stage="execute", error="venue down", **s),
        line(T0 + 5, "error", client_id="c3", stage="execute", error="timeout", **s),
        line(T0 + 6, "error", client_id="c2", stage="cancel", error="late", **s),
        line(T0 + 7, "expire", client_id="c9", time_in_force="IOC", filled_quantity=0.5, **s),
    ]


def _pipeline_lines(tmp_path: Path) -> list[str]:
    from src.execution.telemetry import JsonlExecutionLogger

    with JsonlExecutionLogger(tmp_path, fsync="none") as logger:
        run_every_path(logger)
    return [x for f in sorted(tmp_path.rglob("*.jsonl")) for x in f.read_text().splitlines()]


def _fold(lines: list[str], decode) -> tuple[dict[str, int], list]:
    fold = OrderFold()
    for n, text in enumerate(lines):
        rec = decode(text.encode())
        if rec is not None:
            fold.feed(n, rec)
    states = [*fold.open.values(), *(st for _, sts in fold.ended.values() for st in sts)]
    return fold.counts, sorted((to_row(st, NOW) for st in states), key=lambda r: r.id)


@pytest.mark.parametrize("source", ["odd", "orders", "lifecycle", "pipeline"])
def test_lean_records_fold_as_full_ones(tmp_path, source):
    lines = {
        "odd": _odd_kinds,
        "orders": lifecycle_lines,
        "lifecycle": lambda: [json.dumps(e) for e in lifecycle_session.events()],
        "pipeline": lambda: _pipeline_lines(tmp_path),
    }[source]()
    lean = [decode_line(x.encode()) for x in lines]
    assert any(r is not None and r.__class__ in EVENT_TYPES.values() for r in lean)
    assert _fold(lines, decode_line) == _fold(lines, decode_scan)


def test_the_odd_kinds_end_their_orders():
    counts, rows = _fold(_odd_kinds(), decode_line)
    assert counts["error"] == 2 and counts["rejected"] == 1
    by_id = {r.id: r for r in rows}
    assert by_id["c1"].status == "rejected" and by_id["c1"].reason == "price band"
    assert by_id["c2"].status == "error" and by_id["c2"].reason == "venue down"
    assert by_id["c3"].status == "error" and by_id["c3"].side is None
    assert by_id["c9"].status == "expired" and by_id["c9"].filled_quantity == 0.5
