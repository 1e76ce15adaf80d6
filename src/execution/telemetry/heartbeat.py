"""Writer heartbeats: how a separate process (the health check) learns a logger's errors.

A logger's counters live in its own process. With heartbeats on, each
:class:`~src.execution.telemetry.jsonl.JsonlExecutionLogger` replaces one small JSON file,
``<base>/.writers/<host>-<pid>-<start>.json``, every ``interval`` seconds from a background
thread (never from ``emit``), and a last time with ``"closed": true`` on ``close()``. The
file carries the counters (events written, write errors, the last error and when, drops) and
the time of the update, so a reader can tell:

* a running writer (updated within a few intervals) from one that died without closing;
* recent write errors (events being lost now) from old ones.

Heartbeats are written atomically (temp file, fsync, rename). What they cannot report is a
writer that cannot write even its heartbeat (the whole directory unwritable): a health check
then sees no fresh heartbeat, which is why it reports "no running writer" as well.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from src.common.atomicfile import write_atomic
from src.execution.jsontypes import JsonObject

__all__ = ["WRITERS_DIR", "HeartbeatWriter", "WriterHeartbeat", "read_heartbeats"]

WRITERS_DIR = ".writers"
FORMAT_VERSION = 1
_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def _host() -> str:
    return _UNSAFE.sub("_", socket.gethostname())[:64] or "host"


class HeartbeatWriter:
    """Background thread replacing a logger's heartbeat file every ``interval`` seconds.

    ``snapshot`` returns the counters to publish; it is called from the heartbeat thread.
    Failures to write are counted in :attr:`failures` and passed to ``on_error``; they never
    reach the trading path.
    """

    def __init__(
        self,
        base_path: Path,
        interval: float,
        snapshot: Callable[[], JsonObject],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self.interval = float(interval)
        self.started_at = time.time()
        self.pid = os.getpid()
        self.host = _host()
        name = f"{self.host}-{self.pid}-{int(self.started_at * 1000)}.json"
        self.path = Path(base_path) / WRITERS_DIR / name
        self.failures = 0
        self._snapshot = snapshot
        self._on_error = on_error
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        ref = weakref.ref(self)
        stop = self._stop

        def run() -> None:
            while True:
                writer = ref()
                if writer is None:
                    return
                writer.write(closed=False)
                interval = writer.interval
                del writer
                if stop.wait(interval):
                    return

        self._thread = threading.Thread(target=run, name="jsonl-heartbeat", daemon=True)
        self._thread.start()

    def write(self, *, closed: bool) -> bool:
        """Publish the current counters now; ``False`` (and counted) when that failed."""
        record = {
            "version": FORMAT_VERSION,
            "host": self.host,
            "pid": self.pid,
            "started_at": self.started_at,
            "updated_at": time.time(),
            "interval_s": self.interval,
            "closed": closed,
            **self._snapshot(),
        }
        with self._write_lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(self.path, json.dumps(record, sort_keys=True).encode() + b"\n")
            except Exception as exc:
                self.failures += 1
                self._on_error(exc)
                return False
        return True

    def stop(self, *, final: bool = True) -> None:
        """Stop the thread and (``final``) publish a last heartbeat marked closed."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)
        if final:
            self.write(closed=True)


@dataclass(frozen=True)
class WriterHeartbeat:
    """One writer's last published state, as read back by another process."""

    path: Path
    host: str
    pid: int
    started_at: float
    updated_at: float
    interval_s: float
    closed: bool
    emitted: int
    errors: int
    dropped: int
    last_error: str | None
    last_error_at: float | None

    @property
    def name(self) -> str:
        return f"{self.host}:{self.pid}"


def read_heartbeats(base_path: str | os.PathLike[str]) -> tuple[list[WriterHeartbeat], int]:
    """Every readable heartbeat under ``base_path`` and the number of unreadable ones.

    Symlinks are not followed; a file that is not a heartbeat of this format is unreadable.
    """
    directory = Path(base_path) / WRITERS_DIR
    found: list[WriterHeartbeat] = []
    unreadable = 0
    try:
        if directory.is_symlink():
            return [], 0
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return [], 0
    for entry in entries:
        if not entry.name.endswith(".json") or entry.name.startswith("."):
            continue
        if not entry.is_file(follow_symlinks=False):
            continue
        try:
            with open(entry.path, "rb") as fh:
                data = json.loads(fh.read(1 << 16))
            found.append(
                WriterHeartbeat(
                    path=Path(entry.path),
                    host=str(data["host"]),
                    pid=int(data["pid"]),
                    started_at=float(data["started_at"]),
                    updated_at=float(data["updated_at"]),
                    interval_s=float(data["interval_s"]),
                    closed=bool(data["closed"]),
                    emitted=int(data.get("emitted", 0)),
                    errors=int(data.get("errors", 0)),
                    dropped=int(data.get("dropped", 0)),
                    last_error=data.get("last_error"),
                    last_error_at=(
                        float(data["last_error_at"])
                        if data.get("last_error_at") is not None
                        else None
                    ),
                )
            )
        except (OSError, ValueError, KeyError, TypeError):
            unreadable += 1
    return found, unreadable
