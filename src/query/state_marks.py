"""File marks: what a saved summary state records of each log file it covers, and the
checks that the file still holds it.

A mark names the file (relative to the log root), records the identity the follower uses
(device, inode), its size, how far it was read (always a line end) and hashes of its first
bytes and of the bytes just before that point. :func:`mark_holds` says whether a file
still holds what its mark covers (the newest file may have grown, older ones must not have
changed, and hold at most one torn line after the point read to); :func:`torn_lines` and
:func:`with_torn` account for torn last lines, which a state never contains.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import msgspec

from src.query.analytics.summary_model import Summary
from src.query.lines import (
    bytes_before,
    last_line_end,  # re-exported: the states' readers take it from here
)

__all__ = [
    "HASH_BYTES",
    "FollowedFile",
    "Mark",
    "hash_range",
    "last_line_end",
    "mark_holds",
    "mark_holds_fd",
    "mark_of",
    "mark_of_followed",
    "torn_lines",
    "with_torn",
]

HASH_BYTES = 4096


class Mark(msgspec.Struct, frozen=True, array_like=True):
    """One file a state covers, as it was when saved."""

    name: str  # relative to the log root, "/"-separated
    dev: int
    ino: int
    gz: bool
    offset: int  # plain: read up to here (a line end); gzip: its size (read whole)
    size: int  # the file's size when saved
    head: bytes  # hash of the first min(HASH_BYTES, offset) bytes
    guard: bytes  # hash of the HASH_BYTES bytes before offset
    torn: bool | None = None  # gzip: its last line has no newline (None: not known)


def hash_range(fd: int, start: int, end: int) -> bytes:
    """Hash of bytes ``start`` to ``end`` of ``fd`` (at most HASH_BYTES of them)."""
    data = os.pread(fd, end - start, start) if end > start else b""
    return hashlib.blake2b(data, digest_size=16).digest()


def mark_of(fd: int, name: str, *, offset: int, gz: bool, torn: bool | None = None) -> Mark:
    """The mark of open file ``fd`` read up to ``offset`` (gzip: whole)."""
    st = os.fstat(fd)
    if gz:
        offset = st.st_size
    head = hash_range(fd, 0, min(HASH_BYTES, offset))
    guard = hash_range(fd, max(0, offset - HASH_BYTES), offset)
    return Mark(name, st.st_dev, st.st_ino, gz, offset, st.st_size, head, guard, torn)


FollowedFile = tuple[Path, int, int, int, bool, bytes, int, bool]
"""A file as :meth:`~src.query.follow.SessionFollower.followed` gives it: path, device,
inode, offset read to, compressed, the bytes just before the offset, size seen, torn."""


def mark_of_followed(followed: FollowedFile, name: str) -> Mark | None:
    """The mark of a file a follower read, saved as ``name`` (None: the file was replaced
    or rewritten since it was read; the follower's next poll resets). A plain file is sized
    as read, not as it is now: lines appended since were not read, and must not be taken
    later for a torn last line."""
    path, dev, ino, offset, gz, guard, seen, torn = followed
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (dev, ino):
            return None
        if gz:
            if st.st_size != seen or guard != bytes_before(fd, seen, len(guard)):
                return None
            return mark_of(fd, name, offset=0, gz=True, torn=torn)
        seen = max(seen, offset)
        if st.st_size < seen or guard != bytes_before(fd, offset, len(guard)):
            return None
        return msgspec.structs.replace(mark_of(fd, name, offset=offset, gz=False), size=seen)
    except OSError:
        return None
    finally:
        os.close(fd)


def mark_holds(path: Path, mark: Mark, *, last: bool) -> bool:
    """``path`` still holds what ``mark`` covers (the newest file may have grown)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return mark_holds_fd(fd, mark, last=last)
    finally:
        os.close(fd)


def mark_holds_fd(fd: int, mark: Mark, *, last: bool) -> bool:
    """Open file ``fd`` holds what ``mark`` covers: for a reader about to go on from the mark
    through that descriptor (a name checked earlier may have been replaced since)."""
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (mark.dev, mark.ino) or not stat.S_ISREG(st.st_mode):
            return False
        if mark.gz or not last:
            if st.st_size != mark.size:
                return False
            if not mark.gz and last_line_end(fd, mark.size, floor=mark.offset) != mark.offset:
                return False  # not all read: what follows is more than one torn line
        elif st.st_size < mark.offset:
            return False
        end = mark.size if mark.gz else mark.offset
        return (
            hash_range(fd, 0, min(HASH_BYTES, end)) == mark.head
            and hash_range(fd, max(0, end - HASH_BYTES), end) == mark.guard
        )
    except OSError:
        return False


def torn_lines(marks: Sequence[Mark]) -> int | None:
    """Torn last lines of the files before the newest, as a one-pass read counts them
    (None: a compressed file's is not known)."""
    if any(m.gz and m.torn is None for m in marks):
        return None
    n = 0
    for mark in marks[:-1]:
        if mark.gz:
            n += bool(mark.torn)
        else:
            n += mark.size > mark.offset
    return n


def with_torn(summary: Summary, torn: int) -> Summary:
    """``summary`` with ``torn`` more torn lines counted (each also a line, invalid)."""
    if not torn:
        return summary
    p = summary.parse
    total, invalid = p.total_lines + torn, p.invalid_lines + torn
    parse = replace(
        p,
        total_lines=total,
        invalid_lines=invalid,
        torn_lines=p.torn_lines + torn,
        error_rate=invalid / total if total else 0.0,
    )
    return replace(summary, parse=parse)
