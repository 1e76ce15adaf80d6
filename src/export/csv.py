"""CSV export: one row per event, every kind in one table, the payload kept whole as JSON.

Columns: the event fields, the payload keys of every kind (empty where a kind has none),
and ``payload`` (the payload as logged). Text cells that a spreadsheet would run as a
formula are prefixed with ``'`` by the one guard in :mod:`src.common.cells` (which the
dashboard's CSV uses too), so the import can undo it exactly. Numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
from typing import Any, TextIO

from src.common.cells import csv_cell, escape_cell, unescape_cell
from src.export.columns import BASE_COLUMNS, FLAT_COLUMNS, payload_json
from src.query.records import Record

__all__ = ["HEADER", "CsvWriter", "csv_text", "escape_cell", "unescape_cell"]

HEADER: tuple[str, ...] = (*BASE_COLUMNS, *FLAT_COLUMNS, "payload")
_AT = {key: at for at, key in enumerate(FLAT_COLUMNS)}


class CsvWriter:
    """Write events as CSV rows to a text stream (header first)."""

    def __init__(self, stream: TextIO) -> None:
        self._writer = csv.writer(stream, lineterminator="\r\n")
        self._writer.writerow(HEADER)

    def write(self, session_id: str, rec: Record) -> None:
        data = rec.data
        row = [csv_cell(data.get(key)) for key in BASE_COLUMNS]
        if row[1] == "":
            row[1] = session_id
        # The payload columns: empty but for the few keys an event's payload has (a
        # payload carries a handful of the columns of every kind; one call per key it has,
        # not per column).
        cells: list[Any] = [""] * len(FLAT_COLUMNS)
        for key, value in rec.payload.items():
            at = _AT.get(key)
            if at is not None and value is not None:
                cells[at] = csv_cell(value)
        row += cells
        row.append(escape_cell(payload_json(data)))
        self._writer.writerow(row)


def csv_text(rows: list[Record], session_id: str = "") -> str:
    """The CSV of a few records as one string (tests, small API answers)."""
    buf = io.StringIO()
    writer = CsvWriter(buf)
    for rec in rows:
        writer.write(session_id or rec.session_id, rec)
    return buf.getvalue()
