"""The delivery log: one JSON line per delivery attempt and its outcome.

``{"ts", "id", "key", "event", "severity", "channel", "target", "attempt", "outcome",
"detail", "status", "duration_ms"}`` with ``outcome`` one of ``ok``, ``retry`` (failed, will be
tried again), ``failed`` (given up: permanent error or attempts exhausted) and ``dropped``
(the channel's queue was full, or the channel is no longer configured). ``detail`` is the
channel's answer or the error, with secrets scrubbed before it gets here.

Each record is one ``os.write`` on an ``O_APPEND`` descriptor (whole lines, also with several
processes appending); past ``max_bytes`` the file is renamed to ``<name>.1`` and a new one
started. Recording never blocks and never raises: the file is opened without blocking and
without following a link, and anything but a regular file there (a FIFO, a directory, a
link) or a failed write is counted in :attr:`DeliveryLog.failures`, logged once until a
write succeeds again, and the record skipped. Reading (:func:`read_deliveries`) raises
:class:`DeliveryLogError` for the same cases, so the operator is told rather than shown an
empty or partial log.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

__all__ = ["DeliveryLog", "DeliveryLogError", "read_deliveries"]

log = logging.getLogger("src.alerts.delivery")

_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFDIR: "a directory",
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


class DeliveryLogError(Exception):
    """The delivery log exists but cannot be read: one line naming the path and why."""


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "something else")


def _not_regular(path: Path, mode: int) -> str:
    return f"delivery log {str(path)!r} is {_kind(mode)}, not a regular file"


class DeliveryLog:
    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int = 10_485_760) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self.failures = 0  # records that could not be written
        self._failing = False  # logged, and not yet written again since

    def record(self, **fields: Any) -> dict[str, Any]:
        """Append one record; never blocks, never raises (a failure is counted and skipped)."""
        entry = {"ts": time.time(), **fields}
        line = json.dumps(entry, sort_keys=True, default=str).encode() + b"\n"
        with self._lock:
            try:
                self._append(line)
            except OSError as exc:
                self.failures += 1
                if not self._failing:
                    self._failing = True
                    log.error(
                        "cannot write the delivery log %s: %s (records skipped)",
                        self.path,
                        getattr(exc, "strerror", None) or exc,
                    )
            else:
                if self._failing:
                    self._failing = False
                    log.warning("the delivery log %s is written again", self.path)
        return entry

    def _append(self, line: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            pass
        else:
            if not stat.S_ISREG(st.st_mode):
                raise OSError(_not_regular(self.path, st.st_mode))
            if st.st_size + len(line) > self.max_bytes:
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        flags = (
            os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
        )
        # O_NONBLOCK: a FIFO put there after the check opens at once (or fails with ENXIO)
        fd = os.open(self.path, flags, 0o644)
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                raise OSError(_not_regular(self.path, mode))
            os.write(fd, line)
        finally:
            os.close(fd)


def read_deliveries(path: str | os.PathLike[str], limit: int = 50) -> list[dict[str, Any]]:
    """The newest ``limit`` records, oldest first (unparsable lines skipped); none when there
    is no log yet. Raises :class:`DeliveryLogError` when the log is not a regular file (a
    FIFO never hangs the reader, a link is not followed), cannot be opened or fails part way."""
    target = Path(path)
    keep: deque[dict[str, Any]] = deque(maxlen=limit)
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return []
    except OSError as exc:
        try:
            st = os.lstat(target)
        except OSError:
            st = None
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise DeliveryLogError(_not_regular(target, st.st_mode)) from None
        raise DeliveryLogError(
            f"cannot read the delivery log {str(target)!r}: {exc.strerror or exc}"
        ) from None
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        mode = 0
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise DeliveryLogError(_not_regular(target, mode))
    try:
        with open(fd, "rb") as fh:
            for line in fh:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict):
                    keep.append(entry)
    except OSError as exc:
        raise DeliveryLogError(
            f"cannot read the delivery log {str(target)!r}: {exc.strerror or exc}"
        ) from None
    return list(keep)
