"""Saved summary states follow their logs through retention.

Retention (:mod:`src.ops.retention`) calls :func:`file_removed` after it deletes a log file
(every state covering the file goes) and :func:`file_compressed` after it compresses one
(a state that covers the whole file now covers the ``.gz``, which stays valid). It counts
the states against its size cap with :func:`list_states` (each with its session's prefix
and the log files it covers, from the header alone) and deletes a state whose session is
gone with :func:`remove_state`.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import msgspec

from src.common.atomicfile import write_atomic_at
from src.query.files import parse_file_name
from src.query.state_file import (
    SUFFIX,
    Header,
    header_at,
    marks_at,
    open_dir,
    pack,
    read_at,
    split,
    state_lock,
    state_prefix,
    unlink_at,
)
from src.query.state_marks import Mark, last_line_end, mark_of

__all__ = [
    "STALE_TEMP_S",
    "StateInfo",
    "file_compressed",
    "file_removed",
    "kept_when_compressed",
    "list_states",
    "remove_state",
    "state_dir",
]

_NAME = re.compile(r"([0-9a-f]{24})-[0-9a-f]{24}" + re.escape(SUFFIX))
# A save's temporary file (src.common.atomicfile): ".<state name>.<pid>.tmp", for a session's
# state or another saved under the root (the dashboard's "webui-metrics.state").
_TEMP = re.compile(
    r"\.((?:([0-9a-f]{24})-[0-9a-f]{24}|[a-z][a-z0-9-]*)" + re.escape(SUFFIX) + r")\.([0-9]+)\.tmp"
)
STALE_TEMP_S = 600.0
"""A save's temporary file this old (or whose process is gone) is left from a save that
did not finish (killed, out of memory): retention removes it, under the state's lock."""


@dataclass(frozen=True)
class StateInfo:
    """A state file as :func:`list_states` found it."""

    name: str  # in the state directory
    size: int
    mtime: float
    prefix: str  # its session's: state_prefix(session id)
    # the log files it covers (relative to the root) with their marks (how far each was
    # read, the file's identity); None: the header is unreadable
    covers: dict[str, Mark] | None
    temp: bool = False  # a save's temporary file (``.<state>.<pid>.tmp``), not a state
    stale: bool = False  # a temp whose save did not finish (its process gone, or old)


def kept_when_compressed(mark: Mark, dev: int, ino: int, line_end: int) -> bool:
    """The one rule retention's plan and its apply share: a state covering a plain file
    that is compressed keeps it (the mark moves to the ``.gz``) when it read that very file
    (``dev``, ``ino``) to its last line end ``line_end`` (:func:`last_line_end`: a torn
    last line is in no state); any other state covering the file is removed."""
    return (mark.dev, mark.ino) == (dev, ino) and mark.offset == line_end


def list_states(base: str | os.PathLike[str] | int) -> list[StateInfo]:
    """The state files under the root ``base`` (its path or an open descriptor), by name.
    Only regular files named like a state are listed; nothing is followed through a
    symbolic link; a header that cannot be read gives ``covers=None``."""
    found: list[StateInfo] = []
    with state_dir(base) as d:
        if d is None:
            return []
        try:
            names = sorted(os.listdir(d))
        except OSError:
            return []
        for name in names:
            match = _NAME.fullmatch(name)
            temp = _TEMP.fullmatch(name) if match is None else None
            if match is None and temp is None:
                continue
            try:
                st = os.stat(name, dir_fd=d, follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            if match is None:
                assert temp is not None
                stale = _stale(int(temp.group(3)), st.st_mtime)
                found.append(
                    StateInfo(name, st.st_size, st.st_mtime, temp.group(2), None, True, stale)
                )
                continue
            header = header_at(d, name)
            covers = None if header is None else {m.name: m for m in header.marks}
            found.append(StateInfo(name, st.st_size, st.st_mtime, match.group(1), covers))
    return found


def remove_state(base: str | os.PathLike[str] | int, name: str) -> bool:
    """Delete state file ``name``, or a save's temporary file whose save did not finish
    (False: it was not there, is not a state's name, or a save is writing it)."""
    temp = _TEMP.fullmatch(name)
    if _NAME.fullmatch(name) is None and temp is None:
        return False
    with state_dir(base) as d:
        if d is None:
            return False
        if temp is None:
            return bool(unlink_at(d, name))
        with state_lock(d, temp.group(1)) as held:  # no save of that state under way
            try:
                st = os.stat(name, dir_fd=d, follow_symlinks=False)
            except OSError:
                return False
            if not held or not stat.S_ISREG(st.st_mode):
                return False
            if not _stale(int(temp.group(3)), st.st_mtime):
                return False
            return bool(unlink_at(d, name))


def _stale(pid: int, mtime: float) -> bool:
    """A temp left by a save that did not finish: its process is gone, or it is old."""
    if time.time() - mtime > STALE_TEMP_S:
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process (can be)
        return True
    except OSError:
        return False  # alive, another user's
    return False


def _states_of(d: int, session_id: str) -> list[str]:
    prefix = state_prefix(session_id) + "-"
    try:
        names = os.listdir(d)
    except OSError:
        return []
    return [n for n in names if n.startswith(prefix) and n.endswith(SUFFIX) and _regular(d, n)]


def _regular(d: int, name: str) -> bool:
    """A regular file (anything else named like a state is not ours: left alone)."""
    try:
        return stat.S_ISREG(os.stat(name, dir_fd=d, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _session_of(rel_name: str) -> str | None:
    parsed = parse_file_name(rel_name.rsplit("/", 1)[-1])
    return parsed[0] if parsed else None


@contextmanager
def state_dir(base: str | os.PathLike[str] | int) -> Iterator[int | None]:
    """The state directory of the root ``base`` (its path or an open descriptor), open
    for the block and closed after it, however the block ends (None: there is none, or it
    is not usable; it is never created here)."""
    d = open_dir(base if isinstance(base, int) else Path(base), create=False)
    try:
        yield d
    finally:
        if d is not None:
            os.close(d)


def file_removed(base: str | os.PathLike[str] | int, rel_name: str) -> int:
    """``rel_name`` (a log file, relative to the root ``base``: its path or an open
    descriptor) was deleted: remove every state covering it. Returns how many were."""
    session_id = _session_of(rel_name)
    if session_id is None:
        return 0
    removed = 0
    with state_dir(base) as d:
        if d is None:
            return 0
        for name in _states_of(d, session_id):
            marks = marks_at(d, name)
            if marks is None or any(m.name == rel_name for m in marks):
                removed += unlink_at(d, name)
    return removed


def file_compressed(
    base: str | os.PathLike[str] | int,
    rel_name: str,
    plain_fd: int,
    gz_rel_name: str,
    gz_fd: int,
) -> int:
    """``rel_name`` was compressed into ``gz_rel_name`` (both still open, the plain file as
    it was compressed): states that cover it to its last line move to the compressed file;
    those that covered less are removed (they would be rebuilt). Returns states kept."""
    session_id = _session_of(rel_name)
    if session_id is None:
        return 0
    kept = 0
    with state_dir(base) as d:
        if d is None:
            return 0
        size = os.fstat(plain_fd).st_size
        end = last_line_end(plain_fd, size)
        for name in _states_of(d, session_id):
            with state_lock(d, name) as held:  # the lock its savers take
                if not held:  # being saved right now: removed (rebuilt), never overwritten
                    unlink_at(d, name)
                    continue
                data = read_at(d, name)
                parts = split(data) if data is not None else None
                try:
                    header = msgspec.msgpack.decode(parts[0], type=Header) if parts else None
                except (msgspec.DecodeError, msgspec.ValidationError):
                    header = None
                if header is None or parts is None:
                    unlink_at(d, name)
                    continue
                index = next((i for i, m in enumerate(header.marks) if m.name == rel_name), None)
                if index is None:
                    continue
                st = os.fstat(plain_fd)
                if not kept_when_compressed(header.marks[index], st.st_dev, st.st_ino, end):
                    unlink_at(d, name)
                    continue
                marks = list(header.marks)
                marks[index] = mark_of(gz_fd, gz_rel_name, offset=0, gz=True, torn=size > end)
                head = pack(msgspec.structs.replace(header, marks=marks))
                try:
                    write_atomic_at(d, name, head + parts[1], durable=False)
                    kept += 1
                except OSError:
                    unlink_at(d, name)
    return kept
