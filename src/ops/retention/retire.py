"""Deleting and compressing one session file without losing an event or following a symlink.

Every operation works on directory descriptors opened with ``O_NOFOLLOW`` (the root, then
its ``YYYY-MM-DD`` directories) and on plain names inside them, so nothing outside the root
can be reached, even if a directory is swapped for a symlink mid-run.

A plain ``.jsonl`` file is *retired* in three steps:

1. open it, check it is still the file the plan saw (device, inode, size, mtime) and take
   ``LOCK_EX | LOCK_NB``; a writer holding its shared lock makes this fail: skipped;
2. (compress only) write ``.<name>.gz.retention-tmp`` = existing ``.gz`` + the file as a
   new member, fsync it, give it the newer of the two mtimes; if the file grew meanwhile
   (a writer that could not get its lock appended), give up and keep it;
3. rename the file to ``.<name>.retention-<size>-<action>`` (invisible to readers and
   writers: a logger opening the session now starts a new file, see ``jsonl.py``), then
   publish the temp file by renaming it over ``<name>.gz``.

Between the two renames (microseconds) readers see neither file; a crash exactly there
leaves the original whole under its hidden name, unseen by readers until the next
``--apply`` compresses it again.

The hidden file is removed later, by :func:`finalize`, which first appends to the session
file anything written to it after ``<size>`` (a writer's last in-flight line). It takes the
file's write guard (:mod:`src.common.locks`) before reading that tail: a logger that found
the file still under the session name just before the rename writes its line under the
guard, so the line is waited for and kept, never written to the file after its removal. The hidden
and temp names record what was happening, so a crash at any point is completed or undone by
:mod:`.recovery` and every event stays in exactly one whole file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from src.common.fdio import write_all
from src.common.locks import take_write_guard, try_lock_exclusive
from src.query import summary_state

from .gzfiles import gz_readable, write_temp_gz
from .inventory import LogFile
from .ownership import is_session_log_fd

__all__ = [
    "Retired",
    "RootDirs",
    "Skipped",
    "compress_file",
    "delete_file",
    "finalize",
    "hidden_name",
    "temp_name",
    "writers_out",
]

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
_GUARD_FLAGS = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
# How long removing a retired file waits for a logger to finish the line it is writing.
WRITER_WAIT_S = 10.0


def _checkpoint(stage: str) -> None:
    """A no-op between the steps of a retirement; tests replace it to simulate a crash."""


class Skipped(Exception):
    """The file must not be touched now (live, changed since planning, ...); says why."""


def hidden_name(name: str, size: int, action: str) -> str:
    return f".{name}.retention-{size}-{action}"


def temp_name(gz_name: str) -> str:
    return f".{gz_name}.retention-tmp"


class RootDirs:
    """Descriptors of the root and its day directories, opened without following symlinks."""

    def __init__(self, root: os.PathLike[str] | str) -> None:
        self.root_fd = os.open(root, _DIR_FLAGS)
        self._fds: dict[str, int] = {"": self.root_fd}
        self._lock = threading.Lock()
        self.touched: set[str] = set()

    def fd(self, directory: str) -> int:
        fd = self._fds.get(directory)
        if fd is None:
            if "/" in directory or directory in ("", ".", ".."):
                raise ValueError(f"not a day directory: {directory!r}")
            with self._lock:
                fd = self._fds.get(directory)
                if fd is None:
                    fd = os.open(directory, _DIR_FLAGS, dir_fd=self.root_fd)
                    self._fds[directory] = fd
        return fd

    @property
    def opened(self) -> list[str]:
        """Names of the directories opened so far ("" is the root)."""
        return sorted(self._fds)

    def sync(self) -> None:
        """fsync every directory changed so far (renames and unlinks made durable)."""
        for directory in sorted(self.touched):
            try:
                os.fsync(self.fd(directory))
            except OSError:
                pass
        self.touched.clear()

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __enter__(self) -> RootDirs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Retired:
    """A plain file moved to its hidden name, waiting for :func:`finalize`."""

    directory: str
    name: str
    hidden: str
    size: int


def _open_same(dirs: RootDirs, f: LogFile) -> int:
    try:
        fd = os.open(f.name, _READ_FLAGS, dir_fd=dirs.fd(f.directory))
    except FileNotFoundError:
        raise Skipped("gone since planning") from None
    except OSError as exc:
        raise Skipped(f"cannot be opened: {exc.strerror}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (f.dev, f.ino):
        os.close(fd)
        raise Skipped("replaced since planning")
    return fd


def _lock_unchanged(fd: int, f: LogFile) -> None:
    if not try_lock_exclusive(fd):
        raise Skipped("live: a writer holds its lock")
    st = os.fstat(fd)
    if st.st_size != f.size or st.st_mtime_ns != f.mtime_ns:
        raise Skipped("live: written to since planning")


def delete_file(dirs: RootDirs, f: LogFile) -> Retired | None:
    """Delete a session file; a plain one is retired (finalised later), a gzip one unlinked."""
    d = dirs.fd(f.directory)
    fd = _open_same(dirs, f)
    try:
        if f.gz:
            os.unlink(f.name, dir_fd=d)  # nobody appends to .gz files; identity checked above
            dirs.touched.add(f.directory)
            _states_removed(dirs, f)
            return None
        _lock_unchanged(fd, f)
        hidden = hidden_name(f.name, f.size, "delete")
        os.rename(f.name, hidden, src_dir_fd=d, dst_dir_fd=d)
        dirs.touched.add(f.directory)
        _checkpoint("delete-hidden")
        _states_removed(dirs, f)
        return Retired(f.directory, f.name, hidden, f.size)
    finally:
        os.close(fd)


def compress_file(dirs: RootDirs, f: LogFile) -> tuple[Retired, int, bool]:
    """Compress a plain session file into ``<name>.gz`` (merging); returns the retired
    original, the new ``.gz`` size and whether an existing ``.gz`` was merged."""
    d = dirs.fd(f.directory)
    gz_name = f.name + ".gz"
    tmp = temp_name(gz_name)
    fd = _open_same(dirs, f)
    existing: int | None = None
    try:
        _lock_unchanged(fd, f)
        mtime_ns = f.mtime_ns
        try:
            existing = os.open(gz_name, _READ_FLAGS, dir_fd=d)
        except FileNotFoundError:
            existing = None
        if existing is not None:
            st = os.fstat(existing)
            if not stat.S_ISREG(st.st_mode):
                raise Skipped(f"{gz_name} exists and is not a regular file")
            if not is_session_log_fd(existing, f.session_id, gz=True):
                raise Skipped(f"{gz_name} exists and is not this session's log; left as is")
            if not gz_readable(existing):
                raise Skipped(f"{gz_name} exists but is damaged; not merging into it")
            mtime_ns = max(mtime_ns, st.st_mtime_ns)
        try:  # a temp file here is from a run that failed before recovery could see it
            os.unlink(tmp, dir_fd=d)
        except FileNotFoundError:
            pass
        gz_size = write_temp_gz(
            d,
            tmp,
            src_fd=fd,
            size=f.size,
            member_name=f.name,
            existing_fd=existing,
            mtime_ns=mtime_ns,
        )
        _checkpoint("temp-written")
        try:
            if os.fstat(fd).st_size != f.size:
                raise Skipped("live: appended to during compression")
            hidden = hidden_name(f.name, f.size, "compress")
            os.rename(f.name, hidden, src_dir_fd=d, dst_dir_fd=d)
        except BaseException as exc:
            if isinstance(exc, Exception):
                _unlink_quiet(tmp, d)
            raise
        dirs.touched.add(f.directory)
        _checkpoint("original-hidden")
        try:
            os.rename(tmp, gz_name, src_dir_fd=d, dst_dir_fd=d)
        except Exception:
            _restore(d, hidden, f.name)
            _unlink_quiet(tmp, d)
            raise
        _checkpoint("published")
        _states_follow(dirs, f, fd, gz_name, merged=existing is not None)
        return Retired(f.directory, f.name, hidden, f.size), gz_size, existing is not None
    finally:
        os.close(fd)
        if existing is not None:
            os.close(existing)


def _rel(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def _states_removed(dirs: RootDirs, f: LogFile) -> None:
    """The saved summary states covering a deleted file go with it."""
    try:
        summary_state.file_removed(dirs.root_fd, _rel(f.directory, f.name))
    except OSError:
        pass  # a stale state is never used: its file is gone


def _states_follow(dirs: RootDirs, f: LogFile, fd: int, gz_name: str, *, merged: bool) -> None:
    """Saved summary states covering a compressed file now cover its ``.gz`` (merged into
    an existing ``.gz``: removed, the next reader rebuilds them)."""
    rel = _rel(f.directory, f.name)
    try:
        if merged:
            summary_state.file_removed(dirs.root_fd, rel)
            return
        gz_fd = os.open(gz_name, _READ_FLAGS, dir_fd=dirs.fd(f.directory))
        try:
            summary_state.file_compressed(dirs.root_fd, rel, fd, _rel(f.directory, gz_name), gz_fd)
        finally:
            os.close(gz_fd)
    except OSError:
        pass  # the state no longer matches the files and is rebuilt


def _restore(d: int, hidden: str, name: str) -> None:
    try:
        os.rename(hidden, name, src_dir_fd=d, dst_dir_fd=d)
    except OSError:
        pass


def _unlink_quiet(name: str, d: int) -> None:
    try:
        os.unlink(name, dir_fd=d)
    except OSError:
        pass


def finalize(dirs: RootDirs, retired: Retired, note: Callable[[str], None]) -> None:
    """Remove a retired file, first appending anything written after its recorded size to
    the session file (so a writer's last in-flight line is never lost)."""
    d = dirs.fd(retired.directory)
    with writers_out(d, retired.hidden):
        salvage_tail(d, retired.hidden, retired.name, retired.size, note, retired.directory)
        _checkpoint("salvaged")
        os.unlink(retired.hidden, dir_fd=d)
    dirs.touched.add(retired.directory)


@contextlib.contextmanager
def writers_out(d: int, hidden: str) -> Iterator[None]:
    """Hold the exclusive write guard of a retired file for the block: a logger writing its
    last line there has finished, and none starts another (TimeoutError if one is stuck)."""
    fd = os.open(hidden, _GUARD_FLAGS, dir_fd=d)
    try:
        if not take_write_guard(fd, 0):
            _checkpoint("writer-busy")
            if not take_write_guard(fd, WRITER_WAIT_S):
                raise TimeoutError(f"a writer is still writing to {hidden}")
        yield
    finally:
        os.close(fd)  # releases the guard


def salvage_tail(
    d: int, hidden: str, name: str, size: int, note: Callable[[str], None], directory: str = ""
) -> None:
    if os.stat(hidden, dir_fd=d, follow_symlinks=False).st_size <= size:
        return
    fd = os.open(hidden, _READ_FLAGS, dir_fd=d)
    try:
        end = os.fstat(fd).st_size
        tail = os.pread(fd, end - size, size)
    finally:
        os.close(fd)
    out = os.open(name, _APPEND_FLAGS, 0o644, dir_fd=d)
    try:
        write_all(out, tail)
        os.fsync(out)
    finally:
        os.close(out)
    rel = f"{directory}/{name}" if directory else name
    note(f"{len(tail)} bytes appended to {rel} after it was retired were kept in {rel}")
