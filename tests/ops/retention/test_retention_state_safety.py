"""Retention and saved summary states, the hard cases: something that is not a state where
one is read (a FIFO never hangs the run), a torn last line (the plan and the apply keep the
state alike). Real files, real summaries, the real command in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from src.query.engine import summarize
from src.query.filters import EventFilter
from src.query.state_file import STATE_DIR, state_prefix
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
    return sorted(p.name for p in (root / STATE_DIR).iterdir() if p.is_file())


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
    after, read = _read(root, "s")
    assert read == 0 and after == _one_pass(root, "s")  # the state covers the .gz
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
    after, read = _read(root, "s")
    assert read == 0 and after == _one_pass(root, "s")
    assert after.parse.invalid_lines == before.parse.invalid_lines == 1
