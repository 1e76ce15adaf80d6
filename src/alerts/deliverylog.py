"""The delivery log: one JSON line per delivery attempt and its outcome.

``{"ts", "id", "key", "event", "severity", "channel", "target", "attempt", "outcome",
"detail", "status", "duration_ms"}`` with ``outcome`` one of ``ok``, ``retry`` (failed, will be
tried again), ``failed`` (given up: permanent error or attempts exhausted) and ``dropped``
(the channel's queue was full, or the channel is no longer configured). ``detail`` is the
channel's answer or the error, with secrets scrubbed before it gets here.

Each record is one ``os.write`` on an ``O_APPEND`` descriptor (whole lines, also with several
processes appending); past ``max_bytes`` the file is renamed to ``<name>.1`` and a new one
started.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from src.common.atomicfile import open_regular

__all__ = ["DeliveryLog", "read_deliveries"]


class DeliveryLog:
    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int = 10_485_760) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def record(self, **fields: Any) -> dict[str, Any]:
        entry = {"ts": time.time(), **fields}
        line = json.dumps(entry, sort_keys=True, default=str).encode() + b"\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                if self.path.stat().st_size + len(line) > self.max_bytes:
                    os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            except FileNotFoundError:
                pass
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
            fd = os.open(self.path, flags, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        return entry


def read_deliveries(path: str | os.PathLike[str], limit: int = 50) -> list[dict[str, Any]]:
    """The newest ``limit`` records, oldest first (unreadable lines skipped)."""
    keep: deque[dict[str, Any]] = deque(maxlen=limit)
    fd = open_regular(path)  # a FIFO put there never hangs the reader, no link followed
    if fd is None:
        return []
    try:
        with open(fd, "rb") as fh:
            for line in fh:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict):
                    keep.append(entry)
    except OSError:
        pass
    return list(keep)
