"""Where a session's events live: flat and daily-rotated layouts, plain and gzip files.

A session may be spread over several files: ``<base>/<id>.jsonl``, ``<base>/<id>.jsonl.gz``
and ``<base>/YYYY-MM-DD/<id>.jsonl[.gz]``. Together they are one session, read in order of
their first event. Only names that are valid session ids are considered, and symlinks are
never followed, so nothing outside the base directory is ever read.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from src.execution.session_ids import validate_session_id

__all__ = [
    "SessionFiles",
    "is_day_dir",
    "list_sessions",
    "open_segment",
    "parse_file_name",
    "session_files",
]

_DAY_DIR = re.compile(r"\d{4}-\d{2}-\d{2}")
SUFFIXES = (".jsonl.gz", ".jsonl")


@dataclass(frozen=True)
class SessionFiles:
    """The files of one session, oldest first, with their total size and newest mtime."""

    session_id: str
    files: tuple[Path, ...]
    size_bytes: int
    mtime: float


def _split_name(name: str) -> tuple[str, bool] | None:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            try:
                validate_session_id(stem)
            except ValueError:
                return None
            return stem, suffix == ".jsonl.gz"
    return None


def parse_file_name(name: str) -> tuple[str, bool] | None:
    """``(session_id, is_gzip)`` for a session file name, ``None`` for any other name."""
    return _split_name(name)


def is_day_dir(name: str) -> bool:
    """True for a daily-rotation directory name (``YYYY-MM-DD``)."""
    return _DAY_DIR.fullmatch(name) is not None


def _scan_dir(directory: Path, day: str, found: dict[str, list[tuple[str, bool, Path]]]) -> None:
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return
    for entry in entries:
        if entry.is_symlink():
            continue
        if entry.is_dir(follow_symlinks=False):
            if not day and _DAY_DIR.fullmatch(entry.name):
                _scan_dir(Path(entry.path), entry.name, found)
            continue
        parsed = _split_name(entry.name)
        if parsed is not None and entry.is_file(follow_symlinks=False):
            stem, gz = parsed
            found.setdefault(stem, []).append((day, gz, Path(entry.path)))


def _order(segments: list[tuple[str, bool, Path]]) -> tuple[Path, ...]:
    # Dated files by day; undated (flat) files by mtime against them; within a day the gzip
    # part (compressed earlier) before the plain part (still being appended to).
    def key(seg: tuple[str, bool, Path]) -> tuple[str, int, str]:
        day, gz, path = seg
        if not day:
            try:
                day = _utc_day(path.stat().st_mtime)
            except OSError:
                day = "9999-99-99"
            day += "~"  # a flat file written on day X goes after that day's dated files
        return day, 0 if gz else 1, path.name

    return tuple(seg[2] for seg in sorted(segments, key=key))


def _utc_day(timestamp: float) -> str:
    import time

    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def _describe(session_id: str, segments: list[tuple[str, bool, Path]]) -> SessionFiles:
    files = _order(segments)
    size, mtime = 0, 0.0
    for path in files:
        try:
            st = path.stat()
        except OSError:
            continue
        size += st.st_size
        mtime = max(mtime, st.st_mtime)
    return SessionFiles(session_id, files, size, mtime)


def session_files(base: str | os.PathLike[str], session_id: str) -> SessionFiles | None:
    """The files of ``session_id`` under ``base`` (``None`` if it has none).

    Raises ``ValueError`` for an unsafe session id.
    """
    validate_session_id(session_id)
    base = Path(base)
    segments: list[tuple[str, bool, Path]] = []
    for suffix in SUFFIXES:
        path = base / f"{session_id}{suffix}"
        if path.is_file() and not path.is_symlink():
            segments.append(("", suffix == ".jsonl.gz", path))
    try:
        days = [e for e in os.scandir(base) if e.is_dir(follow_symlinks=False)]
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        days = []
    for entry in days:
        if _DAY_DIR.fullmatch(entry.name):
            for suffix in SUFFIXES:
                path = Path(entry.path) / f"{session_id}{suffix}"
                if path.is_file() and not path.is_symlink():
                    segments.append((entry.name, suffix == ".jsonl.gz", path))
    return _describe(session_id, segments) if segments else None


def list_sessions(base: str | os.PathLike[str]) -> list[SessionFiles]:
    """Every session under ``base``, most recently written first."""
    found: dict[str, list[tuple[str, bool, Path]]] = {}
    _scan_dir(Path(base), "", found)
    sessions = [_describe(sid, segs) for sid, segs in found.items()]
    sessions.sort(key=lambda s: (-s.mtime, s.session_id))
    return sessions


def open_segment(path: Path) -> BinaryIO:
    """Open a session file for binary reading, decompressing ``.gz`` transparently."""
    if path.name.endswith(".gz"):
        return cast(BinaryIO, gzip.open(path, "rb"))  # a GzipFile reads like a binary file
    return open(path, "rb", buffering=1 << 20)


GZIP_ERRORS = (EOFError, OSError, zlib.error)
