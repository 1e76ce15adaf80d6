"""Where an event is in a session, as one int (a key), and the page cursor built on it.

A key is ``file index << 40 | offset``: the index of the file in the session's files
(oldest first) and the offset of the line's start in it (in a gzip file, in its
decompressed text), so keys sort in file order. The cursor a client gets names the file
by its path relative to the log root (as the event pages' cursors do,
:mod:`src.query.paging`), so it survives a newer file joining the session.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

from src.query.files import SessionFiles
from src.query.lines import ReadError, iter_lines_at
from src.query.paging import decode_position, encode_position

__all__ = ["OFFSET_BITS", "decode_cursor", "encode_cursor", "key_of", "read_lines", "split_key"]

OFFSET_BITS = 40
_OFFSET_MASK = (1 << OFFSET_BITS) - 1


def key_of(index: int, offset: int) -> int:
    return (index << OFFSET_BITS) | offset


def split_key(key: int) -> tuple[int, int]:
    """``(file index, offset)`` of a key."""
    return key >> OFFSET_BITS, key & _OFFSET_MASK


def _rel(base: Path, path: Path) -> str:
    return path.relative_to(base).as_posix()


def encode_cursor(base: Path, session: SessionFiles, key: int) -> str:
    index, offset = split_key(key)
    return encode_position(_rel(base, session.files[index]), offset)


def decode_cursor(base: Path, session: SessionFiles, cursor: str) -> int:
    """The key a cursor names; ``ValueError`` naming it when it is no position in this
    session."""
    position = decode_position(cursor)
    if position is None:
        raise ValueError(f"invalid cursor {cursor!r}")
    rel, offset = position
    names = [_rel(base, p) for p in session.files]
    if rel not in names or offset > _OFFSET_MASK:
        raise ValueError(f"invalid cursor {cursor!r}: not a position in this session")
    return key_of(names.index(rel), offset)


def read_lines(session: SessionFiles, keys: Iterable[int]) -> dict[int, bytes]:
    """The complete lines starting at ``keys`` (missing: gone, or no line starts there).

    A plain file is read from each offset; a gzip file once, from its start."""
    wanted: dict[int, set[int]] = {}
    for key in keys:
        index, offset = split_key(key)
        if index < len(session.files):
            wanted.setdefault(index, set()).add(offset)
    found: dict[int, bytes] = {}
    for index, offsets in wanted.items():
        path = session.files[index]
        try:
            if path.name.endswith(".gz"):
                _scan(path, index, offsets, found)
            else:
                for offset in sorted(offsets):
                    _at(path, index, offset, found)
        except ReadError:
            continue
    return found


def _at(path: Path, index: int, offset: int, found: dict[int, bytes]) -> None:
    with closing(iter_lines_at(path, offset)) as lines:
        for start, line, complete in lines:
            if start == offset and complete:
                found[key_of(index, offset)] = line
            return


def _scan(path: Path, index: int, offsets: set[int], found: dict[int, bytes]) -> None:
    last = max(offsets)
    with closing(iter_lines_at(path)) as lines:
        for start, line, complete in lines:
            if start in offsets and complete:
                found[key_of(index, start)] = line
            if start >= last:
                return
