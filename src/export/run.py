"""Running an export: matching events, streamed from the query layer into one format.

Every format reads through :func:`src.query.engine.iter_events`, so an export selects
exactly what the viewer and the dashboard show for the same filter, and reads one event at
a time: memory does not grow with the export.
"""

from __future__ import annotations

import io
import os
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from src.export.output import OutputFile
from src.query.engine import (
    BytesProgressFn,
    matching_events,
    select_sessions,
    summarize,
)
from src.query.filters import EventFilter
from src.query.records import ParseStats, Record

__all__ = [
    "FORMATS",
    "ExportResult",
    "describe_filter",
    "export",
    "matching_events",
    "source_bytes",
    "stream_chunks",
]

FORMATS = ("csv", "jsonl", "xlsx", "parquet")
STDOUT = "-"


class Writer(Protocol):
    def write(self, session_id: str, rec: Record) -> None: ...


@dataclass
class ExportResult:
    """What an export wrote: event counts, the source's parse statistics, the files."""

    events: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    stats: ParseStats = field(default_factory=ParseStats)
    outputs: list[Path] = field(default_factory=list)


def source_bytes(base: str | os.PathLike[str], flt: EventFilter) -> int:
    """Size of the files an export of ``flt`` reads (the progress bar's total)."""
    return sum(s.size_bytes for s in select_sessions(base, flt))


def describe_filter(flt: EventFilter) -> list[tuple[str, Any]]:
    def when(t: float | None) -> str | None:
        return None if t is None else datetime.fromtimestamp(t, UTC).isoformat()

    return [
        ("session", flt.session_id or "(all sessions)"),
        ("kinds", ", ".join(sorted(flt.kinds)) if flt.kinds else "(all)"),
        ("symbols", ", ".join(sorted(flt.symbols)) if flt.symbols else "(all)"),
        ("from", when(flt.start) or "(start)"),
        ("to", when(flt.end) or "(end)"),
    ]


def _pump(
    writer: Writer,
    base: str | os.PathLike[str],
    flt: EventFilter,
    result: ExportResult,
    progress: BytesProgressFn | None,
) -> None:
    by_kind = result.by_kind
    for session_id, rec in matching_events(base, flt, result.stats, progress):
        writer.write(session_id, rec)
        by_kind[rec.kind] += 1
    result.events = sum(by_kind.values())


def export(
    base: str | os.PathLike[str],
    flt: EventFilter,
    fmt: str,
    output: str | os.PathLike[str],
    *,
    force: bool = False,
    progress: BytesProgressFn | None = None,
    stdout: BinaryIO | None = None,
    summary_workers: int | None = None,
) -> ExportResult:
    """Export the events ``flt`` selects under ``base`` to ``output`` in format ``fmt``.

    ``output`` is a file (``-`` for standard output with csv and jsonl; a name ending in
    ``.gz`` gzips jsonl and csv) or, for parquet, the dataset's root directory. Existing
    output is refused (``OutputExistsError``) unless ``force``. Nothing is written outside
    ``output`` (a file's temporary sibling lives beside it until it is renamed).
    ``summary_workers``: processes for the Excel summary pass (default: the usual).
    """
    if fmt not in FORMATS:
        raise ValueError(f"invalid format {fmt!r}: expected one of {', '.join(FORMATS)}")
    result = ExportResult()
    if fmt == "parquet":
        if str(output) == STDOUT:
            raise ValueError("parquet writes a dataset directory; name one with --output")
        from src.export.parquet import ParquetDatasetWriter

        dataset = ParquetDatasetWriter(output, force=force)
        try:
            _pump(dataset, base, flt, result, progress)
            result.outputs = dataset.commit()
        except BaseException:
            dataset.abort()
            raise
        return result
    if str(output) == STDOUT:
        if fmt == "xlsx":
            raise ValueError("xlsx cannot go to standard output; name a file with --output")
        sink = stdout or sys.stdout.buffer
        _write_stream(fmt, sink, base, flt, result, progress, gzip_it=False)
        sink.flush()
        return result
    out = OutputFile(output, force=force)
    try:
        if fmt == "xlsx":
            from src.export.xlsx import XlsxWriter

            summary = summarize(base, flt, workers=summary_workers)
            book = XlsxWriter(out, summary=summary, info=_info(base, flt))
            _pump(book, base, flt, result, progress)
            result.outputs = book.commit()
            return result
        _write_stream(
            fmt, out.open(), base, flt, result, progress, gzip_it=out.path.name.endswith(".gz")
        )
        result.outputs = [out.commit()]
    except BaseException:
        out.abort()
        raise
    return result


def _info(base: str | os.PathLike[str], flt: EventFilter) -> list[tuple[str, Any]]:
    generated = datetime.now(UTC).replace(microsecond=0).isoformat()
    return [("source", str(base)), *describe_filter(flt), ("generated (UTC)", generated)]


def _write_stream(
    fmt: str,
    sink: BinaryIO,
    base: str | os.PathLike[str],
    flt: EventFilter,
    result: ExportResult,
    progress: BytesProgressFn | None,
    *,
    gzip_it: bool,
) -> None:
    import gzip

    raw: Any = gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=6) if gzip_it else sink
    try:
        if fmt == "jsonl":
            from src.export.jsonl import JsonlWriter

            _pump(JsonlWriter(raw), base, flt, result, progress)
        else:
            from src.export.csv import CsvWriter

            text = io.TextIOWrapper(raw, encoding="utf-8", newline="", write_through=False)
            try:
                _pump(CsvWriter(text), base, flt, result, progress)
                text.flush()
            finally:
                text.detach()
    finally:
        if gzip_it:
            raw.close()


class _Chunks(io.RawIOBase):
    """A write-only byte sink whose contents are taken out in pieces by a generator."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self.parts.append(data)
        self.size += len(data)
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        self.size = 0
        return data


def stream_chunks(
    base: str | os.PathLike[str], flt: EventFilter, fmt: str, chunk_bytes: int = 1 << 16
) -> Iterator[bytes]:
    """The export of ``flt`` as ``csv`` or ``jsonl`` in pieces of about ``chunk_bytes``."""
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"format {fmt!r} does not stream; use csv or jsonl")
    sink = _Chunks()
    if fmt == "jsonl":
        from src.export.jsonl import JsonlWriter

        writer: Any = JsonlWriter(sink)  # type: ignore[arg-type]
        text = None
    else:
        from src.export.csv import CsvWriter

        text = io.TextIOWrapper(sink, encoding="utf-8", newline="", write_through=True)
        writer = CsvWriter(text)
    for session_id, rec in matching_events(base, flt):
        writer.write(session_id, rec)
        if sink.size >= chunk_bytes:
            yield sink.take()
    if text is not None:
        text.flush()
    if sink.size:
        yield sink.take()
