"""Is a session still running? Whether a logger on this machine holds its file open.

Every :class:`~src.execution.telemetry.jsonl.JsonlExecutionLogger` holds a shared ``flock``
on each file it has open and releases it on close (or when its process dies). The kernel
lists those locks in ``/proc/locks``; reading that list tells us which files are held
without taking a lock ourselves, so a writer is never disturbed (retention's exclusive probe
would make the logger re-validate its file on every write until it got its lock back).

Where ``/proc/locks`` does not exist (not Linux) nothing is known to be held, and the stall
rule's ``active = "recent"`` mode is the one to use.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["held_files", "is_held"]

PROC_LOCKS = Path("/proc/locks")

FileId = tuple[int, int, int]  # (device major, device minor, inode)


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
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)


def is_held(paths: Iterable[Path], held: set[FileId]) -> bool:
    """True when any of ``paths`` (a session's files) is held by a writer."""
    for path in paths:
        fid = file_id(path)
        if fid is not None and fid in held:
            return True
    return False
