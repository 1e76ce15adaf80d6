"""The sessions index: line counts and newest event per session, kept without re-reading.

Each session is followed by the query layer's one follower
(:class:`~src.query.follow.SessionFollower`), given the files the index just listed: after
the first load only appended lines are counted, a compressed file is decompressed once
(not on every load), and a reset (a file replaced, compressed, shrunk or rewritten in
place, gzip included) counts the session again from scratch. The newest event is looked
for among the last lines read, and else read backwards from the files' ends.

A session's state (:func:`session_state`): ``running`` while its files were written in the
last :data:`RUNNING_WITHIN_S`; ``idle`` when quiet but a logger still holds its file open
(the logger's lock, as the stall alert reads it) or when written in the last
:data:`IDLE_WITHIN_S` (writers without a lock); ``ended`` otherwise.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from src.common.locks import held_files, is_held
from src.query.files import SessionFiles, list_sessions, session_files
from src.query.follow import Reset, SessionFollower
from src.query.lines import ReadError, iter_lines_at, iter_lines_reversed_at
from src.query.records import decode_record

__all__ = ["IDLE_WITHIN_S", "RUNNING_WITHIN_S", "SESSION_STATES", "SessionIndex", "session_state"]

_TAIL_LINES = 64  # the newest lines of a load looked at for the newest event
RUNNING_WITHIN_S = 15.0
IDLE_WITHIN_S = 600.0
SESSION_STATES = ("running", "idle", "ended")


def state_of(s: SessionFiles, held: set[tuple[int, int, int]], now: float) -> str:
    """``running``, ``idle`` or ``ended`` (see the module docstring)."""
    quiet = now - s.mtime
    if quiet <= RUNNING_WITHIN_S:
        return "running"
    if quiet <= IDLE_WITHIN_S or is_held(s.files, held):
        return "idle"
    return "ended"


def session_state(base: Path, session_id: str) -> str:
    """The state of one session (``ended`` when it has no files)."""
    s = session_files(base, session_id)
    if s is None:
        return "ended"
    return state_of(s, held_files(), time.time())


@dataclass
class _Tracked:
    follower: SessionFollower
    lines: int = 0
    last_ts: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)  # one load at a time


class SessionIndex:
    """Lines and newest event per session, each session followed incrementally."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._sessions: dict[str, _Tracked] = {}
        self._lock = threading.Lock()
        self.gzip_reads = 0  # compressed files decompressed (each at most once per identity)

    def _update(self, s: SessionFiles) -> tuple[int, str | None]:
        with self._lock:
            tracked = self._sessions.get(s.session_id)
            if tracked is None:
                follower = SessionFollower(self.base, s.session_id)
                tracked = self._sessions[s.session_id] = _Tracked(follower)
        with tracked.lock:
            self._read(tracked, s)
            return tracked.lines, tracked.last_ts

    def _read(self, tracked: _Tracked, s: SessionFiles) -> None:
        follower = tracked.follower
        before = follower.decompressed
        tail: deque[tuple[Path, bytes]] = deque(maxlen=_TAIL_LINES)
        read = 0
        for item in follower.poll(listed=s):
            if isinstance(item, Reset):
                tracked.lines, tracked.last_ts = 0, None
            elif isinstance(item, tuple):
                read += 1
                tail.append((item[0], item[2]))
        tracked.lines += read
        self.gzip_reads += follower.decompressed - before
        newest = s.files[-1] if s.files else None
        if tracked.last_ts is not None and all(p != newest for p, _ in tail):
            return  # nothing new in the newest file (a late line on an older one)
        found = _newest_ts(line for _, line in reversed(tail))
        if found is None and read > len(tail):
            found = _newest_ts_back(s)  # the last lines read are all invalid: look further
        if found is not None:
            tracked.last_ts = found

    def describe(self) -> list[dict[str, Any]]:
        out = []
        seen: set[str] = set()
        held = held_files()
        now = time.time()
        for s in list_sessions(self.base):
            seen.add(s.session_id)
            lines, last = self._update(s)
            out.append(
                {
                    "session_id": s.session_id,
                    "lines": lines,
                    "files": len(s.files),
                    "size_bytes": s.size_bytes,
                    "modified": datetime.fromtimestamp(s.mtime, UTC).isoformat(),
                    "last_event": last,
                    "state": state_of(s, held, now),
                }
            )
        with self._lock:  # forget sessions that are gone
            for sid in [sid for sid in self._sessions if sid not in seen]:
                del self._sessions[sid]
        return out


def _newest_ts_back(s: SessionFiles) -> str | None:
    """The ``ts`` of the session's newest valid event, reading its files from the end."""
    for path in reversed(s.files):
        if path.name.endswith(".gz"):
            last = None
            try:
                with closing(iter_lines_at(path)) as reader:
                    for _, line, complete in reader:
                        rec = decode_record(line) if complete else None
                        if rec is not None:
                            last = rec.data.get("ts")
            except ReadError:
                pass
        else:
            last = None
            with closing(iter_lines_reversed_at(path)) as reader:
                for _, line, complete in reader:
                    rec = decode_record(line) if complete else None
                    if rec is not None:
                        last = rec.data.get("ts")
                        break
        if isinstance(last, str):
            return last
    return None


def _newest_ts(newest_first: Iterable[bytes]) -> str | None:
    """The ``ts`` of the first valid event among ``newest_first`` (lines, newest first)."""
    for line in newest_first:
        rec = decode_record(line)
        if rec is not None:
            ts = rec.data.get("ts")
            return ts if isinstance(ts, str) else None
    return None
