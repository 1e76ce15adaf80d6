"""Query results as a table, CSV or JSON lines, streamed in Arrow batches."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any, BinaryIO, TextIO

import duckdb
import orjson

from src.common.cells import escape_cell
from src.common.terminal import clean, markup

__all__ = ["FORMATS", "write_csv", "write_json", "write_table"]

FORMATS = ("table", "csv", "json")
BATCH_ROWS = 8192


def _rows(rel: duckdb.DuckDBPyRelation) -> Iterator[list[tuple[Any, ...]]]:
    reader = rel.to_arrow_reader(BATCH_ROWS)
    for batch in reader:
        columns = [column.to_pylist() for column in batch.columns]
        yield list(zip(*columns, strict=True))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dict, list)):
        return orjson.dumps(value, default=str).decode()
    return str(value)


def _csv_cell(value: Any) -> str:
    # Text from the logs goes through the one formula guard every CSV of ours uses.
    text = _text(value)
    return text if isinstance(value, (int, float, Decimal)) else escape_cell(text)


def write_csv(rel: duckdb.DuckDBPyRelation, out: TextIO) -> int:
    """Header and every row as CSV; returns the row count."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rel.columns)
    n = 0
    for rows in _rows(rel):
        writer.writerows([_csv_cell(v) for v in row] for row in rows)
        n += len(rows)
    return n


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def write_json(rel: duckdb.DuckDBPyRelation, out: BinaryIO) -> int:
    """One JSON object per row (JSON columns nested, not strings); returns the row count."""
    names = rel.columns
    json_cols = {i for i, t in enumerate(rel.types) if str(t) == "JSON"}
    n = 0
    for rows in _rows(rel):
        for row in rows:
            values = list(row)
            for i in json_cols:
                if isinstance(values[i], str):
                    try:
                        values[i] = orjson.loads(values[i])
                    except orjson.JSONDecodeError:
                        pass
            out.write(orjson.dumps(dict(zip(names, values, strict=True)), default=_default))
            out.write(b"\n")
        n += len(rows)
    return n


def write_table(rel: duckdb.DuckDBPyRelation, out: TextIO, *, rich: bool, max_rows: int) -> int:
    """At most ``max_rows`` rows as an aligned table (rich on a terminal); returns rows shown."""
    shown: list[list[str]] = []
    more = False
    for rows in _rows(rel):
        for row in rows:
            if len(shown) >= max_rows:
                more = True
                break
            shown.append([_text(v) for v in row])
        if more:
            break
    names = list(rel.columns)
    if not rich:  # log text: no control characters on the terminal (rich: markup() below)
        names = [clean(n) for n in names]
        shown = [[clean(v) for v in row] for row in shown]
    if rich:
        from rich.console import Console
        from rich.table import Table

        table = Table(show_lines=False)
        for name in names:
            table.add_column(markup(name), overflow="fold")
        for row in shown:
            table.add_row(*(markup(v) for v in row))
        Console(file=out).print(table)
    else:
        widths = [min(60, max([len(n)] + [len(r[i]) for r in shown])) for i, n in enumerate(names)]
        buf = io.StringIO()
        buf.write("  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)).rstrip() + "\n")
        buf.write("  ".join("-" * w for w in widths) + "\n")
        for row in shown:
            cells = (v[:w].ljust(w) for v, w in zip(row, widths, strict=True))
            buf.write("  ".join(cells).rstrip() + "\n")
        out.write(buf.getvalue())
    note = f" (first {max_rows}; more not shown: use --max-rows or --format csv)" if more else ""
    out.write(f"{len(shown)} row(s){note}\n")
    return len(shown)
