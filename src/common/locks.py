"""``flock`` helpers: the writers' shared lock, the exclusive lock, and the lock probes.

Every session file a logger has open carries its shared lock; whoever wants to replace,
compress or delete a file first takes the exclusive lock without waiting, and a failure
means "a writer holds it". Two probes answer "is it held?": :func:`held_by_writer` (takes
and at once drops the exclusive lock; a writer that opens the file at that instant
carries on unlocked and re-validates) and :func:`held_files` (reads ``/proc/locks``, takes
no lock at all, so it never disturbs a writer; empty where that file does not exist).

The *write guard* is a second, independent lock on the same file (an ``fcntl`` lock owned
by the open file description, ``F_OFD_SETLK``; ``flock`` locks do not conflict with it). A
logger writing without its shared ``flock`` (retention held the file) holds the guard shared
across "is this still the session's file?" and the write; retention takes it exclusively
before it reads what was appended to a file it moved away, so a line is never written to a
retired file after that. Where the guard is unsupported both sides carry on without it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import struct
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = [
    "PROC_LOCKS",
    "FileId",
    "file_id",
    "held_by_writer",
    "held_files",
    "is_held",
    "lock_exclusive",
    "open_lock_file",
    "release_lock",
    "release_write_guard",
    "take_write_guard",
    "try_lock_exclusive",
    "try_lock_range",
    "try_lock_shared",
    "try_write_guard",
]

PROC_LOCKS = Path("/proc/locks")

FileId = tuple[int, int, int]  # (device major, device minor, inode)

_BUSY = (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
_F_OFD_SETLK = getattr(fcntl, "F_OFD_SETLK", None)  # Linux
_GUARD_POLL_S = 0.001


def try_lock_shared(fd: int) -> bool:
    """Take the shared lock without waiting; False when someone holds it exclusively."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def release_lock(fd: int) -> None:
    """Release the shared or exclusive lock taken through ``fd`` (the descriptor stays open);
    never raises: at the latest the lock goes with the descriptor."""
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError:
        pass


def try_lock_exclusive(fd: int, *, strict: bool = False) -> bool:
    """Take the exclusive lock without waiting; False when anyone holds a lock on the file.

    ``strict``: only "held by someone" answers False; any other error is raised.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if strict and exc.errno not in _BUSY:
            raise
        return False
    return True


def try_lock_range(fd: int, start: int) -> bool:
    """Take the exclusive lock of byte ``start`` of ``fd`` (open for writing) without
    waiting; False when another holds it. One file then carries a lock per key. The lock
    belongs to the open file description (``F_OFD_SETLK``: two threads each with their own
    descriptor exclude each other too) and goes when it is closed. Where such locks do not
    exist, the exclusive ``flock`` of the whole file stands in (one lock for every key)."""
    if _F_OFD_SETLK is None:
        return try_lock_exclusive(fd)
    request = struct.pack("=hh4xqqi4x", fcntl.F_WRLCK, os.SEEK_SET, start, 1, 0)
    try:
        fcntl.fcntl(fd, _F_OFD_SETLK, request)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def lock_exclusive(fd: int) -> Iterator[None]:
    """Hold the exclusive lock (waiting for it) for the block; closing ``fd`` releases it."""
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def open_lock_file(path: str | os.PathLike[str], *, nofollow: bool = False) -> int:
    """Open (creating it) a file that exists only to be locked; the caller closes it."""
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | (os.O_NOFOLLOW if nofollow else 0)
    return os.open(path, flags, 0o644)


def held_by_writer(path: str | os.PathLike[str]) -> bool:
    """True when a writer holds ``path`` (the exclusive probe fails); False when it cannot
    be opened. The probe's lock is released before returning."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        return not try_lock_exclusive(fd)
    finally:
        os.close(fd)  # releases the probe's lock


def held_files(proc_locks: Path = PROC_LOCKS) -> set[FileId]:
    """Every file some process holds an ``flock`` on right now (empty when unknown)."""
    try:
        text = proc_locks.read_text()
    except OSError:
        return set()
    found: set[FileId] = set()
    for line in text.splitlines():
        parts = line.split()
        # "1: FLOCK  ADVISORY  READ  1234 fd:01:5678 0 EOF"; blocked waiters start with "->".
        if len(parts) < 6 or parts[1] != "FLOCK":
            continue
        try:
            major, minor, inode = parts[5].split(":")
            found.add((int(major, 16), int(minor, 16), int(inode)))
        except ValueError:
            continue
    return found


def file_id(path: Path) -> FileId | None:
    """``(major, minor, inode)`` of ``path`` as ``/proc/locks`` names it (None: no file)."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)


def is_held(paths: Iterable[Path], held: set[FileId]) -> bool:
    """True when any of ``paths`` (a session's files) is in ``held``."""
    for path in paths:
        fid = file_id(path)
        if fid is not None and fid in held:
            return True
    return False


def _guard(fd: int, kind: int) -> bool:
    """Set the write guard (``kind``: F_RDLCK, F_WRLCK or F_UNLCK) on the whole file without
    waiting; False only when another descriptor holds a conflicting guard."""
    if _F_OFD_SETLK is None:
        return True
    # struct flock: l_type, l_whence, l_start, l_len (0: to the end, growing), l_pid (0 for OFD)
    request = struct.pack("=hh4xqqi4x", kind, os.SEEK_SET, 0, 0, 0)
    try:
        fcntl.fcntl(fd, _F_OFD_SETLK, request)
    except OSError as exc:
        return exc.errno not in _BUSY  # any other error: no guard here, carry on without
    return True


def try_write_guard(fd: int) -> bool:
    """A writer's shared write guard (``fd`` open for reading and writing); False while
    retention holds it exclusively. Release it with :func:`release_write_guard`."""
    return _guard(fd, fcntl.F_RDLCK)


def release_write_guard(fd: int) -> None:
    _guard(fd, fcntl.F_UNLCK)


def take_write_guard(fd: int, timeout: float) -> bool:
    """The exclusive write guard (``fd`` open for writing), waiting at most ``timeout``
    seconds for writers to finish the line they are writing; False when they did not."""
    deadline = time.monotonic() + timeout
    while not _guard(fd, fcntl.F_WRLCK):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_GUARD_POLL_S)
    return True
