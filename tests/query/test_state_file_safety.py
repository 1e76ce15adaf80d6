"""A saved state's file, safely: every read opens it alike (a FIFO never blocks, a file too
big to be a state is not read into memory, a symbolic link is not followed), and each state
has its own lock (a save of one never holds back saves of others)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from src.query import state_file
from src.query.engine import summarize
from src.query.filters import EventFilter

ROOT = Path(__file__).resolve().parents[2]


def _state_dir(tmp_path: Path) -> Path:
    d = tmp_path / state_file.STATE_DIR
    d.mkdir()
    return d


def test_reading_a_fifo_named_like_a_state_does_not_block(tmp_path):
    d = _state_dir(tmp_path)
    os.mkfifo(d / "x.state")
    code = (
        "import os, sys\n"
        "from src.query.state_file import read_at\n"
        "d = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)\n"
        "print(read_at(d, 'x.state'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(d)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout == "None\n", done.stderr


def test_a_file_too_big_to_be_a_state_or_a_link_is_not_read(tmp_path):
    d = _state_dir(tmp_path)
    big = d / "big.state"
    with big.open("wb") as fh:  # sparse: no disk used
        fh.truncate(state_file.MAX_STATE_BYTES + (64 << 20) + 1)
    target = tmp_path / "elsewhere.state"
    target.write_bytes(b"outside the root's state directory")
    (d / "link.state").symlink_to(target)
    (d / "small.state").write_bytes(b"read whole")
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert state_file.read_at(fd, "big.state") is None
        assert state_file.read_at(fd, "link.state") is None
        assert state_file.read_at(fd, "small.state") == b"read whole"
    finally:
        os.close(fd)


def test_a_save_under_way_holds_back_only_saves_of_the_same_state(tmp_path):
    """Another process holding one state's lock (saving it) does not stop saves of other
    sessions' states; a save of that same state is skipped until it lets go."""
    from tests.query.test_summary_state import lines

    (tmp_path / "a.jsonl").write_bytes(lines(100).replace(b'"s"', b'"a"'))
    (tmp_path / "s.jsonl").write_bytes(lines(400))
    summarize(tmp_path, EventFilter.build(session_id="a"))
    states = {p for p in os.listdir(tmp_path / state_file.STATE_DIR) if p.endswith(".state")}
    (state_a,) = states
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(tmp_path / state_file.STATE_DIR), state_a],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        summarize(tmp_path, EventFilter.build(session_id="s"))
        after = {p for p in os.listdir(tmp_path / state_file.STATE_DIR) if p.endswith(".state")}
        assert len(after - states) == 1  # session s saved while a's save is under way
        assert not state_file.write_state(tmp_path, state_a, b"not now")
    finally:
        holder.communicate("", timeout=60)
    assert state_file.write_state(tmp_path, state_a, b"now")
    assert (tmp_path / state_file.STATE_DIR / state_a).read_bytes() == b"now"


def test_two_threads_saving_one_state_exclude_each_other(tmp_path):
    d = state_file.open_dir(tmp_path, create=True)
    assert d is not None
    try:
        with (
            state_file.state_lock(d, "x.state") as first,
            state_file.state_lock(d, "x.state") as second,
            state_file.state_lock(d, "y.state") as other,
        ):
            assert first and not second and other
        with state_file.state_lock(d, "x.state") as again:
            assert again
    finally:
        os.close(d)


_HOLD = """
import os, sys
from src.query.state_file import state_lock
d = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
with state_lock(d, sys.argv[2]) as held:
    print("held" if held else "busy", flush=True)
    sys.stdin.read()
"""
