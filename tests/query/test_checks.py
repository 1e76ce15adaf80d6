"""--check's judgement of fills without orders: a warning when orders are logged and missing,
an info line when the log holds no order events at all (a sink filter left them out)."""

from __future__ import annotations

import json
import subprocess
import sys

from src.execution import ExecutionPipeline, OrderIntent, PaperExecutor
from src.execution.telemetry import JsonlExecutionLogger
from src.execution.telemetry.filtering import FilteringEmitter
from src.query.checks import INFO, OK, WARNING, evaluate, worst
from src.query.engine import summarize
from src.query.filters import EventFilter
from tests.conftest import REPO_ROOT


def check(base, session: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scripts/view_execution_telemetry.py", "--path", str(base),
         "--session", session, "--check", "--plain"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_spec_filter_without_orders_pairs_fills_and_checks_healthy(tmp_path):
    """The spec's include_kinds = ["intent", "fill", "error"]: intent->fill latency has a pair
    per fill (by intent_id), and --check says info, not a warning; exit 0."""
    logger = JsonlExecutionLogger(tmp_path)
    emitter = FilteringEmitter(logger, include_kinds=["intent", "fill", "error"])
    pipeline = ExecutionPipeline(executor=PaperExecutor(), emitter=emitter)
    for n in range(5):
        intent = OrderIntent(symbol="BTC-USD", side="buy" if n % 2 else "sell", quantity=1.0,
                             current_price=100.0, session_id="filtered")  # fmt: skip
        assert pipeline.submit_order(intent).filled
    emitter.close()
    kinds = {json.loads(x)["kind"] for x in (tmp_path / "filtered.jsonl").read_text().split("\n")
             if x}  # fmt: skip
    assert kinds == {"intent", "fill"}
    summary = summarize(tmp_path, EventFilter.build(session_id="filtered"))
    assert summary.latency.intent_to_fill.count == 5
    assert summary.slippage.overall.count == 5
    done = check(tmp_path, "filtered")
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(x for x in done.stdout.splitlines() if "fills_without_orders" in x)
    assert line.startswith("INFO") and "orders are not logged" in line
    assert "status: OK" in done.stdout


def _line(n: int, kind: str, **payload) -> str:
    event = {"ts": f"2025-01-01T00:00:{n:02d}+00:00", "session_id": "s", "symbol": "X"}
    return json.dumps({**event, "mode": "paper", "kind": kind, "payload": payload})


def test_a_missing_order_still_warns_when_orders_are_logged(tmp_path):
    """Orders in the log, but one fill names an order that is not there: a warning."""
    lines = [
        _line(1, "intent", intent_id="i1", side="buy", current_price=100),
        _line(2, "order", intent_id="i1", client_id="c1", quantity=1),
        _line(3, "fill", intent_id="i1", client_id="c1", filled_quantity=1, fill_price=100),
        _line(4, "intent", intent_id="i2", side="buy", current_price=100),
        _line(5, "fill", intent_id="i2", client_id="c2", filled_quantity=1, fill_price=100),
    ]
    (tmp_path / "s.jsonl").write_text("\n".join(lines) + "\n")
    findings = evaluate(summarize(tmp_path, EventFilter.build(session_id="s")))
    finding = next(f for f in findings if f.check == "fills_without_orders")
    assert finding.severity == WARNING and "1 fills without an order" in finding.message
    done = check(tmp_path, "s")
    assert done.returncode == 1 and "WARNING  fills_without_orders" in done.stdout


def test_info_counts_as_ok():
    """An info finding never raises the status above ok."""
    from src.query.checks import Finding

    assert worst([Finding("a", INFO, "x"), Finding("b", OK, "y")]) == OK
    assert worst([Finding("a", INFO, "x"), Finding("b", WARNING, "y")]) == WARNING
