"""Progress bars on stderr for jobs that take more than a moment (never when piped)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from src.query.engine import BytesProgressFn, ProgressFn

__all__ = ["byte_progress", "scan_progress", "step_progress"]

_SHOW_AFTER_S = 0.5


@contextmanager
def scan_progress(
    stream: TextIO | None = None, show_after: float = _SHOW_AFTER_S
) -> Iterator[ProgressFn | None]:
    """Yield a progress callback for :func:`summarize` (``None`` when stderr is no terminal).

    The bar appears only once a scan has run for ``show_after`` seconds.
    """
    stream = stream or sys.stderr
    if not stream.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    started = time.monotonic()
    bar: Progress | None = None
    task = None

    def update(done: int, total: int, lines: int) -> None:
        nonlocal bar, task
        if bar is None:
            if time.monotonic() - started < show_after:
                return
            bar = Progress(
                TextColumn("scanning"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("files, {task.fields[lines]:,} lines"),
                console=Console(file=stream, force_terminal=True),
                transient=False,
            )
            bar.start()
            task = bar.add_task("scan", total=total, lines=lines)
        bar.update(task, completed=done, lines=lines)

    try:
        yield update
    finally:
        if bar is not None:
            bar.stop()


@contextmanager
def step_progress(
    stream: TextIO | None = None, show_after: float = _SHOW_AFTER_S
) -> Iterator[Callable[[str, int, int], None] | None]:
    """Yield ``progress(stage, done, total)`` for multi-stage jobs (``None`` when stderr is
    no terminal). One bar per stage, shown once the job has run for ``show_after`` seconds
    and gone when the stage completes, so output printed between stages stays readable.
    """
    stream = stream or sys.stderr
    if not stream.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    started = time.monotonic()
    bar: Progress | None = None
    tasks: dict[str, object] = {}

    def update(stage: str, done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            if time.monotonic() - started < show_after:
                return
            bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=Console(file=stream, force_terminal=True),
                transient=True,
            )
            bar.start()
        task = tasks.get(stage)
        if task is None:
            task = tasks[stage] = bar.add_task(stage, total=total)
        bar.update(task, completed=done, total=total)  # type: ignore[arg-type]
        if done >= total:  # stage over: leave the terminal to whatever prints next
            bar.stop()
            bar = None
            tasks.clear()

    try:
        yield update
    finally:
        if bar is not None:
            bar.stop()


@contextmanager
def byte_progress(
    total: int, label: str, stream: TextIO | None = None, show_after: float = _SHOW_AFTER_S
) -> Iterator[BytesProgressFn | None]:
    """Yield a ``progress(n_bytes)`` callback drawing a bar of ``total`` bytes on stderr.

    ``None`` when stderr is no terminal; the bar appears once the work has run for
    ``show_after`` seconds, and shows bytes read, speed and time left.
    """
    stream = stream or sys.stderr
    if not stream.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    started = time.monotonic()
    bar: Progress | None = None
    task = None
    done = 0

    def update(n: int) -> None:
        nonlocal bar, task, done
        done += n
        if bar is None:
            if time.monotonic() - started < show_after:
                return
            bar = Progress(
                TextColumn(label),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(file=stream, force_terminal=True),
                transient=False,
            )
            bar.start()
            task = bar.add_task(label, total=max(total, 1))
        bar.update(task, completed=min(done, total))

    try:
        yield update
    finally:
        if bar is not None:
            bar.update(task, completed=total)
            bar.stop()
