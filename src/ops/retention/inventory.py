"""What is under a telemetry root: sessions and their files, each marked ours or not, live or not.

Discovery is the query layer's (:func:`src.query.files.list_sessions`: flat and daily
layouts, plain and gzip, valid session names only, symlinks never followed). On top of it
each file is opened once (without following symlinks) to record its identity, to check it is
this project's log (:mod:`.ownership`) and to decide whether a writer may still append to it:

* it lies in today's (or a future) ``YYYY-MM-DD`` directory (daily rotation, UTC);
* it was written within the policy's live grace period (or has an mtime in the future);
* a writer holds its shared lock: our ``LOCK_EX | LOCK_NB`` probe fails.

The saved summary states under ``.summary/`` are listed too (:mod:`.states`): the root's
size is the logs' and theirs.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from src.common.locks import try_lock_exclusive
from src.execution.telemetry.heartbeat import WRITERS_DIR
from src.query.files import list_sessions
from src.query.state_marks import last_line_end
from src.query.state_retention import list_states

from .ownership import is_session_log_fd
from .states import StateFile, scan_states

__all__ = ["Inventory", "LogFile", "Session", "scan", "utc_day"]

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK

# progress(done, total) between files
StepFn = Callable[[int, int], None]


def utc_day(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


@dataclass(frozen=True)
class LogFile:
    """One session file as found by the scan."""

    path: Path
    directory: str  # "" for the root itself, else the YYYY-MM-DD directory name
    name: str
    session_id: str
    gz: bool
    size: int
    mtime: float
    mtime_ns: int
    dev: int
    ino: int
    live: str | None  # why a writer may still append to it; None when it is closed
    line_end: int  # just after its last newline (a .gz: its size): what a state can cover

    @property
    def rel(self) -> str:
        return f"{self.directory}/{self.name}" if self.directory else self.name


@dataclass(frozen=True)
class Session:
    session_id: str
    files: tuple[LogFile, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def mtime(self) -> float:
        return max(f.mtime for f in self.files)

    @property
    def live(self) -> str | None:
        return next((f.live for f in self.files if f.live), None)


@dataclass(frozen=True)
class Heartbeat:
    name: str
    size: int
    mtime: float


@dataclass(frozen=True)
class Inventory:
    root: Path
    scanned_at: float
    sessions: tuple[Session, ...]  # oldest first: (newest mtime, session id)
    foreign: tuple[tuple[str, int, str], ...]  # (relative path, size, why) left alone
    heartbeats: tuple[Heartbeat, ...]
    states: tuple[StateFile, ...] = ()  # saved summary states, by name

    @property
    def size(self) -> int:
        """Bytes of the session logs and the saved summary states."""
        return self.log_size + self.state_size

    @property
    def log_size(self) -> int:
        return sum(s.size for s in self.sessions)

    @property
    def state_size(self) -> int:
        return sum(s.size for s in self.states)

    @property
    def files(self) -> int:
        return sum(len(s.files) for s in self.sessions)


def scan(
    root: Path,
    *,
    now: float,
    live_grace_s: float,
    probe_locks: bool = True,
    progress: StepFn | None = None,
) -> Inventory:
    """Inventory ``root`` (a path already checked by :func:`src.ops.root.validate_root`)."""
    today = utc_day(now)
    saved = list_states(root)  # before the sessions: see scan_states
    listed = list_sessions(root)
    total = sum(len(s.files) for s in listed)
    done = 0
    sessions: list[Session] = []
    foreign: list[tuple[str, int, str]] = []
    for found in listed:
        files: list[LogFile] = []
        for path in found.files:
            done += 1
            entry = _inspect(root, path, found.session_id, now, live_grace_s, today, probe_locks)
            if progress is not None and not done & 0xFF:
                progress(done, total)
            if entry is None:
                continue
            if isinstance(entry, tuple):
                foreign.append(entry)
            else:
                files.append(entry)
        if files:
            sessions.append(Session(found.session_id, tuple(files)))
    if progress is not None:
        progress(total, total)
    sessions.sort(key=lambda s: (s.mtime, s.session_id))
    foreign.sort()
    states = scan_states(root, (s.session_id for s in listed), saved)
    return Inventory(root, now, tuple(sessions), tuple(foreign), _heartbeats(root), states)


def _inspect(
    root: Path,
    path: Path,
    session_id: str,
    now: float,
    grace_s: float,
    today: str,
    probe_locks: bool,
) -> LogFile | tuple[str, int, str] | None:
    directory = "" if path.parent == root else path.parent.name
    rel = f"{directory}/{path.name}" if directory else path.name
    gz = path.name.endswith(".gz")
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ELOOP):
            return None  # vanished, or turned into a symlink: not ours to touch
        return (rel, 0, f"cannot be opened: {exc.strerror}")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        if not is_session_log_fd(fd, session_id, gz):
            return (rel, st.st_size, "not a session log of this project")
        live = _live_reason(fd, directory, st.st_mtime, now, grace_s, today, gz, probe_locks)
        line_end = st.st_size if gz else last_line_end(fd, st.st_size)
    finally:
        os.close(fd)
    return LogFile(
        path=path,
        directory=directory,
        name=path.name,
        session_id=session_id,
        gz=gz,
        size=st.st_size,
        mtime=st.st_mtime,
        mtime_ns=st.st_mtime_ns,
        dev=st.st_dev,
        ino=st.st_ino,
        live=live,
        line_end=line_end,
    )


def _live_reason(
    fd: int,
    directory: str,
    mtime: float,
    now: float,
    grace_s: float,
    today: str,
    gz: bool,
    probe_locks: bool,
) -> str | None:
    if directory and directory >= today:
        return "today's file (daily rotation)"
    if mtime > now:
        return "modified in the future (clock skew)"
    if now - mtime < grace_s:
        return f"written {int((now - mtime) // 60)} min ago"
    if gz or not probe_locks:
        return None
    if not try_lock_exclusive(fd):
        return "a writer holds its lock"
    return None  # closing the descriptor releases the probe's lock


def _heartbeats(root: Path) -> tuple[Heartbeat, ...]:
    directory = root / WRITERS_DIR
    if directory.is_symlink():
        return ()
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return ()
    found = []
    for entry in entries:
        if entry.name.endswith(".json") and not entry.name.startswith("."):
            try:
                if entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    found.append(Heartbeat(entry.name, st.st_size, st.st_mtime))
            except OSError:
                continue
    return tuple(sorted(found, key=lambda h: (h.mtime, h.name)))
