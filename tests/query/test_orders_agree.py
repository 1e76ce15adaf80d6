"""The order blotter and the summary judge an order's life by one rule
(:mod:`src.query.lifecycle`): on every lifecycle fixture and on a real paper session of the
demo pipeline, the blotter's statuses count what the summary's order outcomes count, and
its working orders are the summary's open orders, at the same stage. (One difference by
design: a fill whose order was never logged is a row of the blotter, and a "fill without an
order" in the summary.)"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from src.demo.paper_session import main as demo_main
from src.execution.telemetry import JsonlExecutionLogger
from src.query.engine import summarize
from src.query.filters import EventFilter
from src.query.orders import OrderQuery, query_orders
from tests.execution import lifecycle_scenario
from tests.query import lifecycle_session, orders_sessions

REPO_ROOT = Path(__file__).resolve().parents[2]


def _lifecycle_session(base: Path) -> str:
    lifecycle_session.write(base)
    return lifecycle_session.SESSION


def _orders_session(base: Path) -> str:
    orders_sessions.write_session(base)
    return orders_sessions.SESSION


def _pipeline_scenario(base: Path) -> str:
    with JsonlExecutionLogger(base, fsync="none") as logger:
        lifecycle_scenario.run_every_path(logger)
    return lifecycle_scenario.SESSION


def _paper_demo(base: Path) -> str:
    """A real paper session: the demo's pipeline, strategy and venue (what ``make demo``
    runs), on its own clock."""
    argv = ["--config", str(REPO_ROOT / "config" / "execution.toml"), "--base-path", str(base)]
    assert demo_main([*argv, "--ticks", "400", "--interval", "0", "--session", "demo"]) == 0
    return "demo"


def _last_ts(base: Path) -> float:
    last = 0.0
    for line in (x for f in base.rglob("*.jsonl") for x in f.read_text().splitlines()):
        try:
            last = max(last, datetime.fromisoformat(json.loads(line)["ts"]).timestamp())
        except (ValueError, KeyError, TypeError):
            continue  # the fixtures' damaged lines
    return last


@pytest.mark.parametrize(
    "make", [_lifecycle_session, _orders_session, _pipeline_scenario, _paper_demo]
)
def test_the_blotter_and_the_summary_agree(tmp_path, make, monkeypatch, capsys):
    monkeypatch.delenv("EXECUTION_LOG_BASE_PATH", raising=False)
    base = tmp_path / "logs"
    base.mkdir()
    session = make(base)
    capsys.readouterr()
    now = _last_ts(base) + 1.0
    summary = summarize(base, EventFilter.build(session_id=session), as_of=now, workers=1)
    page = query_orders(base, session, OrderQuery.build(limit=500), now=now)
    assert sum(summary.orders.by_status.values()) > 3  # the session has orders to judge
    # A fill whose order was not logged is a row of the blotter (filled, its order unseen)
    # and, in the summary, a fill without an order rather than an order outcome.
    expected = dict(summary.orders.by_status)
    expected["filled"] += summary.fills.fills_without_orders
    assert page.counts == expected
    assert summary.orders.unmatched == 0
    rows = [r for r in page.orders if r.status == "open"]
    assert sorted((r.client_id, r.stage) for r in rows) == sorted(
        (o.client_id, o.stage) for o in summary.fills.open_orders
    )
