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

A compressed file never grows: it is read once (and again after a reset, should it be
rewritten in place: its size or last bytes, the gzip trailer, differ). Its torn last
line, if any, is dropped.
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
from src.query.lines import last_line_end as _last_line_end_of  # of an open descriptor

__all__ = ["Line", "Reset", "SessionFollower", "Unreadable", "last_line_end"]

Line = tuple[Path, int, bytes]
"""``(path, offset, line)``: one complete line, without its newline."""


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
    guard: bytes  # the bytes just before ``offset`` (gzip: before ``size``), as read
    gz: bool
    size: int = 0  # gzip: the compressed size when read (its guard bytes end in the
    # trailer, CRC and length: a file rewritten in place to its old size differs there);
    # plain: how many bytes the last read saw (``offset`` plus a torn last line, if any)
    torn: bool = False  # its last line as read has no newline (plain: it may yet get one)


class SessionFollower:
    """Follow the files of ``session_id`` under ``base``.

    ``from_end``: on the first poll, what is in the files already is taken as read (up to
    the last complete line), and only what is appended afterwards is yielded; after a
    reset too, unless ``resume``.

    ``resume`` (a live feed, which must neither repeat nor lose a line): after a reset the
    follower does not start over but goes on with what is new. A file still the same
    (device and inode) and intact keeps its position; one truncated or rewritten in place
    is read from its start, as is a new plain file (the name's new file after a
    replacement); a new compressed file holds what was followed already and is not read.
    With ``hold``, the newest plain file stays open, so what was appended to it before it
    was moved or compressed away is still read (before the files that replace it).
    Call :meth:`close` when done.

    :attr:`session` is the session as seen by the last listing (``None``: no file).
    """

    def __init__(
        self,
        base: str | os.PathLike[str],
        session_id: str,
        *,
        from_end: bool = False,
        resume: bool = False,
        hold: bool = False,
        limit: int = MAX_LINE_BYTES,
    ) -> None:
        self.base = Path(base)
        self.session_id = session_id
        self.from_end = from_end
        self.resume = resume
        self.hold = hold
        self.limit = limit
        self.session: SessionFiles | None = None
        self.resets = 0
        self._files: list[_Followed] = []
        self._started = False
        self._held: tuple[int, _Followed] | None = None  # (descriptor, its file)
        self._listed: SessionFiles | None = None
        self.decompressed = 0  # gzip files read

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

    @property
    def position(self) -> tuple[Path | None, int]:
        """The newest plain file followed and how far it was read (``None, 0``: none)."""
        for f in reversed(self._files):
            if not f.gz:
                return f.path, f.offset
        return None, 0

    def adopt(self, files: list[tuple[Path, int, int, int, bool, bool]]) -> None:
        """Take ``files`` (path, device, inode, offset read to, compressed, torn: a
        compressed file's last line has no newline) as read, as if polled before (a saved
        summary state being resumed): the next poll goes on from there, or resets if they
        changed since."""
        self.close()
        self._files = []
        for path, dev, ino, offset, gz, torn in files:
            f = _Followed(path, dev, ino, offset, b"", gz, offset, torn and gz)
            if gz:
                _mark_read(f)
            elif offset:
                f.guard = bytes_before(path, offset)
            self._files.append(f)
        self._started = True

    def followed(self) -> list[tuple[Path, int, int, int, bool, bytes, int, bool]]:
        """The files taken in: (path, device, inode, offset read to, compressed, the bytes
        just before the offset as read, the size the last read saw, torn: the last line
        then had no newline); for a compressed file the offset is its size."""
        return [
            (f.path, f.dev, f.ino, f.size if f.gz else f.offset, f.gz, f.guard, f.size, f.torn)
            for f in self._files
        ]

    def torn_lines(self) -> int:
        """Torn last lines of the files taken in, as one pass over them counts them, but
        for the newest file's when it is plain (a line still being written waits)."""
        files = self._files
        if files and not files[-1].gz:
            files = files[:-1]
        return sum(f.torn for f in files)

    def close(self) -> None:
        """Close the held file (if any); a later poll opens it again."""
        if self._held is not None:
            os.close(self._held[0])
            self._held = None

    def poll(
        self, *, rescan: bool = True, listed: SessionFiles | None = None
    ) -> Iterator[Line | Reset | Unreadable]:
        """A :class:`Reset` (only ever first), then the lines appended since the last poll.

        ``rescan=False`` does not list the session's files (a directory scan) unless one
        of the known files changed: only newer files are missed until the next rescan.
        ``listed``: the session's files as the caller just listed them (an index over
        every session lists the directory once for all)."""
        self._listed = listed
        try:
            yield from self._poll(rescan or not self._started)
        finally:
            if self.hold:
                self._hold_newest()

    def _poll(self, rescan: bool) -> Iterator[Line | Reset | Unreadable]:
        paths = self._list() if rescan else [f.path for f in self._files]
        reason = self._changed(paths)
        if reason is not None and not rescan:
            paths = self._list()
        if reason is not None:
            self.resets += 1
            yield Reset(reason)
            if self.resume and self._started:
                yield from self._finish_held()
                self._files = self._resumed(paths)
            else:
                self.close()
                self._files = []
                if self.from_end:
                    self._skip_to_end(paths)
        elif self.from_end and not self._started:
            self._skip_to_end(paths)
        self._started = True
        known = len(self._files)
        for path in paths[known:]:
            followed = _identify(path)
            if followed is None:
                break  # vanished between listing and reading: it comes back next poll
            if followed.gz and self.resume and self.from_end:
                _mark_read(followed)  # compressed: before the start, or followed already
            self._files.append(followed)
        for followed in self._files:
            yield from self._read(followed)

    def _list(self) -> list[Path]:
        session, self._listed = self._listed, None
        if session is None:
            session = session_files(self.base, self.session_id)
        self.session = session
        return list(session.files) if session else []

    def _finish_held(self) -> Iterator[Line | Unreadable]:
        """The rest of the held file, if it is still what was read (moved away, say)."""
        if self._held is None:
            return
        fd, f = self._held
        try:
            intact = os.fstat(fd).st_size >= f.offset and (
                not f.guard or bytes_before(fd, f.offset, len(f.guard)) == f.guard
            )
        except OSError:
            intact = False
        if intact:
            yield from self._read(f)

    def _resumed(self, paths: list[Path]) -> list[_Followed]:
        known = {(f.dev, f.ino): f for f in self._files}
        out: list[_Followed] = []
        for path in paths:
            f = _identify(path)
            if f is None:
                break
            prev = known.get((f.dev, f.ino))
            if prev is not None and not prev.gz and prev.path == path:
                if _intact(prev):
                    f.offset, f.guard = prev.offset, prev.guard
            elif f.gz:
                _mark_read(f)
            out.append(f)
        return out

    def _hold_newest(self) -> None:
        newest = next((f for f in reversed(self._files) if not f.gz), None)
        if self._held is not None and self._held[1] is newest:
            return
        self.close()
        if newest is None:
            return
        try:
            fd = os.open(newest.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (newest.dev, newest.ino):
            os.close(fd)  # replaced meanwhile: the next poll sees it
            return
        self._held = fd, newest

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
                if f.offset and (
                    st.st_size != f.size or bytes_before(f.path, f.size, len(f.guard)) != f.guard
                ):
                    return f"{f.path.name} was rewritten in place"
                continue
            if st.st_size < f.offset:
                return f"{f.path.name} shrank"
            if not _intact(f):
                return f"{f.path.name} was rewritten in place"
        return None

    def _skip_to_end(self, paths: list[Path]) -> None:
        for path in paths:
            followed = _identify(path)
            if followed is None:
                break
            if followed.gz:
                _mark_read(followed)
            else:
                followed.offset = last_line_end(path)
                followed.guard = bytes_before(path, followed.offset)
            self._files.append(followed)

    def _read(self, f: _Followed) -> Iterator[Line | Unreadable]:
        if f.gz:
            if f.offset:
                return  # a compressed file never grows
            _mark_read(f)
            self.decompressed += 1
            try:
                with open_segment(f.path) as fh:
                    for pos, line, complete in split_lines(
                        iter_blocks(fh, BLOCK_SIZE), 0, self.limit
                    ):
                        if complete:
                            yield f.path, pos, line
                        else:
                            f.torn = True  # dropped, counted as one pass would
            except FileNotFoundError:
                return
            except GZIP_ERRORS as exc:
                yield Unreadable(f.path, str(exc))
            return
        held = self._held is not None and self._held[1] is f
        if self._held is not None and held:
            fd = self._held[0]
        else:
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

        start = f.offset
        try:
            size = os.fstat(fd).st_size
            if size <= f.offset:
                f.size, f.torn = size, False
                return
            blocks = counted(iter_range_blocks(fd, start, None, BLOCK_SIZE))
            for pos, line, complete in split_lines(blocks, start, self.limit):
                f.offset = pos  # everything before this line was handed over
                if not complete:
                    break  # still being written: read again from its start next time
                yield f.path, pos, line
            else:
                f.offset = start + read
            f.size, f.torn = start + read, f.offset < start + read
        finally:
            f.guard = bytes_before(fd, f.offset) if f.offset else b""
            if not held:
                os.close(fd)


def _mark_read(f: _Followed) -> None:
    """Take compressed ``f`` as read, remembering its size and last bytes."""
    try:
        f.size = os.stat(f.path).st_size
    except OSError:
        f.size = 0
    f.offset = 1
    f.guard = bytes_before(f.path, f.size)


def _intact(f: _Followed) -> bool:
    """``f`` (a plain file) still holds what was read: not shrunk, same guard bytes."""
    try:
        if os.stat(f.path).st_size < f.offset:
            return False
    except OSError:
        return False
    return not f.guard or bytes_before(f.path, f.offset, len(f.guard)) == f.guard


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
        return _last_line_end_of(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)
