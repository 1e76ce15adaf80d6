"""The alert state file: alerts, acknowledgements, snoozes and the delivery outbox.

One JSON document, replaced atomically (temp file, fsync, ``os.replace``, directory fsync:
:func:`src.common.atomicfile.write_atomic`), so a reader (the dashboard, ``telemetry-alerts
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
import itertools
import logging
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from src.alerts.state_schema import FORMAT_VERSION, InvalidState, decode_state, encode_state
from src.common.atomicfile import read_regular, write_atomic
from src.common.locks import lock_exclusive, open_lock_file, try_lock_exclusive

__all__ = [
    "FORMAT_VERSION",
    "EngineBusy",
    "InvalidStateFile",
    "StateError",
    "StateStore",
    "empty_state",
    "load_state",
    "read_raw",
]

log = logging.getLogger("src.alerts")

MAX_STATE_BYTES = 64 << 20
"""A state file bigger than this is not one the engine wrote (resolved alerts are forgotten
after a day; the outbox drains): it is taken as damaged, never read whole."""


class StateError(Exception):
    """The state file cannot be read or written; the message says which and why."""


class EngineBusy(StateError):
    """Another engine holds the state file's engine lock."""


class InvalidStateFile(StateError):
    """The file is there but is not a valid state file (see :mod:`src.alerts.state_schema`)."""


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


def load_state(raw: bytes, path: str | os.PathLike[str]) -> dict[str, Any]:
    """The state in ``raw`` (read from ``path``), checked field by field.

    Raises :class:`InvalidStateFile` naming the file and the first bad field.
    """
    try:
        return decode_state(raw)
    except InvalidState as exc:
        raise InvalidStateFile(
            f"alert state {str(path)!r} is not a valid state file of version "
            f"{FORMAT_VERSION}: {exc}"
        ) from None


def read_raw(path: str | os.PathLike[str]) -> bytes | None:
    """The bytes of the state file at ``path`` (None: there is none yet). Read as
    :func:`src.common.atomicfile.read_regular` reads: a FIFO put there never hangs the
    reader, a symbolic link is not followed, a file is never read past
    :data:`MAX_STATE_BYTES`. Raises :class:`InvalidStateFile` for something that is not a
    regular file of at most that size, :class:`StateError` when it cannot be read."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read alert state {str(path)!r}: {exc}") from None
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_STATE_BYTES:
        raise InvalidStateFile(
            f"alert state {str(path)!r} is not a valid state file: not a regular file of "
            f"at most {MAX_STATE_BYTES} bytes"
        )
    raw = read_regular(path, limit=MAX_STATE_BYTES)
    if raw is None:
        # Replaced since the check (a save renames a whole file in: read the new one at
        # the next call), or unreadable (permissions): never taken as damaged here.
        raise StateError(f"cannot read alert state {str(path)!r}: unreadable or replaced")
    return raw


def _move_aside(path: Path) -> Path:
    """Rename ``path`` to a new ``<name>.corrupt-<UTC time>[-N]`` (never over another)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for n in itertools.count():
        aside = path.with_name(f"{path.name}.corrupt-{stamp}" + (f"-{n}" if n else ""))
        try:
            # Reserve the name first: os.replace alone would overwrite an earlier one.
            os.close(os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
        except FileExistsError:
            continue
        try:
            os.replace(path, aside)
        except OSError:
            aside.unlink(missing_ok=True)
            raise
        return aside
    raise AssertionError("unreachable")


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
            fd = open_lock_file(self.engine_lock_path)
        except OSError as exc:
            raise StateError(f"cannot lock alert state {str(self.path)!r}: {exc}") from None
        if not try_lock_exclusive(fd):
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
        raw = read_raw(self.path)
        return empty_state() if raw is None else load_state(raw, self.path)

    @contextlib.contextmanager
    def update(self) -> Iterator[dict[str, Any]]:
        """Yield the state to change in place; it is written back when the block succeeds.

        A file that is not a valid state file (damaged, or written by something else) is
        moved aside to a new ``<name>.corrupt-<UTC time>[-N]`` and replaced by an empty
        state, so the engine keeps running; the error log says so.
        """
        with self._thread_lock, self._file_lock():
            try:
                state = self.read()
            except InvalidStateFile as exc:
                try:
                    aside = _move_aside(self.path)
                except OSError as err:
                    raise StateError(f"{exc}; cannot move it aside: {err}") from None
                log.error("%s; moved aside to %s, starting from an empty state", exc, aside)
                state = empty_state()
            yield state
            state["updated_at"] = time.time()
            data = encode_state(state)
            try:
                write_atomic(self.path, data)
            except OSError as exc:
                raise StateError(f"cannot write alert state {str(self.path)!r}: {exc}") from None

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = open_lock_file(self.lock_path)
        except OSError as exc:
            raise StateError(f"cannot lock alert state {str(self.path)!r}: {exc}") from None
        try:
            with lock_exclusive(fd):
                yield
        finally:
            os.close(fd)
