"""Where the engine gets its sessions from: the JSONL logs (this module) or the Redis stream
(:mod:`src.alerts.stream`). Both answer ``views(as_of, session)``: the sessions in scope as
:class:`~src.alerts.tracker.SessionView`\\ s, and every session looked at.

A session is in scope while it is running (a logger holds its file open) or was active in
the last ``active_within_s`` seconds (its newest event, or the newest write to its files).
Sessions out of scope are not read at all (their trackers are dropped), and their alerts
resolve: a session that ended days ago does not page anyone.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol

from src.alerts.tracker import FileTracker, SessionView
from src.common.locks import held_files, is_held
from src.query.files import list_sessions, session_files

__all__ = ["FileSource", "Source", "describe_failure"]

log = logging.getLogger("src.alerts")


def describe_failure(exc: BaseException) -> str:
    """One line saying why a session could not be evaluated."""
    # Printable only: the message may quote log content, and it reaches a terminal.
    text = "".join(ch if ch.isprintable() else " " for ch in str(exc)[:400])
    text = " ".join(text.split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Source(Protocol):
    def views(self, as_of: float, session: str | None = None) -> tuple[list[SessionView], set[str]]:
        """Sessions in scope at ``as_of`` and the ids of every session looked at."""
        ...

    def close(self) -> None: ...


class FileSource:
    """Session logs under ``base``, each followed incrementally between evaluations.

    ``until`` (a review of the past, ``--as-of``): events after it are ignored, and neither
    file times nor locks (which describe now) are used.
    """

    def __init__(
        self,
        base: str | os.PathLike[str],
        *,
        horizon_s: float,
        active_within_s: float,
        until: float | None = None,
    ) -> None:
        self.base = Path(base)
        self.horizon_s = horizon_s
        self.active_within_s = active_within_s
        self.until = until
        self._trackers: dict[str, FileTracker] = {}
        # Sessions the last views() could not read, with why (the engine reports them).
        self.failed: dict[str, str] = {}

    def views(self, as_of: float, session: str | None = None) -> tuple[list[SessionView], set[str]]:
        if session is not None:
            found = session_files(self.base, session)
            sessions = [found] if found is not None else []
        else:
            sessions = list_sessions(self.base)
        review = self.until is not None
        held = set() if review else held_files()
        since = as_of - self.active_within_s
        views: list[SessionView] = []
        seen: set[str] = set()
        self.failed = {}
        for s in sessions:
            sid = s.session_id
            seen.add(sid)
            running = None if review else is_held(s.files, held)
            if not running and s.mtime < since:
                self._trackers.pop(sid, None)  # nothing written for a long time: not read
                continue
            try:
                tracker = self._trackers.get(sid)
                if tracker is None:
                    tracker = self._trackers[sid] = FileTracker(
                        self.base, sid, self.horizon_s, until=self.until
                    )
                view = tracker.view(
                    as_of, running=running, last_write_t=None if review else s.mtime
                )
            except Exception as exc:
                # One session's failure is reported, never the end of the others; its
                # tracker starts over next time.
                self._trackers.pop(sid, None)
                self.failed[sid] = describe_failure(exc)
                log.exception("reading session %s for alerts failed; other sessions go on", sid)
                continue
            last = max(
                (t for t in (view.last_event_t, view.last_write_t) if t is not None),
                default=None,
            )
            if not running and (last is None or last < since):
                self._trackers.pop(sid, None)
                continue
            views.append(view)
        if session is None:
            for sid in set(self._trackers) - seen:
                del self._trackers[sid]  # removed by retention
        return views, seen

    def close(self) -> None:
        self._trackers.clear()
