"""The sessions index: line counts and newest event per session, kept without re-reading.

What the index derives from a file (its line count and the time of its newest valid
event) is cached by the file's identity (device, inode, size, mtime_ns, ctime_ns: a file
rewritten in place with its old size and mtime put back still has a new ctime). A
compressed file never changes, so a reload reads no gzip data at all; a plain file that grew
has only its appended bytes counted (unless the bytes before them changed: rewritten, so
counted again whole), and its newest event is found reading backwards from its end.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from src.query.files import GZIP_ERRORS, list_sessions, open_segment
from src.query.lines import (
    ReadError,
    bytes_before,
    cap_lines,
    iter_blocks,
    iter_lines_at,
    iter_lines_reversed_at,
    iter_range_blocks,
)
from src.query.records import decode_record

__all__ = ["SessionIndex"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class _Derived:
    ident: tuple[int, int, int, int, int]  # (device, inode, size, mtime_ns, ctime_ns)
    lines: int
    last_ts: str | None  # the ``ts`` of the newest valid event, as written
    guard: bytes = b""  # plain files: the bytes before ``size``, as counted


class SessionIndex:
    """Lines and newest event per session file, cached by the file's identity."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._files: dict[Path, _Derived] = {}
        self._lock = threading.Lock()
        self.gzip_reads = 0  # compressed files decompressed (each at most once per identity)

    def _derive(self, path: Path) -> _Derived | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        with self._lock:
            cached = self._files.get(path)
        if cached is not None and cached.ident == ident:
            return cached
        if path.name.endswith(".gz"):
            derived = self._read_gzip(path, ident)
        else:
            derived = self._read_plain(path, ident, cached)
        if derived is not None:
            with self._lock:
                self._files[path] = derived
        return derived

    def _read_gzip(self, path: Path, ident: tuple[int, int, int, int, int]) -> _Derived | None:
        """Count newlines block by block (no decoding); decode only the last lines, from
        the end, for the newest event (the whole file only if none of them is valid)."""
        self.gzip_reads += 1
        lines = 0
        last_blocks: deque[bytes] = deque(maxlen=2)
        try:
            with open_segment(path) as fh:
                for block in cap_lines(iter_blocks(fh)):
                    lines += block.count(b"\n")
                    last_blocks.append(block)
        except FileNotFoundError:
            return None
        except GZIP_ERRORS:
            pass  # damaged: what decoded counts (and the identity keeps it from re-reading)
        tail = b"".join(last_blocks)
        last = _newest_ts(tail)
        if last is None and lines > tail.count(b"\n"):
            last = self._newest_ts_by_scan(path)
        return _Derived(ident, lines, last)

    @staticmethod
    def _newest_ts_by_scan(path: Path) -> str | None:
        last = None
        try:
            with closing(iter_lines_at(path)) as reader:
                for _, line, complete in reader:
                    rec = decode_record(line) if complete else None
                    if rec is not None:
                        last = rec.data.get("ts")
        except ReadError:
            pass
        return last

    def _read_plain(
        self, path: Path, ident: tuple[int, int, int, int, int], cached: _Derived | None
    ) -> _Derived | None:
        start, lines = 0, 0
        if (
            cached is not None
            and cached.ident[:2] == ident[:2]
            and cached.ident[2] < ident[2]
            and bytes_before(path, cached.ident[2]) == cached.guard
        ):
            start, lines = cached.ident[2], cached.lines  # grew: count what was appended
        try:
            with open(path, "rb") as fh:
                # Up to the size in the identity only: what a writer appends meanwhile is
                # counted next time, from there (not twice).
                blocks = iter_range_blocks(fh.fileno(), start, ident[2], _CHUNK)
                lines += sum(block.count(b"\n") for block in blocks)
        except OSError:
            return None
        last = None
        with closing(iter_lines_reversed_at(path)) as reader:
            for _, line, complete in reader:
                rec = decode_record(line) if complete else None
                if rec is not None:
                    last = rec.data.get("ts")
                    break
        return _Derived(ident, lines, last, bytes_before(path, ident[2]))

    def describe(self) -> list[dict[str, Any]]:
        out = []
        seen: set[Path] = set()
        for s in list_sessions(self.base):
            lines, last = 0, None
            for path in reversed(s.files):
                derived = self._derive(path)
                seen.add(path)
                if derived is None:
                    continue
                lines += derived.lines
                if last is None:
                    last = derived.last_ts
            out.append(
                {
                    "session_id": s.session_id,
                    "lines": lines,
                    "files": len(s.files),
                    "size_bytes": s.size_bytes,
                    "modified": datetime.fromtimestamp(s.mtime, UTC).isoformat(),
                    "last_event": last,
                }
            )
        with self._lock:  # forget files that are gone
            for path in [p for p in self._files if p not in seen]:
                del self._files[path]
        return out


def _newest_ts(data: bytes) -> str | None:
    """The ``ts`` of the last valid event among the complete lines of ``data``."""
    lines = data.split(b"\n")
    for line in reversed(lines[:-1]):  # the last piece has no newline: torn or empty
        rec = decode_record(line) if line else None
        if rec is not None:
            ts = rec.data.get("ts")
            return ts if isinstance(ts, str) else None
    return None
