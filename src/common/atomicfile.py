"""Atomic small-file replacement: temp file, fsync, rename, directory fsync.

A reader sees the old content or the new, never a half-written file, and a crash leaves at
most a stray ``.<name>.<pid>.tmp`` next to the target (removed on the next failure-free
write by the same process id, or by whoever owns the directory).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from src.common.fdio import write_all

__all__ = ["open_regular", "read_regular", "temp_sibling", "write_atomic", "write_atomic_at"]


def open_regular(path: str | os.PathLike[str]) -> int | None:
    """A read-only descriptor of ``path`` when it is a regular file (None: missing, another
    kind of file, a symbolic link, unreadable). Opened without blocking: a FIFO put there
    never hangs the reader."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def read_regular(path: str | os.PathLike[str], *, limit: int) -> bytes | None:
    """The content of ``path`` when it is a regular file of at most ``limit`` bytes (None:
    missing, another kind of file, a symbolic link, bigger, unreadable). Opened without
    blocking (:func:`open_regular`) and read to ``limit`` at most."""
    fd = open_regular(path)
    if fd is None:
        return None
    try:
        if os.fstat(fd).st_size > limit:
            return None
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, limit + 1 - size):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                return None  # grew meanwhile
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def temp_sibling(path: str | os.PathLike[str]) -> Path:
    """The hidden temporary name a file is written under before it is moved into place:
    ``.<name>.<pid>.tmp`` in the same directory (so the move is a rename)."""
    target = Path(path)
    return target.with_name(f".{target.name}.{os.getpid()}.tmp")


def write_atomic(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` atomically; the temp file is removed on failure."""
    target = Path(path)
    tmp = temp_sibling(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = os.open(tmp, flags, mode)
    try:
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(target.parent)


def write_atomic_at(
    dir_fd: int, name: str, data: bytes, *, mode: int = 0o644, durable: bool = True
) -> None:
    """:func:`write_atomic` of ``name`` in the open directory ``dir_fd``: the directory
    cannot be swapped for another (or a symbolic link) between the write and the rename.
    ``durable=False`` skips both fsyncs (a cache whose readers check what they read: after
    a crash the file may be old or damaged, never a mix of two writes seen as valid)."""
    tmp = f".{name}.{os.getpid()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = os.open(tmp, flags, mode, dir_fd=dir_fd)
    try:
        try:
            write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except OSError:
            pass
        raise
    if durable:
        try:
            os.fsync(dir_fd)
        except OSError:
            pass


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
