"""An order's life as it lands in a real session log, read back by the real readers: the
bridge's timeline shows the new kinds, and the runbook's "count orders against fills" stays
right (a fill line per completely filled order, never more fills than orders)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from src.execution.schema import KINDS
from src.execution.telemetry import JsonlExecutionLogger
from src.live.execution_bridge import get_execution_timeline
from tests.execution.lifecycle_scenario import SESSION, run_every_path

LIFECYCLE_KINDS = {"ack", "partial_fill", "cancel", "expire", "reject"}


def write_session(base: Path) -> dict[str, str]:
    with JsonlExecutionLogger(base, fsync="none") as logger:
        return run_every_path(logger)


def test_the_bridge_timeline_returns_the_lifecycle_kinds(tmp_path):
    """get_execution_timeline (the spec's bridge) gives rows of every new kind, each with a
    description and the payload that pairs it; filtering by one of them works."""
    outcomes = write_session(tmp_path)
    rows = get_execution_timeline(SESSION, limit=1_000, base_path=tmp_path)
    assert {row.kind for row in rows} == set(KINDS)
    for kind in sorted(LIFECYCLE_KINDS):
        only = get_execution_timeline(SESSION, limit=1_000, base_path=tmp_path, kind=kind)
        assert only and {row.kind for row in only} == {kind}
        assert all(row.description and row.details["client_id"] for row in only)
    cancelled = [
        r
        for r in rows
        if r.kind == "cancel" and r.details["client_id"] == outcomes["partly_cancelled"]
    ]
    assert cancelled[0].details["reason"] == "strategy changed its mind"


def test_the_runbooks_order_and_fill_counts_stay_right(tmp_path, repo_root):
    """The runbook's recipe, run as written (the CLI's --json, then counting lines with
    '"kind": "order"' and '"kind": "fill"'): with partial fills, cancels, expiries and
    rejects in the session, fills <= orders, and the fills are exactly one per completely
    filled order (a partial fill is never counted as a fill)."""
    outcomes = write_session(tmp_path)
    exported = subprocess.run(
        [
            sys.executable,
            "scripts/view_execution_telemetry.py",
            "--path",
            str(tmp_path),
            "--session",
            SESSION,
            "--json",
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    lines = exported.splitlines()
    orders = sum('"kind": "order"' in line for line in lines)
    fills = sum('"kind": "fill"' in line for line in lines)
    events = [json.loads(line) for line in lines]
    kinds = Counter(e["kind"] for e in events)
    assert kinds["partial_fill"] > 0 and kinds["cancel"] > 0 and kinds["reject"] > 0
    assert (orders, fills) == (kinds["order"], kinds["fill"])
    assert fills < orders

    fill_ids = Counter(e["payload"]["client_id"] for e in events if e["kind"] == "fill")
    assert max(fill_ids.values()) == 1, "one fill per order"
    completely_filled = {outcomes["filled"], outcomes["pieces"], outcomes["limit_filled"]}
    assert set(fill_ids) == completely_filled
    pieces = [e for e in events if e["kind"] == "partial_fill"]
    assert {p["payload"]["client_id"] for p in pieces} >= {
        outcomes["pieces"],
        outcomes["partly_cancelled"],
        outcomes["ioc_expired"],
    }
    ends = Counter(
        e["payload"]["client_id"]
        for e in events
        if e["kind"] in ("fill", "cancel", "expire", "reject")
    )
    order_ids = {e["payload"]["client_id"] for e in events if e["kind"] == "order"}
    assert set(ends) <= order_ids and max(ends.values()) == 1
    # Every order without a fill ended another way, failed, or is still working.
    unfilled = order_ids - set(fill_ids)
    assert unfilled == {
        outcomes[k]
        for k in (
            "partly_cancelled",
            "ioc_expired",
            "band_rejected",
            "size_rejected",
            "day_expired",
            "after_expired",
            "working",
            "balance_rejected",
            "cancel_failed",
            "working_too",
            "error",
        )
    }
