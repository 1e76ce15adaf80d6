"""The invalid lines the bridge's reads skip, logged for the operator (rate-limited).

The query layer counts invalid lines and skips them (``parse`` in a summary); an
application serving the Live-Track views has no terminal to show that on. So the bridge
reports them on the ``src.live.execution_bridge`` logger, at ERROR, naming each file with
the line number (1-based, blank lines counted, as ``sed -n Np`` counts) and the byte offset
(for ``.gz`` files: in the decompressed text). With the application's logging writing to
``logs/app.log`` (README, "Logging"), the runbook's ``grep ERROR logs/app.log | grep
execution_bridge`` finds them.

What it costs: files are checked incrementally, from where the previous check stopped.
A summary triggers a check only when it counted more invalid lines than before, so a clean
session costs nothing; a timeline checks only the newest file, starting at most
``TAIL_WINDOW`` bytes from its end the first time (line numbers are then unknown until a
summary checks the rest; the byte offset is always given). At most one record per
``interval_s``; lines found meanwhile go into the next one. Nothing here ever raises into
the caller.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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
    start: int  # checked bytes: [start, end) (decompressed for .gz)
    end: int
    lines_before: int | None  # lines before ``start`` (None: not counted yet)
    lines: int  # lines in [start, end)


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
        for path in files:
            self._check(Path(path), window=None)
        self._emit()

    def _after_timeline(self, files: Iterable[Path]) -> None:
        newest = list(files)[-1:]
        for path in newest:
            self._check(Path(path), window=TAIL_WINDOW)
        self._emit()

    def _check(self, path: Path, window: int | None) -> None:
        try:
            st = path.stat()
        except OSError:
            self._seen.pop(path, None)
            return
        identity, stamp = (st.st_dev, st.st_ino), (st.st_size, st.st_mtime_ns)
        gz = path.name.endswith(".gz")
        seen = self._seen.get(path)
        if seen is not None and (
            seen.identity != identity or st.st_size < (seen.stamp[0] if gz else seen.end)
        ):
            seen = None  # replaced or truncated: a new file
        if seen is None:
            start = 0 if window is None or gz else max(0, st.st_size - window)
            seen = _Seen(identity, (-1, -1), start, start, 0 if start == 0 else None, 0)
            _bounded_put(self._seen, path, seen)
        if window is None and seen.start > 0:  # a summary: what a timeline's window skipped
            found, n, prefix_end = _scan(path, 0, seen.start, first_line=1)
            self._add(found)
            if seen.end == seen.start:  # the window found no line start: go on from the prefix
                seen.end = prefix_end
            seen.start, seen.lines_before, seen.lines = 0, 0, n + seen.lines
        elif seen.stamp == stamp:
            return  # nothing new (the usual case)
        seen.stamp = stamp
        first = None if seen.lines_before is None else seen.lines_before + seen.lines + 1
        align = seen.end == seen.start > 0
        found, n, seen.end = _scan(path, seen.end, None, first_line=first, align=align)
        seen.lines += n
        self._add(found)

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
