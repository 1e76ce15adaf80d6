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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import msgspec

from src.common.atomicfile import write_atomic_at
from src.query.files import parse_file_name
from src.query.lines import last_line_end
from src.query.state_file import (
    SUFFIX,
    Header,
    header_at,
    marks_at,
    open_dir,
    pack,
    read_at,
    split,
    state_prefix,
    unlink_at,
)
from src.query.state_marks import mark_of

__all__ = ["StateInfo", "file_compressed", "file_removed", "list_states", "remove_state"]

_NAME = re.compile(r"([0-9a-f]{24})-[0-9a-f]{24}" + re.escape(SUFFIX))


@dataclass(frozen=True)
class StateInfo:
    """A state file as :func:`list_states` found it."""

    name: str  # in the state directory
    size: int
    mtime: float
    prefix: str  # its session's: state_prefix(session id)
    # the log files it covers (relative to the root) and how far each was read (a
    # compressed one: its size); None: the header is unreadable
    covers: dict[str, int] | None


def list_states(base: str | os.PathLike[str] | int) -> list[StateInfo]:
    """The state files under the root ``base`` (its path or an open descriptor), by name.
    Only regular files named like a state are listed; nothing is followed through a
    symbolic link; a header that cannot be read gives ``covers=None``."""
    found: list[StateInfo] = []
    with _state_dir(base) as d:
        if d is None:
            return []
        try:
            names = sorted(os.listdir(d))
        except OSError:
            return []
        for name in names:
            match = _NAME.fullmatch(name)
            if match is None:
                continue
            try:
                st = os.stat(name, dir_fd=d, follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            header = header_at(d, name)
            covers = None if header is None else {m.name: m.offset for m in header.marks}
            found.append(StateInfo(name, st.st_size, st.st_mtime, match.group(1), covers))
    return found


def remove_state(base: str | os.PathLike[str] | int, name: str) -> bool:
    """Delete state file ``name`` (False: it was not there, or is not a state's name)."""
    if _NAME.fullmatch(name) is None:
        return False
    with _state_dir(base) as d:
        return d is not None and bool(unlink_at(d, name))


def _states_of(d: int, session_id: str) -> list[str]:
    prefix = state_prefix(session_id) + "-"
    try:
        names = os.listdir(d)
    except OSError:
        return []
    return [n for n in names if n.startswith(prefix) and n.endswith(SUFFIX)]


def _session_of(rel_name: str) -> str | None:
    parsed = parse_file_name(rel_name.rsplit("/", 1)[-1])
    return parsed[0] if parsed else None


@contextmanager
def _state_dir(base: str | os.PathLike[str] | int) -> Iterator[int | None]:
    """The root's state directory, open for the block and closed after it (None: none)."""
    d = open_dir(base if isinstance(base, int) else Path(base), create=False)
    try:
        yield d
    finally:
        if d is not None:
            os.close(d)


@contextmanager
def _session_states(
    base: str | os.PathLike[str] | int, rel_name: str
) -> Iterator[tuple[int, list[str]] | None]:
    """The open state directory and the names of the states of the session that log file
    ``rel_name`` belongs to (None: not a log file's name, or no state directory)."""
    session_id = _session_of(rel_name)
    if session_id is None:
        yield None
        return
    with _state_dir(base) as d:
        yield None if d is None else (d, _states_of(d, session_id))


def file_removed(base: str | os.PathLike[str] | int, rel_name: str) -> int:
    """``rel_name`` (a log file, relative to the root ``base``: its path or an open
    descriptor) was deleted: remove every state covering it. Returns how many were."""
    removed = 0
    with _session_states(base, rel_name) as found:
        if found is None:
            return 0
        d, names = found
        for name in names:
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
    kept = 0
    with _session_states(base, rel_name) as found:
        if found is None:
            return 0
        d, names = found
        size = os.fstat(plain_fd).st_size
        end = last_line_end(plain_fd, size)
        for name in names:
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
            mark = header.marks[index]
            st = os.fstat(plain_fd)
            if (mark.dev, mark.ino) != (st.st_dev, st.st_ino) or mark.offset != end:
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
