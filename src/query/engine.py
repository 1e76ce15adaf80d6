"""The query engine every reader goes through: scans, summaries, newest-first tails.

* :func:`summarize` streams every line once (constant memory apart from the analytics'
  open pairs) and returns exact counts, parse statistics and analytics. A big read is
  split into byte ranges summarised by forked workers and merged exactly
  (:mod:`src.query.parallel`): the same result, in a fraction of the time.
* :func:`tail` returns the newest matching events, reading plain files backwards from the
  end, so its cost grows with ``limit``, not with the file. The filter is applied before
  the limit.
* :func:`iter_events` streams matching events forward, fully decoded (exports, ``--json``).
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Callable, Generator, Iterator
from dataclasses import replace
from pathlib import Path

from src.query.analytics.summary import Matcher, SummaryBuilder
from src.query.analytics.summary_model import Summary
from src.query.analytics.timestamps import DEFAULT_GAP_THRESHOLD_S
from src.query.files import GZIP_ERRORS, SessionFiles, list_sessions, open_segment, session_files
from src.query.filters import EventFilter
from src.query.lines import BLOCK_SIZE, cap_lines, iter_blocks, line_batches
from src.query.paging import collect_back
from src.query.parallel import ProgressFn, default_workers, scan_parallel
from src.query.records import ParseStats, Record, decode_after_fragment, decode_whole
from src.query.saved_scan import summarize_session

__all__ = [
    "BytesProgressFn",
    "ProgressFn",
    "iter_events",
    "matching_events",
    "scan",
    "scan_files",
    "select_sessions",
    "summarize",
    "tail",
]

# progress(bytes): that many more bytes of the source were read (streaming exports).
BytesProgressFn = Callable[[int], None]


def select_sessions(base: str | os.PathLike[str], flt: EventFilter) -> list[SessionFiles]:
    """The sessions a filter reads: one (if named and present) or all under ``base``."""
    if flt.session_id is not None:
        found = session_files(base, flt.session_id)
        return [found] if found is not None else []
    return list_sessions(base)


def summarize(
    base: str | os.PathLike[str],
    flt: EventFilter | None = None,
    *,
    as_of: float | None = None,
    gap_threshold_s: float = DEFAULT_GAP_THRESHOLD_S,
    progress: ProgressFn | None = None,
    workers: int | None = None,
    saved_state: bool = True,
) -> Summary:
    """Counts, time range, parse statistics and analytics of every matching event.

    Big reads are split across ``workers`` processes (default: the usable CPUs, at most
    4; 1 reads in this process only); the result is the same either way.

    A whole session (no filter but ``session_id``) starts from its saved state and reads
    only what was appended since, then saves the state (:mod:`src.query.saved_scan`);
    ``saved_state=False`` reads everything and saves nothing.
    """
    flt = flt or EventFilter()
    sessions = select_sessions(base, flt)
    if saved_state and flt.session_id is not None and flt.is_trivial and len(sessions) == 1:
        return summarize_session(
            base,
            sessions[0],
            gap_threshold_s=gap_threshold_s,
            as_of=as_of,
            progress=progress,
            workers=workers,
        )
    match = None if flt.is_trivial else flt.matches
    paths = [p for s in sessions for p in s.files]
    builder, stats = scan(paths, gap_threshold_s, match, progress, workers=workers)
    return builder.result(stats, as_of=as_of).located(
        session_id=flt.session_id,
        found=bool(sessions),
        size_bytes=sum(s.size_bytes for s in sessions),
    )


def scan(
    paths: list[Path],
    gap_threshold_s: float,
    match: Matcher | None,
    progress: ProgressFn | None = None,
    *,
    workers: int | None = None,
    range_bytes: int | None = None,
) -> tuple[SummaryBuilder, ParseStats]:
    """One summary pass over ``paths`` in order: in parallel when big enough.

    ``range_bytes`` overrides the size of the parallel ranges (tests force many).
    """
    workers = default_workers() if workers is None else workers
    done: tuple[SummaryBuilder, ParseStats] | None = None
    for exact_steps in (False, True):
        done = scan_parallel(
            paths,
            gap_threshold_s,
            match,
            progress,
            workers=workers,
            range_bytes=range_bytes,
            exact_steps=exact_steps,
        )
        if done is None:
            done = scan_files(paths, gap_threshold_s, match, progress, exact_steps=exact_steps)
        if not done[0].needs_exact_steps:
            break
    assert done is not None
    return done


def scan_files(
    paths: list[Path],
    gap_threshold_s: float,
    match: Matcher | None,
    progress: ProgressFn | None,
    *,
    exact_steps: bool = False,
) -> tuple[SummaryBuilder, ParseStats]:
    """One pass over ``paths`` in order, in this process."""
    builder = SummaryBuilder(gap_threshold_s=gap_threshold_s, exact_steps=exact_steps)
    stats = ParseStats()
    for index, path in enumerate(paths):
        stats.files += 1
        report = None
        if progress is not None:
            done = stats.total_lines

            def report(lines: int, index: int = index, done: int = done) -> None:
                progress(index, len(paths), done + lines)

        try:
            with open_segment(path) as fh:
                builder.consume(cap_lines(iter_blocks(fh)), stats, match, progress=report)
        except FileNotFoundError:
            stats.files -= 1  # vanished between listing and reading (retention)
        except GZIP_ERRORS:
            stats.note_unreadable(path)  # what decoded before the damage was counted
        if progress is not None:
            progress(index + 1, len(paths), stats.total_lines)
    return builder, stats


FIRST_CHUNK = 1
"""Events read from each session at first when merging newest-first across sessions (one:
most sessions give none or few of the newest events; chunks double for those that give more)."""


class _NewestFirst:
    """One session's matching events, newest first, read in chunks that double in size.

    Between chunks no file of the session is open (each chunk is a
    :func:`~src.query.paging.collect_back` that closes what it opens, and resumes from the
    position of the last event read), so merging any number of sessions holds at most one
    file open at a time, whatever happens to the merge.
    """

    def __init__(self, session: SessionFiles, flt: EventFilter, limit: int, chunk: int) -> None:
        self.session, self.flt, self.limit = session, flt, limit
        self.chunk = min(limit, chunk)
        self.index: int = len(session.files) - 1
        self.end: int | None = None
        self.done = False

    def __iter__(self) -> Generator[Record, None, None]:
        while not self.done:
            entries = collect_back(self.session, self.flt, self.chunk, self.index, self.end)
            if len(entries) < self.chunk:
                self.done = True
            else:
                self.index, self.end, _ = entries[-1]
                if self.session.files[self.index].name.endswith(".gz"):
                    self.chunk = self.limit  # each chunk decompresses the file: take all
                else:
                    self.chunk = min(self.chunk * 2, self.limit)
            for _, _, rec in entries:
                yield rec


def tail(
    base: str | os.PathLike[str], flt: EventFilter | None = None, limit: int = 200
) -> list[Record]:
    """The newest ``limit`` matching events, newest first (merged by time across sessions).

    However many sessions there are, at most one file is open at a time.
    """
    flt = flt or EventFilter()
    if limit <= 0:
        return []
    sessions = select_sessions(base, flt)
    if not sessions:
        return []
    chunk = limit if len(sessions) == 1 else FIRST_CHUNK
    streams = [iter(_NewestFirst(s, flt, limit, chunk)) for s in sessions]
    merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=lambda r: -r.t)
    out: list[Record] = []
    try:
        for rec in merged:
            out.append(rec)
            if len(out) >= limit:
                break
    finally:
        for stream in streams:
            stream.close()
    return out


def iter_events(
    base: str | os.PathLike[str],
    flt: EventFilter | None = None,
    stats: ParseStats | None = None,
    *,
    progress: BytesProgressFn | None = None,
) -> Iterator[Record]:
    """Every matching event in file order (session by session), fully decoded.

    ``progress(n)`` is told that ``n`` more bytes of the source were read: a plain file's
    blocks (64 KiB) as their lines are done, and a gzip file's size once it is done (its
    compressed offset is not known while reading).

    Lines come a block at a time (:func:`~src.query.lines.line_batches`) and are judged
    in this loop by :func:`~src.query.records.decode_whole` (the rule of
    :func:`~src.query.records.decode_record`, one call per line); a record is built only
    for a line the filter keeps.
    """
    flt = flt or EventFilter()
    stats = stats if stats is not None else ParseStats()
    matches = None if flt.is_trivial else flt.matches
    kinds = flt.kinds
    for session in select_sessions(base, flt):
        for path in session.files:
            stats.files += 1
            plain = progress is not None and not path.name.endswith(".gz")
            try:
                with open_segment(path) as fh:
                    blocks = iter_blocks(fh, BLOCK_SIZE)
                    if plain:
                        blocks = _sized(blocks, progress)  # type: ignore[arg-type]
                    for lines, complete in line_batches(blocks):
                        if not complete:  # a torn last line
                            stats.total_lines += 1
                            stats.invalid_lines += 1
                            stats.torn_lines += 1
                            continue
                        for line in lines:
                            stats.total_lines += 1
                            whole = decode_whole(line)
                            if whole is not None:
                                data, ts = whole
                                fragment = False
                            else:
                                found = decode_after_fragment(line)
                                if found is None:
                                    stats.invalid_lines += 1
                                    continue
                                data, ts, _ = found
                                fragment = True
                                stats.total_lines += 1  # the killed writer's fragment
                                stats.invalid_lines += 1
                            stats.valid_events += 1
                            if matches is None:
                                yield Record(data, ts.timestamp(), fragment)
                                continue
                            kind = data["kind"]
                            if kinds is not None and kind not in kinds:
                                continue  # most lines a kind filter leaves out: cheaply
                            t = ts.timestamp()
                            symbol = data.get("symbol")  # as Record.symbol reads it
                            if matches(kind, symbol if isinstance(symbol, str) else "", t):
                                yield Record(data, t, fragment)
            except FileNotFoundError:
                pass
            except _ProgressFailed as failed:
                raise failed.error from None  # the caller's own error, as raised
            except GZIP_ERRORS:
                stats.note_unreadable(path)  # what decoded before the damage was counted
            if progress is not None and not plain:
                progress(_size(path))


def matching_events(
    base: str | os.PathLike[str],
    flt: EventFilter,
    stats: ParseStats | None = None,
    progress: BytesProgressFn | None = None,
) -> Iterator[tuple[str, Record]]:
    """``(session_id, record)`` for every match, session by session, each in file order."""
    for session in select_sessions(base, flt):
        one = replace(flt, session_id=session.session_id)
        for rec in iter_events(base, one, stats, progress=progress):
            yield session.session_id, rec


class _ProgressFailed(Exception):
    """The caller's progress callback raised ``error`` (not a read error of the file)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


def _sized(blocks: Iterator[bytes], progress: BytesProgressFn) -> Iterator[bytes]:
    """``blocks``, telling ``progress`` each one's size once the next is asked for (its
    lines are then done) or the blocks end. What ``progress`` raises comes out as
    :class:`_ProgressFailed`, so that it is not taken for a damaged file."""
    for block in blocks:
        yield block
        try:
            progress(len(block))
        except Exception as exc:
            raise _ProgressFailed(exc) from exc


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
