"""The invalid lines the bridge's reads skip, logged for the operator (rate-limited).

The query layer counts invalid lines and skips them (``parse`` in a summary); an
application serving the Live-Track views has no terminal to show that on. So the bridge
reports them on the ``src.live.execution_bridge`` logger, at ERROR, naming each file with
the line number (1-based, blank lines counted, as ``sed -n Np`` counts) and the byte offset
(for ``.gz`` files: in the decompressed text). With the application's logging writing to
``logs/app.log`` (README, "Logging"), the runbook's ``grep ERROR logs/app.log | grep
execution_bridge`` finds them.

What it costs: only what is new. A file is checked from where the previous check of this
process stopped. A summary triggers a check only when it counted more invalid lines than
before (a clean session costs nothing); a timeline checks the newest file. The first look
of a process at a session reads at most ``TAIL_WINDOW`` bytes in all: the end of the
newest file, then of older ones while the window lasts (a ``.gz``: from its start); lines
before that are left to the summary's count and the runbook's search (the saved summary
state means a new process does not read them either). A line found where the first look
started mid-file gets its number from one count of the newlines before it (no decoding).
At most one record per ``interval_s``; lines found meanwhile go into the next one.
Nothing here ever raises into the caller.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from src.query.files import GZIP_ERRORS, open_segment
from src.query.records import decode_record

__all__ = ["INTERVAL_S", "TAIL_WINDOW", "SkippedLineLog", "log"]

log = logging.getLogger("src.live.execution_bridge")

INTERVAL_S = 60.0
TAIL_WINDOW = 1 << 20
SHOW = 5  # locations named in one record
MAX_TRACKED = 10_000  # files (and sessions) remembered; a forgotten one is checked afresh
_MAX_LINE_SHOWN = 120  # characters of a bad line quoted in the record


@dataclass(slots=True)
class _Seen:
    identity: tuple[int, int]  # (st_dev, st_ino)
    stamp: tuple[int, int]  # (size, mtime) at the last check
    end: int  # the next check starts here (decompressed for .gz)
    mid: bool  # ``end`` may be inside a line (a first look's start): skip to the next one
    lines: int | None  # lines before ``end`` (None: not counted yet)


@dataclass(slots=True, frozen=True)
class _Found:
    path: Path
    line: int | None
    offset: int
    excerpt: str

    def describe(self) -> str:
        where = f"line {self.line} (byte {self.offset})" if self.line else f"byte {self.offset}"
        return f"{self.path}: {where}: {self.excerpt}"


class SkippedLineLog:
    """Find invalid lines in session files and log them, at most once per ``interval_s``."""

    def __init__(
        self,
        *,
        interval_s: float = INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger = log,
    ) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._log = logger
        self._lock = threading.Lock()
        self._seen: dict[Path, _Seen] = {}
        self._counted: dict[str, int] = {}  # session -> invalid lines its last summary counted
        self._pending: list[_Found] = []
        self._pending_total = 0
        self._next_at = 0.0

    def after_summary(self, session_id: str, files: Iterable[Path], invalid_lines: int) -> None:
        """A summary of ``files`` counted ``invalid_lines``: find and log any new ones."""
        self._guarded(self._after_summary, session_id, files, invalid_lines)

    def after_timeline(self, files: Iterable[Path]) -> None:
        """A timeline read the end of ``files``: check what was appended to the newest."""
        self._guarded(self._after_timeline, files)

    def flush(self) -> None:
        """Log what was found but held back by the rate limit (e.g. at shutdown)."""
        self._guarded(self._emit, force=True)

    # -- internals -------------------------------------------------------------------

    def _guarded(self, fn: Callable[..., None], *args: object, **kwargs: object) -> None:
        try:
            with self._lock:
                fn(*args, **kwargs)
        except Exception:  # reporting must never break a read
            self._log.debug("could not check for invalid lines", exc_info=True)

    def _after_summary(self, session_id: str, files: Iterable[Path], invalid: int) -> None:
        known = self._counted.get(session_id, 0)
        _bounded_put(self._counted, session_id, invalid)  # fewer: retention removed a file
        if invalid <= known:
            return
        budget = TAIL_WINDOW  # for files this process has not looked at yet, newest first
        found: list[list[_Found]] = []
        for path in reversed(list(files)):
            taken, got = self._check(Path(path), window=budget)
            budget = max(0, budget - taken)
            found.append(got)
        for got in reversed(found):  # reported oldest file first
            self._add(got)
        self._emit()

    def _after_timeline(self, files: Iterable[Path]) -> None:
        for path in list(files)[-1:]:
            self._add(self._check(Path(path), window=TAIL_WINDOW)[1])
        self._emit()

    def _check(self, path: Path, window: int) -> tuple[int, list[_Found]]:
        """Check what is new in ``path``: from where this process stopped, or (a file not
        seen yet) its last ``window`` bytes (a ``.gz``: its first ``window`` decompressed
        bytes). Returns the bytes a first look read and the invalid lines found."""
        try:
            st = path.stat()
        except OSError:
            self._seen.pop(path, None)
            return 0, []
        identity, stamp = (st.st_dev, st.st_ino), (st.st_size, st.st_mtime_ns)
        gz = path.name.endswith(".gz")
        seen = self._seen.get(path)
        if seen is not None and (
            seen.identity != identity or st.st_size < (seen.stamp[0] if gz else seen.end)
        ):
            seen = None  # replaced or truncated: a new file
        stop = None
        if seen is None:
            start = 0 if gz else max(0, st.st_size - window)
            seen = _Seen(identity, (-1, -1), start, start > 0, 0 if start == 0 else None)
            _bounded_put(self._seen, path, seen)
            first_look = True
            stop = window if gz else None
        elif seen.stamp == stamp:
            return 0, []  # nothing new (the usual case)
        else:
            first_look = False
        seen.stamp = stamp
        start = seen.end
        first = None if seen.lines is None else seen.lines + 1
        found, n, seen.end = _scan(path, start, stop, first_line=first, align=seen.mid)
        seen.mid = seen.mid and seen.end == start  # still inside an unfinished line
        if seen.lines is not None:
            seen.lines += n
        elif found:  # number them: one count of the newlines before each (no decoding)
            found, seen.lines = _numbered(path, found, seen.end)
        taken = (seen.end if gz else st.st_size - start) if first_look else 0
        return taken, found

    def _add(self, found: list[_Found]) -> None:
        self._pending_total += len(found)
        room = SHOW - len(self._pending)
        if room > 0:
            self._pending.extend(found[:room])

    def _emit(self, force: bool = False) -> None:
        if not self._pending_total:
            return
        now = self._clock()
        if not force and now < self._next_at:
            return
        self._next_at = now + self.interval_s
        more = self._pending_total - len(self._pending)
        tail = f"; {more} more" if more > 0 else ""
        self._log.error(
            "execution_bridge: skipped %d invalid line(s) in the execution logs: %s%s",
            self._pending_total,
            "; ".join(f.describe() for f in self._pending),
            tail,
        )
        self._pending, self._pending_total = [], 0


def _bounded_put(table: dict, key: object, value: object) -> None:
    """``table[key] = value``, forgetting the oldest entries beyond ``MAX_TRACKED``."""
    table.pop(key, None)
    table[key] = value
    while len(table) > MAX_TRACKED:
        del table[next(iter(table))]


def _scan(
    path: Path,
    start: int,
    stop: int | None,
    *,
    first_line: int | None,
    align: bool = False,
) -> tuple[list[_Found], int, int]:
    """Invalid complete lines of ``path`` in bytes ``[start, stop)``.

    Returns them, the number of lines read, and where the next check starts (the start of
    an unfinished last line, which may still be being written). ``align``: ``start`` may be
    mid-line (a timeline's window), so the first partial line is skipped.
    """
    found: list[_Found] = []
    count = 0
    pos = start
    try:
        with open_segment(path) as fh:
            if path.name.endswith(".gz"):
                _discard(fh, start)
            else:
                fh.seek(start)
            if align:  # skip the rest of the line the window starts in
                fh.seek(start - 1)
                rest = fh.readline()
                if not rest.endswith(b"\n"):
                    return found, 0, start  # inside an unfinished line: next time
                pos = start - 1 + len(rest)
            for raw in fh:
                if stop is not None and pos >= stop:
                    break
                if not raw.endswith(b"\n"):
                    break  # unfinished: looked at again next time
                count += 1
                line = raw[:-1]
                if len(line) and decode_record(line) is None:
                    line_no = None if first_line is None else first_line + count - 1
                    found.append(_Found(path, line_no, pos, _excerpt(line)))
                pos += len(raw)
    except (FileNotFoundError, *GZIP_ERRORS):
        pass
    return found, count, pos


def _numbered(path: Path, found: list[_Found], end: int) -> tuple[list[_Found], int]:
    """``found`` (in a plain file, by offset) with their line numbers, and the number of
    lines before ``end``: newlines counted in one pass over the file's first ``end`` bytes."""
    numbered: list[_Found] = []
    pos = lines = 0
    with open(path, "rb", buffering=0) as fh:
        for f in found:
            lines += _newlines(fh, pos, f.offset)
            pos = f.offset
            numbered.append(replace(f, line=lines + 1))
        lines += _newlines(fh, pos, end)
    return numbered, lines


def _newlines(fh, start: int, stop: int) -> int:
    count = 0
    fh.seek(start)
    while start < stop:
        chunk = fh.read(min(stop - start, 1 << 20))
        if not chunk:
            break
        count += chunk.count(b"\n")
        start += len(chunk)
    return count


def _discard(fh, n: int) -> None:  # gzip cannot seek cheaply forward beyond reading
    while n > 0:
        chunk = fh.read(min(n, 1 << 20))
        if not chunk:
            return
        n -= len(chunk)


def _excerpt(line: bytes) -> str:
    text = line[:_MAX_LINE_SHOWN].decode("utf-8", "replace")
    text = repr(text)  # control characters and quotes shown escaped, on one line
    return text + ("..." if len(line) > _MAX_LINE_SHOWN else "")
