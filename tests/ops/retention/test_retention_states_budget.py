"""Saved summary states count against retention's size cap: a state goes with its session's
files, an orphan state (its session's files gone) is deleted, and the plan names them.
Real files, real summaries writing real states, the real command in a subprocess."""

from __future__ import annotations

import gzip
import json
import math
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from src.execution.events import ExecutionEvent
from src.execution.serialization import encode_event_line
from src.query.engine import summarize
from src.query.filters import EventFilter
from src.query.state_file import LOCK_NAME, STATE_DIR

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "ops" / "telemetry_retention.py"
MB = 2**20


def _orders_and_fills(session_id: str, orders: int) -> bytes:
    """Orders each filled a quarter second later: every order leaves ids and latency and
    slippage samples in the saved state (about 10% of the log's bytes)."""
    out = []
    for i in range(1, orders + 1):
        t = 1_766_000_000 + i
        for kind, dt, payload in (
            ("order", 0.0, {"client_id": f"o{i}", "side": "buy", "quantity": 1.0}),
            ("fill", 0.25, {"client_id": f"o{i}", "filled_quantity": 1.0, "fill_price": 100.0}),
        ):
            event = ExecutionEvent(
                ts=datetime.fromtimestamp(t + dt, UTC),
                session_id=session_id,
                symbol="BTC-USD",
                mode="paper",
                kind=kind,
                payload=payload,
                seq=2 * i + (kind == "fill"),
            )
            out.append(encode_event_line(event))
    return b"".join(out)


def _session(root: Path, age, session_id: str, days: float, orders: int = 3000) -> Path:
    path = root / f"{session_id}.jsonl"
    path.write_bytes(_orders_and_fills(session_id, orders))
    summarize(root, EventFilter.build(session_id=session_id), as_of=0)  # saves its state
    age(path, days)
    return path


def _states(root: Path) -> dict[str, int]:
    d = root / STATE_DIR
    if not d.is_dir():
        return {}
    return {p.name: p.stat().st_size for p in d.iterdir() if p.name != LOCK_NAME}


def _budgeted(root: Path) -> int:
    """What the cap is about: the session logs and the saved states."""
    return sum(p.stat().st_size for p in root.glob("*.jsonl*")) + sum(_states(root).values())


def _retention(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(root), *args],
        cwd=root.parent,  # no config file there: the defaults
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("EXECUTION_")},
    )


def test_the_size_cap_holds_with_the_saved_states_counted(root, age):
    """The logs alone fit the cap, logs and states do not: states are caches and logs are
    not, so the oldest sessions' states go (rebuilt when next read) and every log stays;
    the dry run names the states."""
    paths = [_session(root, age, f"s{i}", days=9 - i) for i in range(8)]  # s0 oldest
    logs = sum(p.stat().st_size for p in paths)
    states_before = _states(root)
    assert len(states_before) == 8
    cap_mb = math.ceil(logs / MB)
    assert logs <= cap_mb * MB < logs + sum(states_before.values())  # the case in point
    flags = ("--max-total-mb", str(cap_mb), "--keep-last-n", "0", "--compress-after-days", "0")

    dry = _retention(root, *flags, "--json")
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert plan["summary_states"] == 8
    assert plan["summary_state_bytes"] == sum(states_before.values())
    assert plan["size_before_bytes"] == _budgeted(root)
    assert [a for a in plan["actions"] if a["file_kind"] == "log"] == []
    gone = [a for a in plan["actions"] if a["file_kind"] == "summary_state"]
    n = len(gone)
    assert 0 < n < 8
    assert sorted(a["session_id"] for a in gone) == [f"s{i}" for i in range(n)]  # oldest
    assert all(a["path"].startswith(f"{STATE_DIR}/") and a["phase"] == "size" for a in gone)
    assert plan["estimated_size_after_bytes"] <= cap_mb * MB
    text = _retention(root, *flags).stdout
    assert "States:   8 saved summary states in .summary/" in text
    assert f"delete    {gone[0]['path']}" in text
    assert _states(root) == states_before  # a dry run changes nothing

    applied = _retention(root, *flags, "--apply", "--json")
    assert applied.returncode == 0, applied.stderr
    report = json.loads(applied.stdout)
    assert _budgeted(root) <= cap_mb * MB
    assert report["size_after_bytes"] == _budgeted(root) and report["size_cap_met"]
    assert {p.stem for p in root.glob("*.jsonl")} == {f"s{i}" for i in range(8)}
    assert len(_states(root)) == 8 - n
    assert {a["path"] for a in report["actions"]} == {a["path"] for a in plan["actions"]}
    assert all(a["status"] == "done" for a in report["actions"])
    read: dict[str, list[int]] = {}
    for i in range(8):  # kept states still answer; a dropped one is rebuilt from its log
        sid = f"s{i}"
        summary = summarize(
            root,
            EventFilter.build(session_id=sid),
            as_of=0,
            progress=lambda _d, _t, lines, sid=sid: read.setdefault(sid, []).append(lines),
        )
        assert summary.kind_counts == {"order": 3000, "fill": 3000}
    assert [sid for sid, lines in read.items() if any(lines)] == [f"s{i}" for i in range(n)]


def test_when_the_logs_alone_exceed_the_cap_every_state_goes_before_a_log(root, age):
    """States of sessions not being written go first; then the oldest sessions' logs."""
    paths = [_session(root, age, f"s{i}", days=9 - i) for i in range(6)]
    sizes = [p.stat().st_size for p in paths]
    cap_mb = math.ceil(sum(sizes[2:]) / MB)
    assert sum(sizes[1:]) > cap_mb * MB  # at least the oldest log must go
    flags = ("--max-total-mb", str(cap_mb), "--keep-last-n", "0", "--compress-after-days", "0")
    applied = _retention(root, *flags, "--apply", "--json")
    assert applied.returncode == 0, applied.stderr
    report = json.loads(applied.stdout)
    assert report["size_cap_met"] and _budgeted(root) <= cap_mb * MB
    assert _states(root) == {}
    left = sorted(p.stem for p in root.glob("*.jsonl"))
    assert left == [f"s{i}" for i in range(6 - len(left), 6)]  # the newest logs stayed
    assert len(left) >= 4


def test_an_orphan_state_is_deleted_and_other_files_are_left_alone(root, age, tmp_path):
    """A state whose session has no log left goes (housekeeping), even with no cap; the
    states of present sessions, other files in .summary and anything outside stay."""
    _session(root, age, "gone", days=2, orders=50)
    _session(root, age, "here", days=2, orders=50)
    (root / "gone.jsonl").unlink()
    (root / STATE_DIR / "notes.txt").write_text("not a state\n")
    before = _states(root)
    assert len(before) == 3

    dry = _retention(root, "--max-total-mb", "0")
    assert dry.returncode == 0, dry.stderr
    assert "counted in the size; 1 without a session log left" in dry.stdout
    assert "housekeeping: saved summary state of a session with no log file left" in dry.stdout
    assert _states(root) == before

    applied = _retention(root, "--max-total-mb", "0", "--apply", "--json")
    report = json.loads(applied.stdout)
    assert applied.returncode == 0 and report["actions"][0]["file_kind"] == "summary_state"
    assert report["actions"][0]["session_id"] is None and len(report["actions"]) == 1
    after = _states(root)
    assert "notes.txt" in after and len(after) == 2
    assert set(before) - set(after) == {report["actions"][0]["path"].split("/", 1)[1]}


def test_states_behind_a_symlinked_state_directory_are_neither_counted_nor_deleted(
    root, age, tmp_path
):
    """``.summary`` replaced by a symbolic link: retention does not look through it."""
    _session(root, age, "gone", days=2, orders=50)
    (root / "gone.jsonl").unlink()
    outside = tmp_path / "outside"
    (root / STATE_DIR).rename(outside)
    (root / STATE_DIR).symlink_to(outside)
    applied = _retention(root, "--apply", "--json")
    report = json.loads(applied.stdout)
    assert applied.returncode == 0 and report["summary_states"] == 0
    assert report["actions"] == [] and len(list(outside.glob("*.state"))) == 1


def test_a_state_goes_with_a_file_merged_into_its_sessions_gz(root, age):
    """Compressing a file into the session's existing .gz removes the states covering it:
    the plan says so (phase compress) and the apply does it."""
    old = root / "m.jsonl.gz"
    old.write_bytes(gzip.compress(_orders_and_fills("m", 20)))
    age(old, 20)
    _session(root, age, "m", days=10, orders=20)
    (state,) = _states(root)
    dry = json.loads(_retention(root, "--json").stdout)
    (action,) = [a for a in dry["actions"] if a["file_kind"] == "summary_state"]
    assert action["path"] == f"{STATE_DIR}/{state}" and action["phase"] == "compress"
    assert "compressed into its session's .gz" in action["reason"]
    applied = json.loads(_retention(root, "--apply", "--json").stdout)
    assert [a["status"] for a in applied["actions"]] == ["done", "done"]
    assert _states(root) == {} and applied["size_after_bytes"] == _budgeted(root)


def test_a_session_that_appears_during_the_inventory_keeps_its_new_state(root, age, monkeypatch):
    """States are listed before sessions: a session (and its state) that appears between
    the two is not taken for an orphan whose state is deleted."""
    from src.ops.retention import inventory
    from src.ops.retention.policy import RetentionPolicy
    from src.ops.retention.run import run_retention

    _session(root, age, "old", days=9)
    real = inventory.list_sessions

    def sessions_then_a_new_one(base):
        found = real(base)
        if not (root / "new.jsonl").exists():
            _session(root, age, "new", days=0)  # written (and summarised) just now
        return found

    monkeypatch.setattr(inventory, "list_sessions", sessions_then_a_new_one)
    run_retention(root, RetentionPolicy(keep_last_n=0, compress_after_days=30), apply=True)
    monkeypatch.undo()
    from src.query.state_file import state_prefix

    assert any(name.startswith(state_prefix("new")) for name in _states(root))
