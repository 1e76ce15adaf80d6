"""Raw lines out of session files: forward (streaming) and backward (from the end).

Both line readers yield ``(line, complete)`` where ``complete`` is False only for a last
line without its newline: a torn write (or, on a live file, a line caught mid-write),
which readers count as invalid and skip. Reading backward costs O(lines read), not
O(file), for plain files; gzip files cannot be read backward and are streamed forward by
the caller.

Full scans read raw blocks instead (:func:`iter_blocks`, :func:`iter_range_blocks`) and
split lines in the scan loop: much cheaper than a Python call per line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from src.query.files import GZIP_ERRORS, open_segment

__all__ = [
    "BLOCK_SIZE",
    "SCAN_BLOCK_SIZE",
    "ReadError",
    "iter_blocks",
    "iter_lines",
    "iter_lines_reversed",
    "iter_range_blocks",
]

BLOCK_SIZE = 1 << 16
SCAN_BLOCK_SIZE = 1 << 20


def iter_blocks(fh: BinaryIO, size: int = SCAN_BLOCK_SIZE) -> Iterator[bytes]:
    """Consecutive blocks of an open file to its end (lines may span blocks)."""
    read = fh.read
    while block := read(size):
        yield block


def iter_range_blocks(
    fd: int, start: int, end: int | None, size: int = SCAN_BLOCK_SIZE
) -> Iterator[bytes]:
    """Blocks of bytes ``start`` to ``end`` (to the end of file when None) of ``fd``.

    Positional reads: processes sharing the descriptor do not share a file offset.
    """
    pos = start
    while end is None or pos < end:
        block = os.pread(fd, size if end is None else min(size, end - pos), pos)
        if not block:
            return
        pos += len(block)
        yield block


class ReadError(Exception):
    """A file could not be read to its end (vanished, corrupt gzip stream)."""


def iter_lines(path: Path) -> Iterator[tuple[bytes, bool]]:
    """Yield every line of ``path`` in file order, without its newline."""
    try:
        with open_segment(path) as fh:
            for line in fh:
                if line.endswith(b"\n"):
                    if len(line) > 1:  # blank lines are not events, nor errors
                        yield line[:-1], True
                elif line:
                    yield line, False
    except FileNotFoundError:
        return
    except GZIP_ERRORS as exc:
        raise ReadError(f"{path}: {exc}") from exc


def iter_lines_reversed(path: Path, block_size: int = BLOCK_SIZE) -> Iterator[tuple[bytes, bool]]:
    """Yield the lines of a plain file last first, reading blocks backwards from the end."""
    for _offset, line, complete in iter_lines_reversed_at(path, block_size=block_size):
        yield line, complete


def iter_lines_reversed_at(
    path: Path, end: int | None = None, block_size: int = BLOCK_SIZE
) -> Iterator[tuple[int, bytes, bool]]:
    """Yield ``(offset, line, complete)`` last first, for lines starting before ``end``.

    ``offset`` is where the line starts in the file, usable as a paging cursor: passing it
    as ``end`` continues with the line before it.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        size = os.fstat(fd).st_size
        if end is not None:
            size = min(size, end)
        if size == 0:
            return
        # Whether the last line is whole is known from its last byte alone.
        last_complete = os.pread(fd, 1, size - 1) == b"\n"
        pos = size - 1 if last_complete else size
        pending = b""  # the start of a line whose beginning lies in an earlier block
        first = True
        while pos > 0:
            step = min(block_size, pos)
            pos -= step
            parts = (os.pread(fd, step, pos) + pending).split(b"\n")
            pending = parts[0]
            # parts[i] (i >= 1) starts right after the newline that ends parts[i - 1].
            start = pos + len(parts[0]) + 1
            starts = []
            for part in parts[1:]:
                starts.append(start)
                start += len(part) + 1
            for line, line_start in zip(reversed(parts[1:]), reversed(starts), strict=True):
                complete = last_complete if first else True
                first = False
                if line or not complete:
                    yield line_start, line, complete
        complete = last_complete if first else True
        if pending or not complete:
            yield 0, pending, complete
    finally:
        os.close(fd)
