"""The console channel: one line per notification on stderr or stdout, or on the log."""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any, TextIO

from src.alerts import format as fmt
from src.alerts.channels.base import Channel
from src.common.terminal import clean

__all__ = ["ConsoleChannel"]

log = logging.getLogger("src.alerts.console")
_LEVEL = {"critical": logging.CRITICAL, "warning": logging.WARNING}


class ConsoleChannel(Channel):
    name = "console"

    def __init__(self, target: str = "stderr", *, stream: TextIO | None = None) -> None:
        self.target = target
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, note: dict[str, Any], timeout: float) -> str:
        line = clean(f"{fmt.iso(note['at'])} ALERT {fmt.text(note)} [{note['key']}]")
        if self.target == "log" and self._stream is None:
            level = logging.INFO if note["event"] == "resolved" else _LEVEL.get(note["severity"])
            log.log(level or logging.WARNING, "%s", line)
            return "logged"
        stream = self._stream or (sys.stdout if self.target == "stdout" else sys.stderr)
        with self._lock:
            stream.write(line + "\n")
            stream.flush()
        return "written"
