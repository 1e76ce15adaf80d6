"""Tests for the demo paper-trading session (``python -m src.demo.paper_session``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from src.demo.paper_session import DEMO_VENUE, build_pipeline, main, run_session
from src.demo.strategy import SessionClock
from src.execution.config import load_config
from src.execution.events import ExecutionEvent
from src.execution.schema import KINDS, TERMINAL_KINDS
from src.execution.telemetry.testing import InMemoryEmitter

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = REPO_ROOT / "config" / "execution.toml"


@pytest.fixture(autouse=True)
def no_execution_env(monkeypatch):
    """Keep a developer's EXECUTION_* variables from changing what the demo does."""
    for name in [n for n in os.environ if n.startswith("EXECUTION_")]:
        monkeypatch.delenv(name)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run_demo(tmp_path: Path, session: str, *extra: str) -> int:
    return main(
        [
            "--config",
            str(SHIPPED_CONFIG),
            "--base-path",
            str(tmp_path),
            "--ticks",
            "200",
            "--interval",
            "0",
            "--session",
            session,
            *extra,
        ]
    )


def test_demo_writes_a_consistent_session_log(tmp_path, capsys):
    """A 200-tick run exits 0 and writes <base>/<session>.jsonl with linked intent..fill chains."""
    assert run_demo(tmp_path, "t1") == 0
    out = capsys.readouterr().out
    log_file = tmp_path / "t1.jsonl"
    assert str(log_file) in out
    assert "done in" in out
    assert "0 errors, 0 dropped, 0 pipeline telemetry errors" in out

    events = read_jsonl(log_file)
    kinds = Counter(e["kind"] for e in events)
    # With seed 7 the paper executor never fails, so there are no error events.
    assert set(kinds) == set(KINDS) - {"error"}
    assert kinds["gate"] >= kinds["intent"]
    assert {e["session_id"] for e in events} == {"t1"}
    assert {e["mode"] for e in events} == {"paper"}
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert len({e["event_id"] for e in events}) == len(events)

    intent_ids = {e["payload"]["intent_id"] for e in events if e["kind"] == "intent"}
    orders = {e["payload"]["client_id"]: e["payload"] for e in events if e["kind"] == "order"}
    assert {o["intent_id"] for o in orders.values()} <= intent_ids
    for fill in (e["payload"] for e in events if e["kind"] == "fill"):
        assert orders[fill["client_id"]]["intent_id"] == fill["intent_id"]


def test_demo_exercises_blocking_gates(tmp_path, capsys):
    """The seeded strategy produces some blocked intents and some resting limit orders."""
    assert run_demo(tmp_path, "t2") == 0
    out = capsys.readouterr().out
    assert "blocked" in out and "filled" in out and "open" in out
    events = read_jsonl(tmp_path / "t2.jsonl")
    blocked = {
        e["payload"]["gate_name"]
        for e in events
        if e["kind"] == "gate" and e["payload"]["passed"] is False
    }
    assert blocked  # at least one gate said no
    assert blocked <= {"KillSwitch", "PriceSanity", "MaxNotional"}
    assert any(e["kind"] == "order" and e["payload"]["order_type"] == "limit" for e in events)


def test_demo_takes_every_path_of_an_orders_life(tmp_path, capsys):
    """Acks, fills in pieces, IOC remainders expiring, expire_after_s expiries, the
    strategy's cancels of resting limits, venue rejects for the price band and for cash,
    and DAY and IOC orders among the orders sent (1,000 ticks: the cash runs short by then)."""
    assert run_demo(tmp_path, "paths", "--ticks", "1000") == 0
    out = capsys.readouterr().out
    assert "cancelled" in out and "expired" in out and "rejected" in out
    events = read_jsonl(tmp_path / "paths.jsonl")
    reasons = Counter(
        e["payload"]["reason"].split(":")[0].split(" ")[0]
        for e in events
        if e["kind"] in ("cancel", "expire", "reject")
    )
    assert {"IOC", "expire_after_s", "strategy", "limit", "insufficient"} <= set(reasons)
    assert any("price band" in e["payload"]["reason"] for e in events if e["kind"] == "reject")
    forces = Counter(e["payload"]["time_in_force"] for e in events if e["kind"] == "order")
    assert set(forces) == {"GTC", "IOC", "DAY"}
    assert any(e["payload"]["expire_after_s"] for e in events if e["kind"] == "order")
    pieces = {e["payload"]["client_id"] for e in events if e["kind"] == "partial_fill"}
    fills = {e["payload"]["client_id"] for e in events if e["kind"] == "fill"}
    assert pieces & fills, "some orders fill in pieces, then completely"


def test_a_finished_demo_leaves_no_order_working(tmp_path, capsys):
    """When the session ends every order still working is cancelled ("session ended"), so
    every order has exactly one end (fill, cancel, expire or reject) and nothing is left
    for missing_fills to report; fills never outnumber orders."""
    assert run_demo(tmp_path, "ended") == 0
    assert "cancelled at end" in capsys.readouterr().out
    events = read_jsonl(tmp_path / "ended.jsonl")
    orders = [e["payload"]["client_id"] for e in events if e["kind"] == "order"]
    ends = Counter(e["payload"]["client_id"] for e in events if e["kind"] in TERMINAL_KINDS)
    assert set(ends) == set(orders) and set(ends.values()) == {1}
    assert any(e["payload"]["reason"] == "session ended" for e in events if e["kind"] == "cancel")
    kinds = Counter(e["kind"] for e in events)
    assert kinds["fill"] <= kinds["order"]


def test_a_stopped_demo_cancels_what_is_working():
    """Stopped early (Ctrl-C sets the stop event), the session still cancels its working
    orders on the way out."""
    stop = threading.Event()

    class StopAfterOrders(InMemoryEmitter):
        def emit(self, event: ExecutionEvent) -> None:
            super().emit(event)
            if event.kind == "order" and len(self.of_kind("order")) == 40:
                stop.set()

    clock = SessionClock(start=1_000_000.0)
    events = StopAfterOrders()
    config = load_config(str(SHIPPED_CONFIG), env={})
    pipeline = build_pipeline(config, events, venue=DEMO_VENUE, clock=clock)
    outcomes = run_session(
        pipeline, "stopped", ticks=10_000, interval=0, seed=7, stop=stop, clock=clock
    )
    assert pipeline.working_orders == []
    assert outcomes["cancelled at end"] >= 1
    orders = {e.payload["client_id"] for e in events if e.kind == "order"}
    ended = {e.payload["client_id"] for e in events if e.kind in TERMINAL_KINDS}
    assert len(orders) == 40 and ended == orders


def test_same_seed_gives_the_same_session(tmp_path, capsys):
    """Two runs with one seed produce the same kinds, sides and quantities in the same order,
    expiries and cancels included (the session runs on its own clock, not the machine's)."""

    def shape(session: str) -> list[tuple]:
        return [
            (
                e["kind"],
                e["symbol"],
                e["payload"].get("side"),
                e["payload"].get("quantity"),
                e["payload"].get("passed"),
                e["payload"].get("reason"),
                e["payload"].get("filled_quantity"),
            )
            for e in read_jsonl(tmp_path / f"{session}.jsonl")
        ]

    assert run_demo(tmp_path, "r1", "--seed", "3") == 0
    assert run_demo(tmp_path, "r2", "--seed", "3") == 0
    assert run_demo(tmp_path, "r3", "--seed", "4") == 0
    assert shape("r1") == shape("r2")
    assert shape("r1") != shape("r3")


@pytest.mark.parametrize("session", ["../escape", "a/b", ".hidden", "has space"])
def test_bad_session_id_exits_2_with_one_line_error(tmp_path, capsys, session):
    """An unsafe session id is refused before anything is written: exit 3, one line on stderr."""
    assert run_demo(tmp_path / "logs", session) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: invalid session_id ")
    assert repr(session) in lines[0]
    assert not (tmp_path / "logs").exists()
    assert not (tmp_path / "escape.jsonl").exists()


def test_missing_config_file_exits_2(tmp_path, capsys):
    """A --config that does not exist is a one-line error naming the file, exit 3."""
    missing = tmp_path / "nope.toml"
    code = main(
        [
            "--config",
            str(missing),
            "--base-path",
            str(tmp_path),
            "--ticks",
            "1",
            "--interval",
            "0",
            "--session",
            "x",
        ]
    )
    assert code == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert str(missing) in err


def test_negative_ticks_exit_2(tmp_path, capsys):
    """Negative --ticks is refused with exit 3 and an error line."""
    assert run_demo(tmp_path, "neg", "--ticks", "-1") == 3
    assert capsys.readouterr().err.startswith("error: ")


def test_module_runs_as_a_script(tmp_path):
    """``python -m src.demo.paper_session`` (what ``make demo`` runs) works in a real process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXECUTION_")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "src.demo.paper_session",
            "--base-path",
            str(tmp_path),
            "--ticks",
            "50",
            "--interval",
            "0",
            "--session",
            "sub1",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    log_file = tmp_path / "sub1.jsonl"
    assert f"writing telemetry to {log_file}" in proc.stdout
    kinds = {e["kind"] for e in read_jsonl(log_file)}
    assert {"intent", "gate", "order", "fill"} <= kinds
