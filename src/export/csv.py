"""CSV export: one row per event, every kind in one table, the payload kept whole as JSON.

Columns: the event fields, the payload keys of every kind (empty where a kind has none),
and ``payload`` (the payload as logged). Text cells that a spreadsheet would run as a
formula (starting with ``= + - @``, tab or CR) are prefixed with ``'``, as is text already
starting with ``'``, so the import can undo it exactly. Numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
from typing import Any, TextIO

import orjson

from src.export.columns import BASE_COLUMNS, FLAT_COLUMNS, payload_json
from src.query.records import Record

__all__ = ["HEADER", "CsvWriter", "csv_text", "escape_cell", "unescape_cell"]

HEADER: tuple[str, ...] = (*BASE_COLUMNS, *FLAT_COLUMNS, "payload")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def escape_cell(text: str) -> str:
    """Text a spreadsheet shows as text (never evaluates); :func:`unescape_cell` undoes it."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def unescape_cell(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        return escape_cell(value)
    return escape_cell(orjson.dumps(value, default=str).decode())


class CsvWriter:
    """Write events as CSV rows to a text stream (header first)."""

    def __init__(self, stream: TextIO) -> None:
        self._writer = csv.writer(stream, lineterminator="\r\n")
        self._writer.writerow(HEADER)

    def write(self, session_id: str, rec: Record) -> None:
        data = rec.data
        payload = rec.payload
        row = [_cell(data.get(key)) for key in BASE_COLUMNS]
        if row[1] == "":
            row[1] = session_id
        row.extend(_cell(payload.get(key)) for key in FLAT_COLUMNS)
        row.append(escape_cell(payload_json(data)))
        self._writer.writerow(row)


def csv_text(rows: list[Record], session_id: str = "") -> str:
    """The CSV of a few records as one string (tests, small API answers)."""
    buf = io.StringIO()
    writer = CsvWriter(buf)
    for rec in rows:
        writer.write(session_id or rec.session_id, rec)
    return buf.getvalue()
