"""Retention and saved summary states, the hard cases: something that is not a state where
one is read (a FIFO never hangs the run), a torn last line (the plan and the apply keep the
state alike). Real files, real summaries, the real command in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

from src.query.engine import summarize
from src.query.filters import EventFilter
from src.query.state_file import LOCK_NAME, STATE_DIR, state_prefix
from tests.ops.conftest import event_lines

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "ops" / "telemetry_retention.py"


def _retention(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(root), "--compress-after-days", "3", *args],
        cwd=root.parent,  # no config file there: the defaults
        capture_output=True,
        text=True,
        timeout=120,  # a hang fails the test instead of blocking the suite
        env={k: v for k, v in os.environ.items() if not k.startswith("EXECUTION_")},
    )


def _read(root: Path, sid: str):
    """(summary, lines read) of a new summary."""
    seen = [0]

    def progress(done: int, total: int, lines: int) -> None:
        seen[0] = max(seen[0], lines)

    got = summarize(root, EventFilter.build(session_id=sid), as_of=0, progress=progress)
    return got, seen[0]


def _one_pass(root: Path, sid: str):
    return summarize(root, EventFilter.build(session_id=sid), as_of=0, saved_state=False)


def _states(root: Path) -> list[str]:
    return sorted(
        p.name for p in (root / STATE_DIR).iterdir() if p.is_file() and p.name != LOCK_NAME
    )


def test_a_fifo_named_like_a_state_or_the_run_record_never_hangs_retention(root, age):
    """FIFOs where a state of the session being compressed and retention's own record would
    be: the run finishes, the real state moves to the .gz and the FIFO is left alone."""
    path = root / "s.jsonl"
    path.write_bytes(event_lines("s", range(1, 40)))
    _read(root, "s")  # saves the state
    age(path, 10)
    (state,) = _states(root)
    fifo = root / STATE_DIR / f"{state_prefix('s')}-{'0' * 24}.state"
    os.mkfifo(fifo)
    os.mkfifo(root / ".retention-state.json")

    done = _retention(root, "--apply")
    assert done.returncode == 0, done.stderr
    assert "Applied: 0 deleted, 1 compressed, 0 skipped, 0 failed" in done.stdout
    assert fifo.exists() and _states(root) == [state]
    moved = (root / STATE_DIR / state).read_bytes()
    after, _ = _read(root, "s")
    assert after == _one_pass(root, "s")
    assert (root / STATE_DIR / state).read_bytes() == moved  # used as moved, not rebuilt
    assert json.loads((root / ".retention-state.json").read_text())["last_run_ok"]


def test_a_file_with_a_torn_last_line_keeps_its_state_when_compressed(root, age):
    """A state never holds a torn last line, so one that read the file to its last line
    end covers it whole: the plan keeps it, the apply moves it to the .gz, and the next
    summary reads nothing."""
    old = root / "2026-01-01" / "s.jsonl"
    old.parent.mkdir()
    old.write_bytes(event_lines("s", range(1, 40)) + b'{"kind": "fi')
    new = root / "2026-01-02" / "s.jsonl"
    new.parent.mkdir()
    new.write_bytes(event_lines("s", range(40, 50)))
    before, _ = _read(root, "s")
    age(old, 10)
    age(new, 1)
    (state,) = _states(root)

    dry = _retention(root, "--json")
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert [(a["file_kind"], a["phase"]) for a in plan["actions"]] == [("log", "compress")]

    done = _retention(root, "--apply", "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 0 and [a["status"] for a in report["actions"]] == ["done"]
    assert not old.exists() and old.with_name("s.jsonl.gz").exists()
    assert _states(root) == [state]
    moved = (root / STATE_DIR / state).read_bytes()
    after, _ = _read(root, "s")
    assert after == _one_pass(root, "s")
    assert (root / STATE_DIR / state).read_bytes() == moved  # used as moved, not rebuilt
    assert after.parse.invalid_lines == before.parse.invalid_lines == 1


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(done.stdout)


_SAVING = """
import os, sys
from src.query.state_file import state_lock
d = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
with state_lock(d, sys.argv[2]) as held:
    tmp = f".{sys.argv[2]}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=d)
    os.write(fd, b"y" * 3000)
    os.utime(tmp, (1, 1), dir_fd=d)  # old, yet being written: never removed
    print("held" if held else "busy", flush=True)
    sys.stdin.read()
"""


def test_temp_files_of_unfinished_saves_are_counted_and_removed_but_never_one_being_written(
    root, age
):
    """A save killed midway leaves ``.<state>.<pid>.tmp``: retention and the health check
    count it, retention removes it (its process gone, or old); a temp whose save still
    holds the state's lock stays, however old."""
    from src.common.units import human_bytes
    from src.ops.health.checks import HealthThresholds, check_disk

    Usage = namedtuple("Usage", "total used free")

    path = root / "s.jsonl"
    path.write_bytes(event_lines("s", range(1, 30)))
    _read(root, "s")
    (state,) = _states(root)
    d = root / STATE_DIR
    dead = d / f".{state_prefix('s')}-{'2' * 24}.state.{_dead_pid()}.tmp"
    dead.write_bytes(b"x" * 5000)
    other = f"{state_prefix('gone')}-{'1' * 24}.state"  # any state's, even an orphan's
    old = d / f".{other}.{os.getpid()}.tmp"
    old.write_bytes(b"z" * 7000)
    os.utime(old, (1, 1))
    saving = subprocess.Popen(
        [sys.executable, "-c", _SAVING, str(d), state],
        cwd=Path(__file__).resolve().parents[3],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert saving.stdout is not None and saving.stdout.readline() == "held\n"
        (busy,) = [p for p in d.iterdir() if p.name.endswith(f".{saving.pid}.tmp")]
        temps = 5000 + 7000 + 3000
        every = sum(p.stat().st_size for p in d.iterdir())

        dry = _retention(root, "--json")
        assert dry.returncode == 0, dry.stderr
        plan = json.loads(dry.stdout)
        assert plan["summary_states"] == 1 and plan["summary_state_bytes"] == every
        assert plan["size_before_bytes"] == path.stat().st_size + every
        planned = {a["path"]: a for a in plan["actions"]}
        assert set(planned) == {f"{STATE_DIR}/{n}" for n in (dead.name, old.name, busy.name)}
        assert all(a["phase"] == "housekeeping" for a in planned.values())

        usage = lambda _p: Usage(100, 10, 90)  # noqa: E731
        found = check_disk(root, HealthThresholds(size_cap_mb=1), usage=usage)[1]
        without = human_bytes(path.stat().st_size + every - temps)
        assert human_bytes(path.stat().st_size + every) in found.message
        assert without not in found.message and "and 1 saved summary state " in found.message

        done = _retention(root, "--apply", "--json")
        report = json.loads(done.stdout)
        assert done.returncode == 0, done.stderr
        status = {a["path"]: a["status"] for a in report["actions"]}
        assert status[f"{STATE_DIR}/{busy.name}"] == "skipped"
        assert not dead.exists() and not old.exists() and busy.exists()
        assert _states(root) == sorted([state, busy.name])
    finally:
        saving.communicate("", timeout=60)
    again = _retention(root, "--apply", "--json")
    assert json.loads(again.stdout)["actions"][0]["status"] == "done"
    assert _states(root) == [state]


_HOLDING = """
import os, sys
from src.query.state_file import state_lock
d = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
with state_lock(d, sys.argv[2]) as held:
    print("held" if held else "busy", flush=True)
    sys.stdin.read()
"""


def test_retention_never_overwrites_a_state_being_saved(root, age):
    """Compressing a file whose state another process is saving right now (it holds the
    state's lock): retention removes the state instead of rewriting it under the saver;
    the next reader rebuilds it exactly."""
    path = root / "s.jsonl"
    path.write_bytes(event_lines("s", range(1, 40)))
    _read(root, "s")
    age(path, 10)
    (state,) = _states(root)
    saver = subprocess.Popen(
        [sys.executable, "-c", _HOLDING, str(root / STATE_DIR), state],
        cwd=Path(__file__).resolve().parents[3],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert saver.stdout is not None and saver.stdout.readline() == "held\n"
        done = _retention(root, "--apply")
        assert done.returncode == 0, done.stderr
        assert "1 compressed" in done.stdout and _states(root) == []
    finally:
        saver.communicate("", timeout=60)
    after, _ = _read(root, "s")
    assert after == _one_pass(root, "s") and _states(root) == [state]  # rebuilt, saved


def test_an_unfinished_save_of_the_dashboards_metrics_state_is_removed_too(root):
    """A dashboard killed while saving its /metrics state leaves
    ``.webui-metrics.state.<pid>.tmp``: retention counts and removes it like a session
    state's (never the state itself)."""
    from src.webui.metrics_state import STATE_NAME

    (root / "s.jsonl").write_bytes(event_lines("s", range(1, 30)))
    d = root / STATE_DIR
    d.mkdir(exist_ok=True)
    kept = d / STATE_NAME
    kept.write_bytes(b"k" * 100)
    dead = d / f".{STATE_NAME}.{_dead_pid()}.tmp"
    dead.write_bytes(b"x" * 5000)
    plan = json.loads(_retention(root, "--json").stdout)
    assert {a["path"] for a in plan["actions"]} == {f"{STATE_DIR}/{dead.name}"}
    done = _retention(root, "--apply", "--json")
    assert done.returncode == 0, done.stderr
    assert not dead.exists() and kept.read_bytes() == b"k" * 100
