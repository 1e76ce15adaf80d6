"""Reading other systems' files row by row, each row with the line it starts on.

JSON lines (plain or ``.gz``): one object per line; blank lines are skipped. CSV (plain or
``.gz``, UTF-8 with or without BOM, delimiter ``,`` ``;`` tab or ``|`` detected from the
header): one record per row, keyed by the header; a quoted value may span lines, and the
row is reported by the line it starts on. A CSV written by our own export (it has the
``payload`` and ``event_id`` columns) has its formula-guard quotes removed again.

Rows that cannot be read as records come out as :class:`RowError` in the row's place, so
the importer reports them like any other bad row.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from src.export.csv import unescape_cell
from src.importers.normalize import RowError

__all__ = ["FORMATS", "format_of", "read_csv", "read_jsonl", "read_rows"]

FORMATS = ("csv", "jsonl")
Row = tuple[int, dict[str, Any] | RowError, bytes]


def format_of(path: Path) -> str | None:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return None


def _open_binary(path: Path):  # -> BinaryIO
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def read_jsonl(path: Path) -> Iterator[Row]:
    """``(line number, record or RowError, raw bytes)`` for each non-blank line."""
    with _open_binary(path) as fh:
        for number, line in enumerate(fh, 1):
            raw = line.rstrip(b"\r\n")
            if not raw.strip():
                continue
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                yield number, RowError(f"not JSON ({str(exc).split(':')[0]})"), raw
                continue
            if not isinstance(record, dict):
                yield number, RowError("not a JSON object"), raw
                continue
            yield number, record, raw


def read_csv(path: Path) -> Iterator[Row]:
    """``(line number, record or RowError, raw bytes)`` for each data row."""
    # A payload with a long stack trace is one big cell; the default limit is 128 KiB.
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 26))
    with _open_binary(path) as binary:
        # Undecodable bytes survive as surrogates, so only their row is reported bad.
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")
        first = text.readline()
        # The header's most frequent separator; quoting rules stay Excel's (RFC 4180).
        delimiter = max(",;\t|", key=first.count)
        reader = csv.reader(_chain(first, text), csv.excel, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        ours = "payload" in header and "event_id" in header
        width = len(header)
        start = reader.line_num + 1
        try:
            for values in reader:
                number, start = start, reader.line_num + 1
                if not any(v.strip() for v in values):
                    continue
                try:
                    raw = ",".join(values).encode()
                except UnicodeEncodeError:
                    raw = ",".join(values).encode(errors="surrogateescape")
                    yield number, RowError("not UTF-8 text"), raw
                    continue
                if len(values) != width:
                    yield number, RowError(f"{len(values)} fields, header has {width}"), raw
                    continue
                if ours:
                    values = [unescape_cell(v) for v in values]
                yield number, dict(zip(header, values, strict=True)), raw
        except csv.Error as exc:
            yield start, RowError(f"unreadable CSV ({exc}); the rest of the file is skipped"), b""


def _chain(first: str, rest: io.TextIOWrapper) -> Iterator[str]:
    yield first
    yield from rest


def read_rows(path: Path, fmt: str) -> Iterator[Row]:
    if fmt == "csv":
        return read_csv(path)
    if fmt == "jsonl":
        return read_jsonl(path)
    raise ValueError(f"invalid import format {fmt!r}: expected csv or jsonl")
