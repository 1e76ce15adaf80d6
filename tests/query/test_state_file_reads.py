"""Every read of a saved state opens it alike: a FIFO never blocks, a file too big to be a
state is not read into memory, a symbolic link is not followed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from src.query import state_file

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
