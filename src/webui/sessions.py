"""The sessions index: line counts kept up to date by counting only appended bytes."""

from __future__ import annotations

import gzip
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from src.query.engine import tail
from src.query.files import GZIP_ERRORS, list_sessions
from src.query.filters import EventFilter

__all__ = ["SessionIndex"]

_CHUNK = 1 << 20


class SessionIndex:
    """Lines per session file, cached by (inode, size): a refresh reads only what is new."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._counts: dict[Path, tuple[int, int, int]] = {}  # path -> (inode, size, lines)
        self._lock = threading.Lock()

    def _lines(self, path: Path) -> int:
        try:
            st = os.stat(path)
        except OSError:
            return 0
        with self._lock:
            cached = self._counts.get(path)
        if cached and cached[0] == st.st_ino and cached[1] == st.st_size:
            return cached[2]
        start, lines = 0, 0
        if (
            cached
            and cached[0] == st.st_ino
            and cached[1] < st.st_size
            and not path.name.endswith(".gz")
        ):
            start, lines = cached[1], cached[2]
        try:
            if path.name.endswith(".gz"):
                with gzip.open(path, "rb") as fh:
                    lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(_CHUNK), b""))
            else:
                with open(path, "rb") as fh:
                    fh.seek(start)
                    lines += sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(_CHUNK), b""))
        except (*GZIP_ERRORS, FileNotFoundError):
            return lines
        with self._lock:
            self._counts[path] = (st.st_ino, st.st_size, lines)
        return lines

    def describe(self) -> list[dict[str, Any]]:
        out = []
        for s in list_sessions(self.base):
            newest = tail(self.base, EventFilter.build(session_id=s.session_id), 1)
            out.append(
                {
                    "session_id": s.session_id,
                    "lines": sum(self._lines(p) for p in s.files),
                    "files": len(s.files),
                    "size_bytes": s.size_bytes,
                    "modified": datetime.fromtimestamp(s.mtime, UTC).isoformat(),
                    "last_event": newest[0].data.get("ts") if newest else None,
                }
            )
        return out
