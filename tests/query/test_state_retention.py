"""Retention's hooks on saved states open the state directory once per call and always close it."""

from __future__ import annotations

import gzip
import os

import pytest

from src.query import state_retention, summary_state
from tests.query.test_summary_state import lines, read

REL = "2025-06-01/s.jsonl"


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture
def root(tmp_path):
    """A root with one log file, its compressed copy and a saved state covering it."""
    day = tmp_path / "2025-06-01"
    day.mkdir()
    (day / "s.jsonl").write_bytes(lines(40))
    read(tmp_path)
    (day / "s.jsonl.gz").write_bytes(gzip.compress((day / "s.jsonl").read_bytes()))
    assert len(state_retention.list_states(tmp_path)) == 1
    return tmp_path


def compress(base, rel: str = REL, *, plain_fd: int | None = None) -> int:
    plain = os.open(base / REL, os.O_RDONLY)
    gz = os.open(base / (REL + ".gz"), os.O_RDONLY)
    try:
        fd = plain if plain_fd is None else plain_fd
        return state_retention.file_compressed(base, rel, fd, rel + ".gz", gz)
    finally:
        os.close(plain)
        os.close(gz)


def test_every_hook_leaves_no_descriptor_open_whatever_it_finds(root, tmp_path_factory):
    """Found states, a name that is no log file's, a root without a state directory, and a
    failure in the middle (a bad plain descriptor): no descriptor stays open."""
    empty = tmp_path_factory.mktemp("empty")
    before = open_fds()
    assert state_retention.file_removed(root, "2025-06-01/notes.txt") == 0
    assert state_retention.file_removed(empty, REL) == 0
    assert compress(root, "2025-06-01/notes.txt") == 0
    assert state_retention.list_states(empty) == []
    assert state_retention.remove_state(empty, "0" * 24 + "-" + "0" * 24 + ".state") is False
    with pytest.raises(OSError):
        compress(root, plain_fd=-1)
    assert compress(root) == 1
    (name,) = [s.name for s in state_retention.list_states(root)]
    assert state_retention.file_removed(root, REL + ".gz") == 1
    assert state_retention.remove_state(root, name) is False
    assert open_fds() == before
    assert state_retention.list_states(root) == []
    assert summary_state.STATE_DIR in os.listdir(root)


def test_state_dir_closes_the_directory_however_the_block_ends(root, tmp_path_factory):
    """The one helper the four hooks open the state directory with: the directory (by path
    or through an open root descriptor) is closed after the block, also when it raises;
    no state directory gives None and creates none."""
    empty = tmp_path_factory.mktemp("empty")
    before = open_fds()
    with state_retention.state_dir(empty) as d:
        assert d is None
    assert summary_state.STATE_DIR not in os.listdir(empty)
    with pytest.raises(RuntimeError), state_retention.state_dir(root) as d:
        assert d is not None
        inside = d
        assert summary_state.STATE_DIR not in os.listdir(d)  # it is the state dir itself
        raise RuntimeError("boom")
    with pytest.raises(OSError):
        os.fstat(inside)
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with state_retention.state_dir(root_fd) as d:
            assert d is not None and d != root_fd
            assert [n for n in os.listdir(d) if n.endswith(".state")] == [
                s.name for s in state_retention.list_states(root)
            ]
        os.fstat(root_fd)  # the caller's root descriptor stays open
    finally:
        os.close(root_fd)
    assert open_fds() == before
