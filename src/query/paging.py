"""Paging back through one session, newest first, with an opaque cursor.

A cursor names a file of the session (relative to the log root) and the offset of the
first line already shown. It is only ever resolved against the session's own files, so a
cursor from a request can never point anywhere else. Cost per page follows the page size.
"""

from __future__ import annotations

import base64
import os
from collections import deque
from collections.abc import Generator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from src.query.files import SessionFiles, session_files
from src.query.filters import EventFilter
from src.query.lines import ReadError, iter_lines_at, iter_lines_reversed_at
from src.query.records import Record, decode_record

__all__ = [
    "Entry",
    "Page",
    "collect_back",
    "decode_position",
    "encode_cursor",
    "encode_position",
    "page_back",
]

Entry = tuple[int, int, Record]  # (index of the file in the session, line start, record)


@dataclass(frozen=True)
class Page:
    records: list[Record]
    next_cursor: str | None  # pass as ``before`` for the next (older) page


def encode_position(rel: str, offset: int) -> str:
    """An opaque token for ``offset`` in the file ``rel`` (relative to the log root); also
    the live feed's ``since`` position."""
    return base64.urlsafe_b64encode(f"{rel}@{offset}".encode()).decode().rstrip("=")


def decode_position(token: str) -> tuple[str, int] | None:
    """``(rel, offset)`` of a token, or ``None`` when it is not one (a negative offset is
    not a position)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        rel, _, offset = raw.rpartition("@")
        position = rel, int(offset)
    except (ValueError, UnicodeDecodeError):
        return None
    return position if position[1] >= 0 else None


def encode_cursor(base: Path, path: Path, offset: int) -> str:
    """The cursor for the line starting at ``offset`` of ``path`` (a session file)."""
    return encode_position(path.relative_to(base).as_posix(), offset)


def _decode(cursor: str, base: Path, session: SessionFiles) -> tuple[int, int]:
    position = decode_position(cursor)
    if position is None:
        raise ValueError(f"invalid cursor {cursor!r}")
    rel, offset = position
    names = [p.relative_to(base).as_posix() for p in session.files]
    if rel not in names or offset < 0:
        raise ValueError(f"invalid cursor {cursor!r}: not a position in this session")
    return names.index(rel), offset


def _reverse_at(
    path: Path, end: int | None, flt: EventFilter, limit: int
) -> Generator[tuple[int, Record], None, None]:
    if path.name.endswith(".gz"):
        # No backward reading in gzip: stream it, keeping the newest `limit` matches. A
        # damaged file gives what decoded before the damage.
        keep: deque[tuple[int, Record]] = deque(maxlen=limit)
        try:
            with closing(iter_lines_at(path)) as lines:
                for start, line, complete in lines:
                    if end is not None and start >= end:
                        break
                    rec = decode_record(line) if complete else None
                    if rec is not None and flt.matches(rec.kind, rec.symbol, rec.t):
                        keep.append((start, rec))
        except ReadError:
            pass
        yield from reversed(keep)
        return
    with closing(iter_lines_reversed_at(path, end)) as lines:
        for start, line, complete in lines:
            rec = decode_record(line) if complete else None
            if rec is not None and flt.matches(rec.kind, rec.symbol, rec.t):
                yield start, rec


def page_back(
    base: str | os.PathLike[str], flt: EventFilter, limit: int, before: str | None = None
) -> Page:
    """The ``limit`` newest events of ``flt.session_id`` older than ``before`` (a cursor)."""
    if flt.session_id is None:
        raise ValueError("paging needs a session")
    base = Path(base)
    session = session_files(base, flt.session_id)
    if session is None or limit <= 0:
        return Page([], None)
    index, end = len(session.files) - 1, None
    if before:
        index, end = _decode(before, base, session)
    out = collect_back(session, flt, limit, index, end)
    cursor = None
    if len(out) >= limit:
        i, start, _ = out[-1]
        cursor = encode_cursor(base, session.files[i], start)
    return Page([rec for _, _, rec in out], cursor)


def collect_back(
    session: SessionFiles, flt: EventFilter, limit: int, index: int, end: int | None
) -> list[Entry]:
    """Up to ``limit`` matching entries, newest first, from lines starting before ``end`` in
    file ``index`` (its end when None) and then from the files before it."""
    out: list[Entry] = []
    for i in range(index, -1, -1):
        reader = _reverse_at(session.files[i], end if i == index else None, flt, limit - len(out))
        with closing(reader):  # its file is closed here, also when this stops early or fails
            for start, rec in reader:
                out.append((i, start, rec))
                if len(out) >= limit:
                    break
        if len(out) >= limit:
            break
    return out
