"""Importing a file of events into a log root, as sessions the rest of the project reads.

Rows are normalised (:mod:`src.importers.normalize`) and written with the JSONL logger into
a hidden staging directory under the log root, then moved into place as
``<root>/<session>.jsonl`` when the whole file has been read: readers never see half an
import, and a failed one leaves nothing. A session that already has a log is refused as
soon as it is met, unless ``force``, which replaces its files, but never while a writer
holds one of them open (the logger's shared lock).

Every bad row is passed to ``on_bad_row(line, reason, raw)`` and counted; none is dropped
silently.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from src.common.locks import held_by_writer
from src.execution.telemetry.jsonl import JsonlExecutionLogger
from src.importers.normalize import RowError, normalize
from src.importers.sources import read_rows
from src.query.files import session_files

__all__ = ["ImportResult", "SessionExistsError", "import_file"]

BadRowFn = Callable[[int, str, bytes], None]


class SessionExistsError(FileExistsError):
    """The import would replace a session's log and ``force`` was not given (or it is live)."""


@dataclass
class ImportResult:
    """Counts of an import: events per session, bad rows, the session files written."""

    imported: Counter[str] = field(default_factory=Counter)
    bad_rows: int = 0
    outputs: list[Path] = field(default_factory=list)

    @property
    def events(self) -> int:
        return sum(self.imported.values())


def _check_target(base: Path, session_id: str, force: bool) -> None:
    existing = session_files(base, session_id)
    if existing is None:
        return
    if not force:
        raise SessionExistsError(
            f"session {session_id!r} already has a log in {base} "
            "(use --force to replace it, or --session-id NEW)"
        )
    live = [p for p in existing.files if held_by_writer(p)]
    if live:
        raise SessionExistsError(
            f"session {session_id!r} is being written to ({live[0]}); not replacing it"
        )


def import_file(
    path: str | os.PathLike[str],
    base: str | os.PathLike[str],
    *,
    fmt: str,
    session_id: str | None = None,
    mode: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    on_bad_row: BadRowFn | None = None,
) -> ImportResult:
    """Import the events in ``path`` (``fmt`` csv or jsonl) into the log root ``base``."""
    source, base = Path(path), Path(base)
    result = ImportResult()
    staging = base / f".import-{os.getpid()}.tmp"
    logger: JsonlExecutionLogger | None = None
    if not dry_run:
        base.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        logger = JsonlExecutionLogger(staging, strict=True)
    seen: set[str] = set()
    identity_prefix = source.name.encode() + b":"
    try:
        for line, record, raw in read_rows(source, fmt):
            try:
                if isinstance(record, RowError):
                    raise record
                event = normalize(
                    record,
                    session_id=session_id,
                    mode=mode,
                    identity=identity_prefix + str(line).encode() + b":" + raw,
                )
            except RowError as exc:
                result.bad_rows += 1
                if on_bad_row is not None:
                    on_bad_row(line, str(exc), raw)
                continue
            if event.session_id not in seen:
                seen.add(event.session_id)
                _check_target(base, event.session_id, force)
            if logger is not None:
                logger.emit(event)
            result.imported[event.session_id] += 1
        if logger is not None:
            logger.close()
            result.outputs = _commit(staging, base, sorted(seen), force)
    finally:
        if logger is not None:
            logger.close()
            shutil.rmtree(staging, ignore_errors=True)
    return result


def _commit(staging: Path, base: Path, sessions: list[str], force: bool) -> list[Path]:
    written = []
    for sid in sessions:
        _check_target(base, sid, force)  # again: something may have appeared meanwhile
        existing = session_files(base, sid)
        if existing is not None:
            for old in existing.files:
                old.unlink()
        final = base / f"{sid}.jsonl"
        os.replace(staging / f"{sid}.jsonl", final)
        written.append(final)
    return written
