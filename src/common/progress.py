"""Progress bars on stderr for jobs that take more than a moment (never when piped).

One mechanism (:class:`_Bar`: a ``rich`` bar started only once the job has run for
``show_after`` seconds, on a terminal only) behind three shapes of callback: a scan over
files, a multi-stage job, and a byte count. ``rich`` is imported only when a bar is drawn.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any, TextIO

__all__ = ["byte_progress", "scan_progress", "step_progress"]

_SHOW_AFTER_S = 0.5

Columns = Callable[[ModuleType], tuple[Any, ...]]


class _Bar:
    """A ``rich`` progress display with named tasks, created lazily after ``show_after``."""

    def __init__(self, stream: TextIO, show_after: float, columns: Columns, transient: bool):
        self._stream = stream
        self._show_after = show_after
        self._columns = columns
        self._transient = transient
        self._started = time.monotonic()
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}

    @property
    def shown(self) -> bool:
        return self._progress is not None

    def update(self, name: str, total: int, completed: int, **fields: Any) -> None:
        """Draw task ``name`` at ``completed`` of ``total`` (nothing before ``show_after``)."""
        if self._progress is None:
            if time.monotonic() - self._started < self._show_after:
                return
            import rich.progress
            from rich.console import Console

            self._progress = rich.progress.Progress(
                *self._columns(rich.progress),
                console=Console(file=self._stream, force_terminal=True),
                transient=self._transient,
            )
            self._progress.start()
        task = self._tasks.get(name)
        if task is None:
            task = self._tasks[name] = self._progress.add_task(name, total=total, **fields)
        self._progress.update(task, completed=completed, total=total, **fields)

    def stop(self) -> None:
        """Take the bar off the terminal; a later :meth:`update` starts a new one."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._tasks.clear()


@contextmanager
def _terminal_bar(
    stream: TextIO | None, show_after: float, columns: Columns, *, transient: bool
) -> Iterator[_Bar | None]:
    stream = stream or sys.stderr
    if not stream.isatty():
        yield None
        return
    bar = _Bar(stream, show_after, columns, transient)
    try:
        yield bar
    finally:
        bar.stop()


def _scan_columns(rp: ModuleType) -> tuple[Any, ...]:
    return (
        rp.TextColumn("scanning"),
        rp.BarColumn(),
        rp.MofNCompleteColumn(),
        rp.TextColumn("files, {task.fields[lines]:,} lines"),
    )


def _step_columns(rp: ModuleType) -> tuple[Any, ...]:
    return (rp.TextColumn("{task.description}"), rp.BarColumn(), rp.MofNCompleteColumn())


@contextmanager
def scan_progress(
    stream: TextIO | None = None, show_after: float = _SHOW_AFTER_S
) -> Iterator[Callable[[int, int, int], None] | None]:
    """Yield ``progress(files_done, files_total, lines)`` for a scan (``None`` when stderr is
    no terminal). The bar appears only once a scan has run for ``show_after`` seconds."""
    with _terminal_bar(stream, show_after, _scan_columns, transient=False) as bar:
        if bar is None:
            yield None
            return

        def update(done: int, total: int, lines: int) -> None:
            bar.update("scan", total, done, lines=lines)

        yield update


@contextmanager
def step_progress(
    stream: TextIO | None = None, show_after: float = _SHOW_AFTER_S
) -> Iterator[Callable[[str, int, int], None] | None]:
    """Yield ``progress(stage, done, total)`` for multi-stage jobs (``None`` when stderr is
    no terminal). One bar per stage, shown once the job has run for ``show_after`` seconds
    and gone when the stage completes, so output printed between stages stays readable.
    """
    with _terminal_bar(stream, show_after, _step_columns, transient=True) as bar:
        if bar is None:
            yield None
            return

        def update(stage: str, done: int, total: int) -> None:
            bar.update(stage, total, done)
            if done >= total:  # stage over: leave the terminal to whatever prints next
                bar.stop()

        yield update


@contextmanager
def byte_progress(
    total: int, label: str, stream: TextIO | None = None, show_after: float = _SHOW_AFTER_S
) -> Iterator[Callable[[int], None] | None]:
    """Yield a ``progress(n_bytes)`` callback drawing a bar of ``total`` bytes on stderr.

    ``None`` when stderr is no terminal; the bar appears once the work has run for
    ``show_after`` seconds, and shows bytes read, speed and time left.
    """

    def columns(rp: ModuleType) -> tuple[Any, ...]:
        return (
            rp.TextColumn(label),
            rp.BarColumn(),
            rp.DownloadColumn(),
            rp.TransferSpeedColumn(),
            rp.TimeRemainingColumn(),
        )

    with _terminal_bar(stream, show_after, columns, transient=False) as bar:
        if bar is None:
            yield None
            return
        done = 0

        def update(n: int) -> None:
            nonlocal done
            done += n
            bar.update(label, max(total, 1), min(done, total))

        try:
            yield update
        finally:
            if bar.shown:
                bar.update(label, max(total, 1), total)
