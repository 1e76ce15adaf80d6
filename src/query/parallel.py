"""Summaries of big reads on several cores: byte ranges, forked workers, an exact merge.

The files of a read are cut into ranges of about equal size at line starts (a gzip
file is never cut: it cannot be read from the middle). Each range is summarised on its
own by a :class:`~src.query.analytics.summary.SummaryBuilder`: the first one as usual,
the others knowing that an unknown part of the read comes before them. Forked worker
processes take the earlier ranges and send their builders back through a pipe; this
process takes the last ones. The builders are then merged in file order
(:meth:`SummaryBuilder.absorb`), which gives exactly the summary one pass would; a range
whose merge cannot be exact is re-read here instead.

:func:`scan_ordered` goes further: the builder it returns is the one a single pass would
leave (samples in file order, every pending intent, completed order and fill id kept),
so it can be saved and resumed (:mod:`src.query.saved_scan`). :func:`scan_parallel`
serves reads that only want the summary: workers hand back their samples sorted, and
the last merge keeps only what the summary reads.

Forking (not spawning) keeps the start-up cost at a few milliseconds: the worker already
has every module and the open files. Workers only read files and compute; they never
run the parent's cleanup (``os._exit``) nor its garbage collector.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from src.common.fdio import write_all
from src.query.analytics import pairing_state
from src.query.analytics.summary import LineProgress, Matcher, SummaryBuilder
from src.query.files import GZIP_ERRORS, open_segment
from src.query.lines import cap_lines, iter_blocks, iter_range_blocks
from src.query.records import ParseStats

__all__ = [
    "MIN_PARALLEL_BYTES",
    "Piece",
    "ProgressFn",
    "default_workers",
    "plan_ranges",
    "run_forked",
    "scan_ordered",
    "scan_parallel",
]

MIN_PARALLEL_BYTES = 32 << 20  # below this, starting a worker costs more than it saves
MAX_WORKERS = 4
_GZIP_RATIO = 6  # rough size of a gzip file's content, for balancing ranges only
_FIND_STEP = 1 << 16
_RANGE_SEQ = 1 << 48  # order numbers per range: more than any range has lines
_LAST_SHARE = 0.95  # this process reads the last range, then merges: give it a bit less
MAX_OPEN_FILES = 16
"""Plain files a parallel read holds open (the biggest ones; only those can be cut into
ranges). Smaller files stay whole in their range and are opened by path when read, so a
read over thousands of sessions needs few descriptors."""

# progress(files_done, files_total, lines_read): called between files and about every
# 2**16 lines (in a parallel read: with the lines this process has read, then at the end).
ProgressFn = Callable[[int, int, int], None]


@dataclass(frozen=True)
class Piece:
    """Bytes ``start`` to ``end`` (None: to the end) of one file of the read."""

    index: int  # position of the file in the read
    path: Path
    fd: int | None  # open descriptor of a plain file that may be cut; None: opened by path
    start: int = 0
    end: int | None = None


def default_workers() -> int:
    """Processes a big scan uses: the usable CPUs (at most 4), 1 where fork is unsafe."""
    if not sys.platform.startswith("linux"):
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cpus))


def _next_line_start(fd: int, offset: int, size: int) -> int:
    """The first line start at or after ``offset`` (``size`` when there is none)."""
    pos = offset - 1  # a line starts at `offset` when the byte before it is a newline
    while pos < size:
        chunk = os.pread(fd, _FIND_STEP, pos)
        if not chunk:
            break
        found = chunk.find(b"\n")
        if found >= 0:
            return pos + found + 1
        pos += len(chunk)
    return size


def plan_ranges(
    files: Sequence[tuple[Path, int | None, int]], ranges: int, last_share: float = 1.0
) -> list[list[Piece]]:
    """Cut ``files`` (path, descriptor or None for a file never cut, size) into at most
    ``ranges`` ranges of about equal weight (the last one ``last_share`` of the others),
    each a list of pieces in file order."""
    weights = [size * _GZIP_RATIO if _is_gzip(path) else size for path, _, size in files]
    total = sum(weights)
    share = total / (ranges - 1 + last_share) if ranges > 1 else total
    cuts: set[tuple[int, int]] = set()  # (file, offset of a line start); (i, 0): before file i
    done = index = 0
    for k in range(1, ranges):
        target = int(share * k)
        while done + weights[index] <= target:
            done += weights[index]
            index += 1
        _, fd, size = files[index]
        if target == done:
            cuts.add((index, 0))
        elif fd is None:
            cuts.add((index + 1, 0))  # gzip (or a small file) is never cut: the range ends after it
        else:
            offset = _next_line_start(fd, target - done, size)
            cuts.add((index, offset) if offset < size else (index + 1, 0))
    out: list[list[Piece]] = [[]]
    for index, (path, fd, _) in enumerate(files):
        if (index, 0) in cuts and out[-1]:
            out.append([])
        start = 0
        for _, offset in sorted(c for c in cuts if c[0] == index and c[1] > 0):
            out[-1].append(Piece(index, path, fd, start, offset))
            out.append([])
            start = offset
        out[-1].append(Piece(index, path, fd, start, None))
    return [r for r in out if r]


def scan_range(
    builder: SummaryBuilder,
    stats: ParseStats,
    pieces: Sequence[Piece],
    match: Matcher | None,
    progress: LineProgress | None = None,
    gz_torn: dict[int, int] | None = None,
) -> None:
    """Consume ``pieces`` into ``builder``, counting files as one sequential pass does.

    A read error in a plain file propagates (:func:`scan_parallel` then gives up);
    gzip files are counted unreadable exactly as in a sequential pass. ``gz_torn`` gets
    the torn last lines (0 or 1) of each gzip file read whole, by file index.
    """
    for piece in pieces:
        if piece.fd is not None:
            stats.files += piece.start == 0
            blocks = cap_lines(iter_range_blocks(piece.fd, piece.start, piece.end))
            builder.consume(blocks, stats, match, progress=progress)
            continue
        stats.files += 1
        torn = stats.torn_lines
        try:
            with open_segment(piece.path) as fh:
                builder.consume(cap_lines(iter_blocks(fh)), stats, match, progress=progress)
        except FileNotFoundError:
            stats.files -= 1
        except GZIP_ERRORS:
            stats.note_unreadable(piece.path)
        else:
            if gz_torn is not None:
                gz_torn[piece.index] = stats.torn_lines - torn


_Part = tuple[SummaryBuilder, ParseStats, dict[int, int]]


def _summarise_ranges(
    ranges: Sequence[tuple[int, list[Piece]]],
    gap_threshold_s: float,
    match: Matcher | None,
    exact_steps: bool,
    ordered: bool,
    progress: LineProgress | None = None,
) -> list[_Part]:
    out = []
    for number, pieces in ranges:
        builder = SummaryBuilder(
            gap_threshold_s=gap_threshold_s,
            follows_unknown=number > 0,
            seq_base=number * _RANGE_SEQ,
            exact_steps=exact_steps,
        )
        stats = ParseStats()
        torn: dict[int, int] = {}
        scan_range(builder, stats, pieces, match, progress, torn)
        if ordered:
            pairing_state.pack_samples(builder.pairer)  # in file order
        else:
            builder.pairer.finish_part()  # sorted runs: the summary's sort is linear
        out.append((builder, stats, torn))
    return out


def _fork(work: Callable[[], Any]) -> tuple[int, int]:
    """Run ``work`` in a forked child; returns (pid, read end of its result pipe)."""
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() in a threaded process. The child only reads
        # files and computes; it takes no lock another thread could hold.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which never returns
        code = 0
        try:
            gc.disable()  # no finalizers of the parent's garbage; no copy-on-write churn
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.close(read_fd)
            try:
                result: tuple[str, Any] = ("ok", work())
            except BaseException as exc:  # sent back, not raised: the parent decides
                result = ("error", f"{type(exc).__name__}: {exc}")
            data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
            write_all(write_fd, data)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    return pid, read_fd


def _discard(pid: int, read_fd: int) -> None:
    os.close(read_fd)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _collect(pid: int, read_fd: int) -> Any | None:
    """The child's result, or None when it failed; reaps the child."""
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            data = pipe.read()
    except BaseException:  # interrupted: the child may be blocked writing to us
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    os.waitpid(pid, 0)
    try:
        status, value = pickle.loads(data)
    except Exception:  # nothing or a partial answer: the child died (killed, no memory)
        return None
    return value if status == "ok" else None


_T = TypeVar("_T")


def _is_gzip(path: Path) -> bool:
    return path.name.endswith(".gz")


def run_forked(jobs: Sequence[Callable[[], _T]]) -> list[_T | None]:
    """Run every job but the last in a forked child and the last in this process; their
    results in order (None for a child that failed: redo its job if it matters)."""
    children: list[tuple[int, int]] = []
    try:
        for job in jobs[:-1]:
            children.append(_fork(job))
        mine = jobs[-1]()
        out: list[_T | None] = []
        while children:
            out.append(_collect(*children.pop(0)))
    finally:
        for child in children:
            _discard(*child)
    return [*out, mine]


def _open_plain(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None


def _sizes(paths: Sequence[Path]) -> list[tuple[Path, int]]:
    out = []
    for path in paths:
        try:
            out.append((path, path.stat().st_size))
        except FileNotFoundError:
            if _is_gzip(path):
                out.append((path, 0))  # counted as a sequential pass counts it
    return out


def scan_parallel(
    paths: Sequence[Path],
    gap_threshold_s: float,
    match: Matcher | None,
    progress: ProgressFn | None,
    *,
    workers: int,
    range_bytes: int | None = None,
    exact_steps: bool = False,
) -> tuple[SummaryBuilder, ParseStats] | None:
    """Summarise ``paths`` with up to ``workers`` processes.

    ``None`` when the read is too small to gain from it (under ``MIN_PARALLEL_BYTES``
    or a single range), or when a file could not be read: then read sequentially.
    ``range_bytes`` (default: an equal share per worker) sets how big ranges are.
    """
    fds: list[int] = []
    try:
        sized = _sizes(paths)
        plain = sorted(
            (i for i, (p, _) in enumerate(sized) if not _is_gzip(p)), key=lambda i: -sized[i][1]
        )
        cut = set(plain[:MAX_OPEN_FILES])  # only the biggest plain files are held and cut
        files: list[tuple[Path, int | None, int]] = []
        for i, (path, size) in enumerate(sized):
            if i not in cut:
                files.append((path, None, size))
                continue
            fd = _open_plain(path)
            if fd is None:
                continue  # vanished since listing: a sequential pass would skip it too
            fds.append(fd)
            files.append((path, fd, os.fstat(fd).st_size))
        total = sum(size for _, _, size in files)
        if workers < 2 or (range_bytes is None and total < MIN_PARALLEL_BYTES):
            return None
        if range_bytes is None:
            ranges = list(enumerate(plan_ranges(files, workers, _LAST_SHARE)))
        else:
            ranges = list(enumerate(plan_ranges(files, -(-total // max(1, range_bytes)))))
        if len(ranges) < 2:
            return None
        processes = min(workers, len(ranges))
        done = _run(
            ranges, processes, gap_threshold_s, match, progress, len(paths), exact_steps, False
        )
        return None if done is None else (done[0], done[1])
    except OSError:
        return None
    finally:
        for fd in fds:
            os.close(fd)


def scan_ordered(
    files: Sequence[tuple[Path, int | None, int]],
    gap_threshold_s: float,
    progress: ProgressFn | None,
    *,
    workers: int,
    exact_steps: bool = False,
) -> _Part | None:
    """One pass's builder over ``files``, read with up to ``workers`` processes.

    ``files``: (path, descriptor, end) of a plain file, read from its start to ``end``
    (the caller's line end), or (path, None, size) of a gzip file, read whole. Returns
    the builder (exactly what one pass in file order leaves, see
    :meth:`RangePairer.merge_into`), the parse counts and the torn last lines of the
    gzip files read (by index); None when there are fewer than two ranges or a plain
    file could not be read: then read in one process.
    """
    total = sum(end for _, _, end in files)
    try:
        if workers < 2 or not total:
            return None
        planned = plan_ranges(files, workers, _LAST_SHARE)
        ends = {index: end for index, (_, fd, end) in enumerate(files) if fd is not None}
        ranges = [
            (number, [_bounded(piece, ends) for piece in pieces])
            for number, pieces in enumerate(planned)
        ]
        if len(ranges) < 2:
            return None
        processes = min(workers, len(ranges))
        return _run(
            ranges, processes, gap_threshold_s, None, progress, len(files), exact_steps, True
        )
    except OSError:
        return None


def _bounded(piece: Piece, ends: dict[int, int]) -> Piece:
    """A plain file's last piece ends at the caller's end, not at the end of the file."""
    if piece.end is not None or piece.fd is None:
        return piece
    return Piece(piece.index, piece.path, piece.fd, piece.start, ends[piece.index])


def _run(
    ranges: list[tuple[int, list[Piece]]],
    processes: int,
    gap_threshold_s: float,
    match: Matcher | None,
    progress: ProgressFn | None,
    files: int,
    exact_steps: bool,
    ordered: bool,
) -> _Part | None:
    # Contiguous shares of ranges; this process takes the last share.
    bounds = [len(ranges) * k // processes for k in range(processes + 1)]
    shares = [ranges[bounds[k] : bounds[k + 1]] for k in range(processes)]
    report = None
    if progress is not None:

        def report(lines: int) -> None:
            progress(0, files, lines)  # lines this process has read so far

    children: list[tuple[int, int]] = []
    try:
        for share in shares[:-1]:

            def work(share: list[tuple[int, list[Piece]]] = share) -> Any:
                return _summarise_ranges(share, gap_threshold_s, match, exact_steps, ordered)

            children.append(_fork(work))
        mine = _summarise_ranges(shares[-1], gap_threshold_s, match, exact_steps, ordered, report)
        parts: list[_Part] = []
        while children:
            got = _collect(*children.pop(0))
            if got is None:
                return None
            parts.extend(got)
    finally:
        for child in children:
            _discard(*child)
    parts.extend(mine)
    builder, stats, torn = parts[0]
    for (number, pieces), (later, later_stats, later_torn) in zip(
        ranges[1:], parts[1:], strict=True
    ):
        # An ordered read keeps everything (no last merge): its builder may read on.
        if builder.absorb(later, last=not ordered and number == ranges[-1][0]):
            stats.add(later_stats)
            torn.update(later_torn)
        else:
            scan_range(builder, stats, pieces, match, gz_torn=torn)  # re-read: exact, slower
    if progress is not None:
        progress(files, files, stats.total_lines)
    return builder, stats, torn
