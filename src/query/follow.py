"""The one follower of a growing session: complete appended lines, or a reset.

A session's files only ever grow at their end (the loggers append), get compressed by
retention (``x.jsonl`` becomes ``x.jsonl.gz``: another file) or are joined by a newer file
(daily rotation). :class:`SessionFollower` remembers, for every file it has read, the
file's identity: device, inode, how far it was read and the :data:`~src.query.lines.GUARD_BYTES`
bytes just before that point. :meth:`~SessionFollower.poll` then yields

* a :class:`Reset` first, when what was read no longer holds: a file was replaced (another
  inode under its name, or compressed away), shrank, was rewritten in place (the guard
  bytes differ, even at the same size), or a new file sorts before one already read. The
  follower then starts over from the first file (or from the end, see ``from_end``);
* ``(path, offset, line)`` for every complete line appended since the last poll, file by
  file in the session's order (a newer file of the session is read once the older ones
  are): the line without its newline, over :data:`~src.query.lines.MAX_LINE_BYTES` as its
  short stand-in (:func:`~src.query.lines.oversized_line`), blank lines skipped. A last
  line without its newline (still being written) waits for the next poll;
* :class:`Unreadable` for a damaged gzip file, after the lines that decoded before the
  damage (it is not read again while its identity holds).

A compressed file never grows: it is read once. Its torn last line, if any, is dropped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from src.query.files import GZIP_ERRORS, SessionFiles, open_segment, session_files
from src.query.lines import (
    BLOCK_SIZE,
    MAX_LINE_BYTES,
    bytes_before,
    iter_blocks,
    iter_range_blocks,
    split_lines,
)

__all__ = ["Line", "Reset", "SessionFollower", "Unreadable", "last_line_end"]

Line = tuple[Path, int, bytes]
"""``(path, offset, line)``: one complete line, without its newline."""

_TAIL_PROBE = 1 << 16


@dataclass(frozen=True)
class Reset:
    """What was read before no longer holds; ``reason`` says why (for logs and tests)."""

    reason: str


@dataclass(frozen=True)
class Unreadable:
    """``path`` (gzip) is damaged: the lines before the damage were yielded."""

    path: Path
    error: str


@dataclass
class _Followed:
    path: Path
    dev: int
    ino: int
    offset: int  # read up to here (a line start); for gzip: 1 once read
    guard: bytes  # plain files: the bytes just before ``offset``, as read
    gz: bool


class SessionFollower:
    """Follow the files of ``session_id`` under ``base``.

    ``from_end``: on the first poll and after every reset, what is in the files already is
    taken as read (up to the last complete line), and only what is appended afterwards is
    yielded. :attr:`session` is the session as seen by the last poll (``None``: no file).
    """

    def __init__(
        self,
        base: str | os.PathLike[str],
        session_id: str,
        *,
        from_end: bool = False,
        limit: int = MAX_LINE_BYTES,
    ) -> None:
        self.base = Path(base)
        self.session_id = session_id
        self.from_end = from_end
        self.limit = limit
        self.session: SessionFiles | None = None
        self.resets = 0
        self._files: list[_Followed] = []
        self._started = False

    @property
    def files(self) -> list[Path]:
        """The files taken in so far, in read order."""
        return [f.path for f in self._files]

    def offset(self, path: Path) -> int | None:
        """How far ``path`` has been read (``None``: not followed)."""
        for f in self._files:
            if f.path == path:
                return f.offset
        return None

    def poll(self) -> Iterator[Line | Reset | Unreadable]:
        """A :class:`Reset` (only ever first), then the lines appended since the last poll."""
        self.session = session = session_files(self.base, self.session_id)
        paths = list(session.files) if session else []
        reason = self._changed(paths)
        if reason is not None:
            self._files = []
            self.resets += 1
            yield Reset(reason)
        if self.from_end and (not self._started or reason is not None):
            self._skip_to_end(paths)
        self._started = True
        known = len(self._files)
        for path in paths[known:]:
            followed = _identify(path)
            if followed is None:
                break  # vanished between listing and reading: it comes back next poll
            self._files.append(followed)
        for followed in self._files:
            yield from self._read(followed)

    def _changed(self, paths: list[Path]) -> str | None:
        """Why the files read before are no longer what was read (``None``: they are)."""
        if paths[: len(self._files)] != [f.path for f in self._files]:
            return "the session's files changed (compressed, removed or a new older one)"
        for f in self._files:
            try:
                st = os.stat(f.path)
            except OSError:
                return f"{f.path.name} vanished"
            if (st.st_dev, st.st_ino) != (f.dev, f.ino):
                return f"{f.path.name} was replaced"
            if f.gz:
                continue
            if st.st_size < f.offset:
                return f"{f.path.name} shrank"
            if f.guard and bytes_before(f.path, f.offset, len(f.guard)) != f.guard:
                return f"{f.path.name} was rewritten in place"
        return None

    def _skip_to_end(self, paths: list[Path]) -> None:
        for path in paths:
            followed = _identify(path)
            if followed is None:
                break
            if followed.gz:
                followed.offset = 1
            else:
                followed.offset = last_line_end(path)
                followed.guard = bytes_before(path, followed.offset)
            self._files.append(followed)

    def _read(self, f: _Followed) -> Iterator[Line | Unreadable]:
        if f.gz:
            if f.offset:
                return  # a compressed file never grows
            f.offset = 1
            try:
                with open_segment(f.path) as fh:
                    for pos, line, complete in split_lines(
                        iter_blocks(fh, BLOCK_SIZE), 0, self.limit
                    ):
                        if complete:
                            yield f.path, pos, line
            except FileNotFoundError:
                return
            except GZIP_ERRORS as exc:
                yield Unreadable(f.path, str(exc))
            return
        try:
            fd = os.open(f.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return
        read = 0

        def counted(blocks: Iterator[bytes]) -> Iterator[bytes]:
            nonlocal read
            for block in blocks:
                read += len(block)
                yield block

        try:
            if os.fstat(fd).st_size <= f.offset:
                return
            start = f.offset
            blocks = counted(iter_range_blocks(fd, start, None, BLOCK_SIZE))
            for pos, line, complete in split_lines(blocks, start, self.limit):
                f.offset = pos  # everything before this line was handed over
                if not complete:
                    break  # still being written: read again from its start next time
                yield f.path, pos, line
            else:
                f.offset = start + read
        finally:
            f.guard = bytes_before(fd, f.offset) if f.offset else b""
            os.close(fd)


def _identify(path: Path) -> _Followed | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _Followed(path, st.st_dev, st.st_ino, 0, b"", path.name.endswith(".gz"))


def last_line_end(path: Path) -> int:
    """The offset just after the last newline in ``path`` (0 when there is none)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return 0
    try:
        pos = os.fstat(fd).st_size
        while pos > 0:
            step = min(_TAIL_PROBE, pos)
            block = os.pread(fd, step, pos - step)
            newline = block.rfind(b"\n")
            if newline >= 0:
                return pos - step + newline + 1
            pos -= step
        return 0
    finally:
        os.close(fd)
