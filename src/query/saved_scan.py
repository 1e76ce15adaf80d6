"""A one-session summary that starts from the saved state and reads only what is new.

:func:`summarize_session` is what :func:`~src.query.engine.summarize` does for one whole
session (no filter but the session): it opens the session's saved state
(:mod:`src.query.summary_state`); when the files still hold what it covers, only the
complete lines appended since are read (none: the saved summary is the answer), otherwise
the whole session is read once. Either way the state is then saved for the next reader
(when the log root is writable). The result equals one pass over the whole session.

A whole read of a big session (at least :data:`~src.query.parallel.MIN_PARALLEL_BYTES`
of plain files) is shared between processes (:func:`~src.query.parallel.scan_ordered`),
whose merged builder is exactly one pass's, so its state resumes as one pass's would;
small sessions, compressed files alone, or one usable core read in this process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from src.query import parallel
from src.query.analytics.sorted_samples import SortedSamples
from src.query.analytics.summary import SummaryBuilder
from src.query.analytics.summary_model import Summary
from src.query.files import GZIP_ERRORS, SessionFiles, open_segment, session_files
from src.query.lines import cap_lines, iter_blocks, iter_range_blocks
from src.query.parallel import MAX_OPEN_FILES, ProgressFn, default_workers, scan_ordered
from src.query.records import ParseStats
from src.query.state_marks import mark_holds_fd
from src.query.summary_state import (
    Mark,
    StateStore,
    last_line_end,
    mark_of,
    torn_lines,
    with_torn,
)

__all__ = ["IDLE_S", "SAVE_SHARE", "summarize_session"]

SAVE_SHARE = 16
"""A resumed read saves the state again once it read at least 1/16 of what the state
covered: saving costs about what reading 1/16 of the bytes does, so a reader after a few
appended events pays for those events and the state's opening, not for a save each time."""

IDLE_S = 1.0
"""A resumed read that read less than that still saves when the session's newest file was
last written at least this long ago. Otherwise a session that ended with a small tail
after its last save would never be saved again: every later reader would decode the whole
state and read the tail again (400k events + 400: ~80 ms a reader instead of ~4 ms). A
finished or paused session is thus answered from a current state once one reader paid for
the tail; a session still being written (a logger writes at least every second while a
session trades) is saved only by the 1/16 rule, so its readers do not rewrite a big state
on every call. Readers within a second of the last write still pay for the tail."""


@dataclass
class _Read:
    marks: list[Mark]
    torn: int  # torn last lines of the files read (not in the builder's stats)
    complete: bool  # every file was read as it is (none vanished nor damaged)
    moved: bool = False  # the file to go on from is no longer the one its mark covers


def summarize_session(
    base: str | os.PathLike[str],
    session: SessionFiles,
    *,
    gap_threshold_s: float,
    as_of: float | None = None,
    progress: ProgressFn | None = None,
    save: bool = True,
    workers: int | None = None,
) -> Summary:
    """The summary of ``session`` as of ``as_of``; ``workers``: processes a whole read
    may use (default: :func:`~src.query.parallel.default_workers`)."""
    workers = default_workers() if workers is None else workers
    as_of = time.time() if as_of is None else as_of
    paths = list(session.files)
    store = StateStore(base, session.session_id, SummaryBuilder(gap_threshold_s=gap_threshold_s))
    saved = store.load()
    state = None
    earlier_torn = None
    if saved is not None and store.holds(saved, paths):
        earlier_torn = torn_lines(saved.marks)
    if saved is not None and earlier_torn is None:
        saved.close()
    if saved is not None and earlier_torn is not None:
        last = saved.marks[-1]
        new_files = paths[len(saved.marks) :]
        tail_torn = _tail_torn(paths[len(saved.marks) - 1], last)
        if not new_files and tail_torn is not None and tail_torn[0] == last.offset:
            # Nothing new but perhaps a torn last line: the saved summary is the answer.
            summary = saved.clock.age(saved.summary, as_of)
            saved.close()
            return _located(with_torn(summary, earlier_torn + tail_torn[1]), session)
        state = saved.state()
    covered = 0  # bytes the resumed state covered (0: read from the start)
    for exact_steps in (False, True):
        read: _Read | None = None
        if state is not None and saved is not None:
            builder, stats, kept = state
            marks = saved.marks
            covered = _covered(marks)
            done = marks[:-1]
            start = [(paths[len(marks) - 1], marks[-1])] + [(p, None) for p in paths[len(marks) :]]
            state = None
            read = _read(store, builder, stats, start, progress, len(paths))
            if read.moved:
                # Replaced under its name after the state was checked (the retention
                # hand-off compresses a file away and the logger starts a new one): list
                # the session's files again (the compressed one is new) and read them all.
                saved, read = None, None
                relisted = session_files(base, session.session_id)
                if relisted is not None:
                    session = relisted
                paths = list(session.files)
        if read is None:
            covered = 0
            kept, done = SortedSamples(), []
            builder, stats, read = _read_whole(
                store, paths, gap_threshold_s, exact_steps, progress, workers
            )
        if not builder.needs_exact_steps:
            break
    assert read is not None  # every pass reads
    marks = done + read.marks
    torn = torn_lines(marks)
    if torn is None:  # pragma: no cover - every mark made here knows its torn line
        torn = 0
    newest = marks[-1] if marks else None
    last_torn = 0
    if newest is not None:
        last_torn = bool(newest.torn) if newest.gz else newest.size > newest.offset
    summary, clock = builder.clocked_result(stats, as_of=as_of, keep=kept)
    worth = not covered or (_covered(marks) - covered) * SAVE_SHARE >= covered
    if not worth and saved is not None and paths:
        grew = _covered(marks) > covered or len(marks) > len(saved.marks)
        worth = grew and _idle(paths[-1])
    if save and read.complete and worth:
        store.save(marks, builder, stats, kept, summary, clock, as_of)
    return _located(with_torn(summary, torn + int(last_torn)), session)


def _covered(marks: Sequence[Mark]) -> int:
    return sum(m.offset for m in marks)


def _idle(path: Path) -> bool:
    """``path`` was last written at least :data:`IDLE_S` ago."""
    try:
        return time.time() - os.stat(path).st_mtime >= IDLE_S
    except OSError:
        return False


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _located(summary: Summary, session: SessionFiles) -> Summary:
    return summary.located(session_id=session.session_id, found=True, size_bytes=session.size_bytes)


def _tail_torn(path: Path, mark: Mark) -> tuple[int, int] | None:
    """(end of the last complete line, 1 if a torn line follows it) of the newest file
    the state covers (None: unreadable, or no longer the file the state covers)."""
    if mark.gz:
        return mark.offset, 1 if mark.torn else 0
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not mark_holds_fd(fd, mark, last=True):
            return None  # replaced since the state was checked: not the state's file
        size = os.fstat(fd).st_size
        end = last_line_end(fd, size, floor=mark.offset)
        return end, 1 if size > end else 0
    except OSError:
        return None
    finally:
        os.close(fd)


def _read_shared(
    store: StateStore,
    paths: Sequence[Path],
    gap_threshold_s: float,
    exact_steps: bool,
    progress: ProgressFn | None,
    workers: int,
) -> tuple[SummaryBuilder, ParseStats, _Read] | None:
    """Read the whole session with up to ``workers`` processes, as :func:`_read` would in
    this one (the same counts, marks and builder). None: read it in this process (too
    small, one worker, compressed files only, a file vanished or could not be read)."""
    plain = [p for p in paths if not p.name.endswith(".gz")]
    if workers < 2 or not plain or len(plain) > MAX_OPEN_FILES:
        return None
    fds: dict[Path, tuple[int, int, int]] = {}  # plain file -> (descriptor, size, line end)
    try:
        files: list[tuple[Path, int | None, int]] = []
        gz_seen: dict[Path, tuple[int, int, int, int]] = {}  # identity before the read
        for path in paths:
            if path.name.endswith(".gz"):
                st = path.stat()
                gz_seen[path] = _identity(st)
                files.append((path, None, st.st_size))
                continue
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            size = os.fstat(fd).st_size
            fds[path] = (fd, size, last_line_end(fd, size, floor=0))
            files.append((path, fd, fds[path][2]))
        if sum(end for _, _, end in fds.values()) < parallel.MIN_PARALLEL_BYTES:
            return None
        done = scan_ordered(
            files, gap_threshold_s, progress, workers=workers, exact_steps=exact_steps
        )
        if done is None:
            return None
        builder, stats, gz_torn = done
        out = _Read([], 0, stats.files == len(paths) and not stats.unreadable_files)
        for index, path in enumerate(paths):
            name = store.rel(path)
            if name is None:
                out.complete = False
                name = ""
            if path in fds:
                fd, size, end = fds[path]
                new = mark_of(fd, name, offset=end, gz=False)
                out.marks.append(
                    Mark(new.name, new.dev, new.ino, False, end, size, new.head, new.guard)
                )
                continue
            torn = gz_torn.get(index)
            if torn is None:  # vanished or unreadable: not in the state (none is saved)
                continue
            # A torn last line is counted by the caller, not in the saved counts.
            stats.total_lines -= torn
            stats.invalid_lines -= torn
            stats.torn_lines -= torn
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                out.complete = False
                continue
            try:
                if _identity(os.fstat(fd)) != gz_seen[path]:
                    out.complete = False  # replaced while read: the mark would not be its
                out.marks.append(mark_of(fd, name, offset=0, gz=True, torn=bool(torn)))
            finally:
                os.close(fd)
        return builder, stats, out
    except OSError:
        return None
    finally:
        for fd, _, _ in fds.values():
            os.close(fd)


def _read_whole(
    store: StateStore,
    paths: list[Path],
    gap_threshold_s: float,
    exact_steps: bool,
    progress: ProgressFn | None,
    workers: int,
) -> tuple[SummaryBuilder, ParseStats, _Read]:
    """A read of every file from its start (the fork scan when it is worth it)."""
    shared = _read_shared(store, paths, gap_threshold_s, exact_steps, progress, workers)
    if shared is not None:
        return shared
    builder = SummaryBuilder(gap_threshold_s=gap_threshold_s, exact_steps=exact_steps)
    stats = ParseStats()
    read = _read(store, builder, stats, [(p, None) for p in paths], progress, len(paths))
    return builder, stats, read


def _read(
    store: StateStore,
    builder: SummaryBuilder,
    stats: ParseStats,
    start: Sequence[tuple[Path, Mark | None]],
    progress: ProgressFn | None,
    files: int,
) -> _Read:
    """Consume the complete lines of each file from its mark (None: its start)."""
    out = _Read([], 0, True)
    first = files - len(start)
    before = stats.total_lines  # progress reports the lines read by this call
    for index, (path, mark) in enumerate(start, first):
        report = None
        if progress is not None:
            done = stats.total_lines - before

            def report(lines: int, index: int = index, done: int = done) -> None:
                progress(index, files, done + lines)

        name = store.rel(path)
        gz = path.name.endswith(".gz")
        if name is None:
            out.complete = False
            name = ""
        if mark is None:
            stats.files += 1
        if gz:
            if mark is not None:  # read whole before: nothing new in a compressed file
                out.marks.append(mark)
                continue
            torn_before = stats.torn_lines
            try:
                read_as = _identity(os.stat(path))
                with open_segment(path) as fh:
                    builder.consume(cap_lines(iter_blocks(fh)), stats, progress=report)
                    torn = stats.torn_lines - torn_before
                    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                stats.files -= 1
                out.complete = False
                continue
            except GZIP_ERRORS:
                stats.note_unreadable(path)
                out.complete = False
                continue
            # A torn last line is counted by the caller, not in the saved counts.
            stats.total_lines -= torn
            stats.invalid_lines -= torn
            stats.torn_lines -= torn
            try:
                if _identity(os.fstat(fd)) != read_as:
                    out.complete = False  # replaced while read: the mark would not be its
                out.marks.append(mark_of(fd, name, offset=0, gz=True, torn=bool(torn)))
            finally:
                os.close(fd)
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            stats.files -= mark is None
            out.complete = False
            continue
        try:
            if mark is not None and not mark_holds_fd(fd, mark, last=True):
                out.moved = True
                return out
            size = os.fstat(fd).st_size
            begin = 0 if mark is None else mark.offset
            end = last_line_end(fd, size, floor=begin)
            if end > begin:
                builder.consume(
                    cap_lines(iter_range_blocks(fd, begin, end)), stats, progress=report
                )
            new = mark_of(fd, name, offset=end, gz=False)
            # Sized as read: a line appended meanwhile is read next time.
            out.marks.append(
                Mark(new.name, new.dev, new.ino, False, end, size, new.head, new.guard)
            )
        finally:
            os.close(fd)
        if progress is not None:
            progress(index + 1, files, stats.total_lines - before)
    return out
