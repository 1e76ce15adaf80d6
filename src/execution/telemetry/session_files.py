"""The descriptors of a JSONL logger's session files: opening, rotating, retiring, closing.

:class:`SessionFiles` is the table behind
:class:`~src.execution.telemetry.jsonl.JsonlExecutionLogger`: which descriptor each session's
lines go to. It opens a session's file (``O_APPEND``, never following a symlink) with the
writers' shared ``flock`` and the hand-off with retention described in the logger's module
docstring, starts a new day's files at midnight UTC with daily rotation, retires descriptors
(rotation, more sessions than ``max_open``, a file retention moved away) and lets go of them.

A descriptor number is never given back to the process while a thread may still write
through it. The logger's fast path writes without a lock, through a number it fetched a
moment earlier; had that number been closed meanwhile and handed out again for another file
(the kernel reuses the lowest free number at once), the line would land in that unrelated
file. So:

* a descriptor retired while the logger runs is closed only after ``RETIRE_GRACE_S``: a
  thread that fetched it just before still writes to the old file, which is harmless;
* :meth:`SessionFiles.close` lets go of every file at once (so its lock is released and
  retention may take it) but not of the numbers: ``dup2`` puts a read-only ``/dev/null`` in
  each descriptor's place, atomically. An emit racing close therefore either wrote to the
  session file (its write began before the swap) or gets ``EBADF`` from the stand-in, which
  the logger counts as dropped after close. The reserved numbers are closed only when the
  table is collected (with its logger: a thread inside ``emit`` holds the logger, so none can
  be about to write then) or by the process exit; a closed logger costs one idle descriptor
  per file it had open. Where the swap fails (``/dev/null`` cannot be opened because no
  descriptor is left, or ``RLIMIT_NOFILE`` was lowered below the number), the file itself is
  kept open under its number until then, which is still safe, but its shared lock is released
  all the same: retention must not see a writer in a closed logger.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from src.common.locks import (
    release_lock,
    release_write_guard,
    try_lock_shared,
    try_write_guard,
)
from src.execution.session_ids import validate_session_id

__all__ = [
    "OPEN_FLAGS",
    "OPEN_TRIES",
    "RETIRE_GRACE_S",
    "LoggerClosedError",
    "SessionFiles",
    "day_of",
    "names",
]

# Read and write: the write guard is a read lock, which needs a descriptor open for reading.
OPEN_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
# A descriptor taken out of use (rotation, too many open files) is closed only after this
# long, so a thread that fetched it a moment earlier can never write through a reused number.
RETIRE_GRACE_S = 5.0
# Opens of a session's file that found it retired between the open and the lock, before
# the logger keeps the last one (retention retires a file at most once per pass).
OPEN_TRIES = 8


class LoggerClosedError(OSError):
    """A session file was asked for after close: the event is to be dropped."""


def names(path: Path, fd: int) -> bool:
    """Whether ``path`` (not followed) refers to ``fd``'s file."""
    try:
        here = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)


def day_of(timestamp: float) -> str:
    """UTC calendar day (``YYYY-MM-DD``) of a POSIX timestamp."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
    fds.clear()


class SessionFiles:
    """Open descriptors by session id, under one lock (:attr:`lock`) that the logger shares.

    ``fds``, ``unlocked`` and ``lock`` are read by the logger directly (its fast path must not
    pay for a call); they are never rebound. ``forget`` is called, under the lock, whenever a
    descriptor leaves ``fds`` (the logger clears its fast-path map); ``on_error`` reports an
    fsync failure on retirement; ``on_open`` runs after each open, outside the lock. The
    callbacks should not hold the logger strongly (see the module docstring).
    """

    def __init__(
        self,
        base_path: Path,
        *,
        rotate_daily: bool,
        clock: Callable[[], float],
        max_open: int,
        sync_retired: bool,
        forget: Callable[[], None],
        on_error: Callable[[BaseException, str], None],
        on_open: Callable[[], None],
    ) -> None:
        self.base_path = base_path
        self.rotate_daily = rotate_daily
        self.clock = clock
        self.max_open = max_open
        self.sync_retired = sync_retired
        self.forget = forget
        self.on_error = on_error
        self.on_open = on_open
        self.lock = threading.Lock()
        self.fds: dict[str, int] = {}
        # Sessions whose file was opened while retention held it exclusively: re-checked
        # before each write until the shared lock is ours (see the logger's module docstring).
        self.unlocked: set[str] = set()
        self.lock_contention = 0
        self.closed = False
        self.day = ""
        self.next_rollover = float("-inf") if rotate_daily else float("inf")
        self._retired: list[tuple[float, int]] = []
        self._reserved: list[int] = []  # numbers kept after close; closed with the table
        weakref.finalize(self, _close_all, self._reserved).atexit = False

    # -- paths -------------------------------------------------------------------------
    def path_for(self, session_id: str, day: str | None = None) -> Path:
        """The file a session's events go to (``day`` only matters with daily rotation)."""
        validate_session_id(session_id)
        if self.rotate_daily:
            return self.base_path / (day or day_of(self.clock())) / f"{session_id}.jsonl"
        return self.base_path / f"{session_id}.jsonl"

    # -- opening ------------------------------------------------------------------------
    def open(self, session_id: str) -> int:
        """The session's descriptor, opening (and locking) its file if need be."""
        with self.lock:
            fd = self._open_locked(session_id)
        self.on_open()
        return fd

    def _open_locked(self, session_id: str) -> int:
        if self.closed:
            raise LoggerClosedError("the logger is closed")
        held = self.fds.get(session_id)
        if held is not None:
            return held
        path = self.path_for(session_id, self.day or None)
        path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(OPEN_TRIES):
            fd = os.open(path, OPEN_FLAGS, 0o644)
            # Shared: any number of writers; retention's exclusive probe fails while we hold it.
            if not try_lock_shared(fd):
                # Retention holds it exclusively. Never wait in the trading path: write, but
                # re-check the file is still the session's before every write (write_unlocked).
                self.lock_contention += 1
                self.unlocked.add(session_id)
                break
            # Locked; but retention may have locked, retired and let go of the file between
            # our open and our lock. Once we hold the lock it moves it no more, so the name
            # still referring to it now means it stays the session's file.
            try:
                named = names(path, fd)
            except OSError:
                named = True  # cannot tell: keep it, as before the check
            if named or attempt == OPEN_TRIES - 1:
                break  # (a name that keeps moving: bounded, never a spin in emit)
            os.close(fd)  # never written to, never shared: start a new file
        if len(self.fds) >= self.max_open:
            oldest = next(iter(self.fds))
            self.forget()
            self.retire(self.fds.pop(oldest))
            self.unlocked.discard(oldest)
        self.fds[session_id] = fd
        self.close_retired(force=False)
        return fd

    # -- writing while retention holds the file -----------------------------------------
    def write_unlocked(self, session_id: str, fd: int, line: bytes) -> tuple[int, int]:
        """Write ``line`` for a session whose shared lock we did not get; returns the
        descriptor written to and the bytes written."""
        while True:
            with self.lock:
                current = self.fds.get(session_id)
                if current is not None and session_id not in self.unlocked:
                    fd = current  # another thread already settled it
                else:
                    if current is not None:
                        fd = current
                        written = self._write_if_still_named(session_id, fd, line)
                        if written is not None:
                            return fd, written
                        # Retention moved the file away: carry on in a new file.
                        self.fds.pop(session_id, None)
                        self.forget()
                        self.retire(fd)
                    self.unlocked.discard(session_id)
                    fd = -1
            if fd < 0:
                fd = self.open(session_id)
                if session_id in self.unlocked:
                    continue  # the new file is contended too: check it the same way
            return fd, os.write(fd, line)

    def _write_if_still_named(self, session_id: str, fd: int, line: bytes) -> int | None:
        """Under the write guard: write ``line`` if the session name still refers to ``fd``'s
        file (None when it does not). Called with :attr:`lock` held."""
        locked = try_lock_shared(fd)
        if not try_write_guard(fd):
            return None  # retention holds it: only ever on a file it already moved away
        try:
            if not names(self.path_for(session_id, self.day or None), fd):
                return None
            if locked:
                self.unlocked.discard(session_id)
            return os.write(fd, line)
        finally:
            release_write_guard(fd)

    # -- rotating, retiring ---------------------------------------------------------------
    def roll_over(self) -> None:
        """Start the new UTC day's files (daily rotation): every open descriptor retires."""
        with self.lock:
            now = self.clock()
            if self.closed or now < self.next_rollover:
                return
            self.day = day_of(now)
            start = datetime.strptime(self.day, "%Y-%m-%d").replace(tzinfo=UTC)
            self.next_rollover = (start + timedelta(days=1)).timestamp()
            old = list(self.fds.values())
            self.fds.clear()
            self.forget()
            for fd in old:
                self.retire(fd)
            self.unlocked.clear()

    def retire(self, fd: int) -> None:
        """Take ``fd`` out of use; it is closed after the grace. Called with the lock held."""
        if self.sync_retired:
            try:
                os.fsync(fd)
            except OSError as exc:
                self.on_error(exc, "fsync on rotation")
        self._retired.append((time.monotonic() + RETIRE_GRACE_S, fd))

    def close_retired(self, *, force: bool) -> None:
        """Close the retired descriptors whose grace is over (all of them with ``force``)."""
        now = time.monotonic()
        keep: list[tuple[float, int]] = []
        for due, fd in self._retired:
            if force or now >= due:
                try:
                    os.close(fd)
                except OSError:
                    pass
            else:
                keep.append((due, fd))
        self._retired = keep

    # -- closing --------------------------------------------------------------------------
    def close(self, sync: Callable[[int], None] | None = None) -> None:
        """Let go of every file, first passing each open one to ``sync``, if given; the
        numbers stay reserved (module docstring). Later opens raise LoggerClosedError."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            fds = list(self.fds.values())
            self.fds.clear()
            self.forget()
            self.unlocked.clear()
            retired = [fd for _, fd in self._retired]
            self._retired = []
        try:
            if sync is not None:
                for fd in fds:
                    sync(fd)
        finally:  # (a strict logger's sync raises its error)
            self._reserve(fds + retired)

    def _reserve(self, fds: list[int]) -> None:
        """Put a read-only /dev/null in each descriptor's place: its file is let go of, its
        number stays taken, and a write through it fails with EBADF. Where that fails, the
        file stays under its number but its lock is released."""
        try:
            stand_in = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            stand_in = -1  # no descriptor to spare: keep the files themselves, unlocked
        try:
            for fd in fds:
                swapped = False
                if stand_in >= 0:
                    try:
                        os.dup2(stand_in, fd, inheritable=False)
                        swapped = True
                    except OSError:
                        pass  # (EBADF: the number is above a lowered RLIMIT_NOFILE)
                if not swapped:
                    release_lock(fd)  # retention must not see a writer in a closed logger
                self._reserved.append(fd)
        finally:
            if stand_in >= 0:
                os.close(stand_in)
