"""Raw lines out of session files: forward (streaming) and backward (from the end).

Both line readers yield ``(line, complete)`` where ``complete`` is False only for a last
line without its newline: a torn write (or, on a live file, a line caught mid-write),
which readers count as invalid and skip. Reading backward costs O(lines read), not
O(file), for plain files; gzip files cannot be read backward and are streamed forward by
the caller.

No line costs more than :data:`MAX_LINE_BYTES` of memory: a longer one is never held
whole. Every reader gets a short stand-in for it instead (:func:`oversized_line`), which
no decoder accepts, so it is counted as an invalid line and skipped like any other; the
file offsets readers report stay the real ones.

Full scans read raw blocks instead (:func:`iter_blocks`, :func:`iter_range_blocks`, both
passed through :func:`cap_lines`) and split lines in the scan loop: much cheaper than a
Python call per line. Readers that decode whole lines in file order (``iter_events``,
:func:`iter_lines`) take a list of lines per block (:func:`line_batches`), for the same
reason.

A damaged gzip file (bad CRC, truncated, not gzip at all) is read as far as it decodes:
every reader uses what came out before the damage and then raises (:class:`ReadError`,
or the gzip error from :func:`iter_blocks`), so the caller can count and name the file.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterable, Iterator
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from src.query.files import GZIP_ERRORS, open_segment

__all__ = [
    "BLOCK_SIZE",
    "GUARD_BYTES",
    "MAX_LINE_BYTES",
    "SCAN_BLOCK_SIZE",
    "ReadError",
    "bytes_before",
    "cap_lines",
    "clip",
    "iter_blocks",
    "iter_lines",
    "iter_lines_at",
    "iter_lines_reversed",
    "iter_lines_reversed_at",
    "iter_range_blocks",
    "last_line_end",
    "line_batches",
    "oversized_line",
    "split_lines",
]

BLOCK_SIZE = 1 << 16
SCAN_BLOCK_SIZE = 1 << 20
MAX_LINE_BYTES = 1 << 20
"""The longest line (without its newline) any reader takes in: 1 MiB. Our writers' events
are a few hundred bytes (an error event with a long message a few KB); a longer line is
counted invalid and skipped without ever being held whole in memory."""

_OVERSIZED = b"<oversized line: %d bytes, over the limit of %d>"


def oversized_line(size: int, limit: int = MAX_LINE_BYTES) -> bytes:
    """The stand-in readers get for a line of ``size`` bytes over ``limit``: short, not
    JSON (so it is invalid in every decoder) and saying how long the line was."""
    return _OVERSIZED % (size, limit)


def clip(text: str | bytes, limit: int = 200) -> str:
    """``text`` for a message: at most ``limit`` characters, then how much was left out."""
    if isinstance(text, bytes):
        size = len(text)
        shown = text[:limit].decode("utf-8", "replace")
        return shown if size <= limit else f"{shown}... ({size} bytes in all)"
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text.encode('utf-8', 'replace'))} bytes in all)"


def iter_blocks(fh: BinaryIO, size: int = SCAN_BLOCK_SIZE) -> Iterator[bytes]:
    """Consecutive blocks of an open file to its end (lines may span blocks).

    A gzip stream that is damaged part way yields everything decoded before the damage,
    then raises (``read1`` hands over each decoded piece before the next is checked, where
    ``read(size)`` would drop a whole block with the error).
    """
    read1 = getattr(fh, "read1", None)
    if read1 is None:
        read = fh.read
        while block := read(size):
            yield block
        return
    parts: list[bytes] = []
    held = 0
    try:
        while chunk := read1(size):
            parts.append(chunk)
            held += len(chunk)
            if held >= size:
                yield parts[0] if len(parts) == 1 else b"".join(parts)
                parts, held = [], 0
    except GZIP_ERRORS:
        if parts:
            yield b"".join(parts)
        raise
    if parts:
        yield b"".join(parts)


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


def cap_lines(blocks: Iterable[bytes], limit: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """``blocks`` with every line longer than ``limit`` replaced by :func:`oversized_line`.

    What comes out always ends at a line end, but for the last block (a torn last line).
    A line's beginning is held back (at most ``limit`` bytes) until its end is seen; an
    oversized line's bytes are counted and dropped as they arrive. Blocks that split no
    long line pass through without a copy.
    """
    pending: list[bytes] = []  # the start of the current line, while it may still fit
    held = 0  # bytes of the current line so far
    over = False  # the current line is over the limit: its bytes are being dropped
    for block in blocks:
        for piece in _slices(block, limit):
            cut = piece.rfind(b"\n") + 1
            if not cut:
                held += len(piece)
                if not over:
                    if held > limit:
                        over, pending = True, []
                    else:
                        pending.append(piece)
                continue
            first = piece.find(b"\n")
            size = held + first
            if over or size > limit:
                out = oversized_line(size, limit) + piece[first:cut]
            elif pending:
                # The line that spans blocks, joined alone (small); the rest of the piece
                # in one slice: one copy of the block, not two.
                pending.append(piece[: first + 1])
                yield b"".join(pending)
                out = piece[first + 1 : cut]  # empty when the spanning line was all
            else:
                out = piece if cut == len(piece) else piece[:cut]
            if out:
                yield out
            rest = piece[cut:] if cut < len(piece) else b""
            held, over = len(rest), len(rest) > limit
            pending = [rest] if rest and not over else []
    if over:
        yield oversized_line(held, limit)
    elif pending:
        yield b"".join(pending)


def line_batches(
    blocks: Iterable[bytes], limit: int = MAX_LINE_BYTES
) -> Iterator[tuple[list[bytes], bool]]:
    """``(lines, complete)`` for consecutive ``blocks`` of a file's bytes: the non-blank
    lines each block completes, in order, without their newlines (``complete`` True); at
    the end a torn last line alone (``complete`` False). Lines over ``limit`` come as their
    stand-in (:func:`oversized_line`).

    The lines of what :func:`split_lines` yields, a list per block: a block is split in C
    (``bytes.split``), so a reader that loops over the lists pays no Python call per line.
    Only the line a block ends in is carried over, and held only while it may still fit
    the limit; a line that lies wholly inside a block of at most ``limit + 1`` bytes fits,
    so only the line joined across blocks is measured (and every line of a longer block).
    """
    pending: list[bytes] = []  # the start of the line a block ended in, while it may fit
    held = 0  # bytes of that line so far
    over = False  # that line is over the limit: its bytes are counted, not kept
    for block in blocks:
        lines = block.split(b"\n")
        if len(lines) == 1:  # no line ends in this block
            held += len(block)
            if not over:
                if held > limit:
                    over, pending = True, []
                else:
                    pending.append(block)
            continue
        rest = lines.pop()
        first = lines[0]  # the end of the line carried over, when one is
        if len(block) > limit + 1 and max(map(len, lines)) > limit:
            lines = [x if len(x) <= limit else oversized_line(len(x), limit) for x in lines]
        if held:
            size = held + len(first)
            if over or size > limit:
                lines[0] = oversized_line(size, limit)
            else:
                pending.append(first)
                lines[0] = b"".join(pending)
        if b"" in lines:  # blank lines are not lines (nor errors)
            lines = [line for line in lines if line]
        if lines:
            yield lines, True
        held = len(rest)
        over = held > limit
        pending = [rest] if held and not over else []
    if held:
        yield [oversized_line(held, limit) if over else b"".join(pending)], False


def _slices(block: bytes, limit: int) -> Iterator[bytes]:
    # A line wholly inside a piece of at most limit + 1 bytes fits the limit: only lines
    # that span pieces need counting.
    if len(block) <= limit + 1:
        yield block
        return
    view = memoryview(block)
    for i in range(0, len(block), limit):
        yield bytes(view[i : i + limit])


def split_lines(
    blocks: Iterable[bytes], start: int = 0, limit: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, bytes, bool]]:
    """``(offset, line, complete)`` for the non-blank lines in consecutive ``blocks`` of a
    file's bytes starting at offset ``start``; lines over ``limit`` come as their stand-in
    (:func:`oversized_line`), with their real offset."""
    pos = start  # where the current line starts
    pending: list[bytes] = []
    held = 0
    over = False
    for block in blocks:
        for piece in BytesIO(block).readlines():
            if piece[-1] != 10:  # no b"\n": the line goes on in the next block
                held += len(piece)
                if not over:
                    if held > limit:
                        over, pending = True, []
                    else:
                        pending.append(piece)
                continue
            if not held:  # nearly every line: whole within its block
                size = len(piece) - 1
                if size:
                    yield pos, piece[:-1] if size <= limit else oversized_line(size, limit), True
                pos += size + 1
                continue
            size = held + len(piece) - 1  # the line that began in an earlier block
            if over or size > limit:
                line = oversized_line(size, limit)
            else:
                pending.append(piece)
                line = b"".join(pending)[:-1]
            yield pos, line, True
            pos += size + 1
            pending, held, over = [], 0, False
    if held:
        yield pos, oversized_line(held, limit) if over else b"".join(pending), False


GUARD_BYTES = 64
"""How many bytes before its read position a follower of an append-only file re-checks:
when they changed, the file was rewritten in place (truncated and written again), not
appended to, and what was read from it no longer holds."""


def bytes_before(path: Path | int, offset: int, size: int = GUARD_BYTES) -> bytes:
    """Up to ``size`` bytes of ``path`` (or an open descriptor) just before ``offset``
    (``b""`` when unreadable)."""
    start = max(0, offset - size)
    if isinstance(path, int):
        try:
            return os.pread(path, offset - start, start)
        except OSError:
            return b""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return b""
    try:
        return os.pread(fd, offset - start, start)
    except OSError:
        return b""
    finally:
        os.close(fd)


def last_line_end(fd: int, size: int, *, floor: int = 0) -> int:
    """The offset just after the last newline in the first ``size`` bytes of ``fd``
    (``floor`` when there is none after ``floor``)."""
    pos = size
    while pos > floor:
        step = min(BLOCK_SIZE, pos - floor)
        block = os.pread(fd, step, pos - step)
        newline = block.rfind(b"\n")
        if newline >= 0:
            return pos - step + newline + 1
        pos -= step
    return floor


class ReadError(Exception):
    """A file could not be read to its end (vanished, corrupt gzip stream)."""


def iter_lines_at(path: Path, start: int = 0) -> Generator[tuple[int, bytes, bool], None, None]:
    """``(offset, line, complete)`` for every non-blank line of ``path`` in file order,
    from ``start`` (a line start of a plain file; gzip files are read from 0).

    A damaged gzip file yields what decodes, then raises :class:`ReadError`.
    """
    try:
        with open_segment(path) as fh:
            if start:
                fh.seek(start)
            yield from split_lines(iter_blocks(fh, BLOCK_SIZE), start)
    except FileNotFoundError:
        return
    except GZIP_ERRORS as exc:
        raise ReadError(f"{path}: {exc}") from exc


def iter_lines(path: Path) -> Generator[tuple[bytes, bool], None, None]:
    """Yield every non-blank line of ``path`` in file order, without its newline.

    A damaged gzip file yields what decodes, then raises :class:`ReadError`.
    """
    try:
        with open_segment(path) as fh:
            for lines, complete in line_batches(iter_blocks(fh, BLOCK_SIZE)):
                for line in lines:
                    yield line, complete
    except FileNotFoundError:
        return
    except GZIP_ERRORS as exc:
        raise ReadError(f"{path}: {exc}") from exc


def iter_lines_reversed(
    path: Path, block_size: int = BLOCK_SIZE
) -> Generator[tuple[bytes, bool], None, None]:
    """Yield the lines of a plain file last first, reading blocks backwards from the end."""
    for _offset, line, complete in iter_lines_reversed_at(path, block_size=block_size):
        yield line, complete


def iter_lines_reversed_at(
    path: Path,
    end: int | None = None,
    block_size: int = BLOCK_SIZE,
    limit: int = MAX_LINE_BYTES,
) -> Generator[tuple[int, bytes, bool], None, None]:
    """Yield ``(offset, line, complete)`` last first, for lines starting before ``end``.

    ``offset`` is where the line starts in the file, usable as a paging cursor: passing it
    as ``end`` continues with the line before it. Each byte is read and copied once (a
    line spanning blocks is joined once, when its start is found), so the cost is linear
    in what is read; a line over ``limit`` comes as :func:`oversized_line`.
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
        parts: list[bytes] = []  # the end of the current line, last part first
        held = 0  # its bytes so far
        over = False  # longer than the limit: its bytes are counted, not kept
        first = True
        while pos > 0:
            step = min(block_size, pos)
            pos -= step
            block = os.pread(fd, step, pos)
            hi = len(block)
            while True:
                newline = block.rfind(b"\n", 0, hi)
                if newline < 0:
                    held += hi
                    if not over:
                        if held > limit:
                            over, parts = True, []
                        else:
                            parts.append(block[:hi])
                    break
                total = held + hi - newline - 1
                if over or total > limit:
                    line = oversized_line(total, limit)
                elif parts:
                    parts.append(block[newline + 1 : hi])
                    line = b"".join(reversed(parts))
                else:
                    line = block[newline + 1 : hi]
                complete = last_complete if first else True
                first = False
                if total or not complete:
                    yield pos + newline + 1, line, complete
                parts, held, over = [], 0, False
                hi = newline
        complete = last_complete if first else True
        if held or not complete:
            line = oversized_line(held, limit) if over else b"".join(reversed(parts))
            yield 0, line, complete
    finally:
        os.close(fd)
