"""The alert state file: alerts, acknowledgements, snoozes and the delivery outbox.

One JSON document, replaced atomically (temp file, fsync, ``os.replace``, directory fsync:
:func:`src.execution.atomicfile.write_atomic`), so a reader (the dashboard, ``telemetry-alerts
list``) sees the old state or the new, never half of one, and a crash loses at most the
evaluation in progress. Writers (the engine, its delivery workers, ``ack`` and ``snooze`` from
the command line) read-modify-write it under an exclusive ``flock`` on ``<name>.lock``, so an
acknowledgement typed while the engine runs is never overwritten.

A restart reads the file back: alerts already announced are not announced again, and
notifications still in the outbox (queued, not yet delivered or given up) are sent.

One engine at a time: an engine claims (:meth:`~StateStore.claim`) ``<name>.engine.lock`` for as
long as it runs, so a cron ``check`` started while ``run`` is active (or while the previous
``check`` is still delivering) cannot send the same outbox twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from src.execution.atomicfile import write_atomic

__all__ = ["FORMAT_VERSION", "EngineBusy", "StateError", "StateStore", "empty_state"]

FORMAT_VERSION = 1
log = logging.getLogger("src.alerts")


class StateError(Exception):
    """The state file cannot be read or written; the message says which and why."""


class EngineBusy(StateError):
    """Another engine holds the state file's engine lock."""


def empty_state() -> dict[str, Any]:
    return {
        "version": FORMAT_VERSION,
        "updated_at": None,
        "evaluated_at": None,
        "seq": 0,
        "alerts": {},
        "silences": [],
        "outbox": [],
    }


def _valid(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and data.get("version") == FORMAT_VERSION
        and isinstance(data.get("alerts"), dict)
        and isinstance(data.get("silences"), list)
        and isinstance(data.get("outbox"), list)
    )


class StateStore:
    """Read and update one state file (thread-safe, and safe across processes)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.engine_lock_path = self.path.with_name(self.path.name + ".engine.lock")
        self._thread_lock = threading.Lock()
        self._claim_fd: int | None = None

    def claim(self) -> None:
        """Become the one engine using this state (until :meth:`release` or exit).

        Raises :class:`EngineBusy` when another engine (any process) holds it.
        """
        if self._claim_fd is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.engine_lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StateError(f"cannot lock alert state {str(self.path)!r}: {exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise EngineBusy(
                f"another telemetry-alerts engine (run or check) is using {self.path}"
            ) from None
        self._claim_fd = fd

    def release(self) -> None:
        """Give up the claim (idempotent)."""
        fd, self._claim_fd = self._claim_fd, None
        if fd is not None:
            os.close(fd)

    def read(self) -> dict[str, Any]:
        """The current state (an empty one when there is no file yet). Takes no lock."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return empty_state()
        except OSError as exc:
            raise StateError(f"cannot read alert state {str(self.path)!r}: {exc}") from None
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not _valid(data):
            raise StateError(f"alert state {str(self.path)!r} is not a state file of this version")
        return data

    @contextlib.contextmanager
    def update(self) -> Iterator[dict[str, Any]]:
        """Yield the state to change in place; it is written back when the block succeeds.

        A file that cannot be parsed (written by something else) is moved aside to
        ``<name>.corrupt-<time>`` and replaced by an empty state, so the engine keeps running.
        """
        with self._thread_lock, self._file_lock():
            try:
                state = self.read()
            except StateError as exc:
                if not self.path.exists():
                    raise
                aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
                os.replace(self.path, aside)
                log.error("%s; moved aside to %s, starting from an empty state", exc, aside)
                state = empty_state()
            yield state
            state["updated_at"] = time.time()
            data = json.dumps(state, sort_keys=True, separators=(",", ":")).encode() + b"\n"
            try:
                write_atomic(self.path, data)
            except OSError as exc:
                raise StateError(f"cannot write alert state {str(self.path)!r}: {exc}") from None

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StateError(f"cannot lock alert state {str(self.path)!r}: {exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock
