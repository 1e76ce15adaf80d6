"""``view-execution-telemetry --orders [STATUS]``: a session's orders as a table or JSON
lines, newest first (the query layer's order blotter, :mod:`src.query.orders`)."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import orjson

from src.cli.common import BadInput
from src.cli.json_lines import write_lines
from src.common.terminal import clean, json_escape_controls, markup
from src.common.units import human_duration
from src.query.filters import EventFilter
from src.query.orders import DEFAULT_LIMIT, OrderBook, OrderQuery, OrderRow

__all__ = ["ALL", "order_query", "print_orders"]

ALL = "all"  # --orders without a status
COLUMNS = ("id", "symbol", "side", "qty", "filled", "avg px", "status", "reason", "age")
_REASON_WIDTH = 40


def order_query(status: str, flt: EventFilter, limit: int | None) -> OrderQuery:
    """The orders ``--orders STATUS`` with the filter flags select (``BadInput`` naming a
    status that is none)."""
    if flt.kinds is not None:
        raise BadInput("--type selects events: it does not apply to --orders")
    try:
        checked = OrderQuery.build(status=None if status == ALL else status)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    return OrderQuery(checked.statuses, flt.symbols, flt.start, flt.end, limit or DEFAULT_LIMIT)


def _num(value: float | None, places: int = 6) -> str:
    if value is None:
        return "-"
    return f"{value:.{places}f}".rstrip("0").rstrip(".") or "0"


def cells(row: OrderRow) -> list[str]:
    """The table's cells of one row (log text as written; cleaned by the renderer)."""
    reason = row.reason or ""
    if len(reason) > _REASON_WIDTH:
        reason = reason[: _REASON_WIDTH - 1] + "…"
    status = row.status if row.stage is None else f"{row.status} ({row.stage})"
    return [
        row.id,
        row.symbol,
        row.side or "-",
        _num(row.quantity),
        _num(row.filled_quantity),
        _num(row.avg_fill_price, 4),
        status,
        reason or "-",
        human_duration(row.age_s),
    ]


def print_orders(
    root: Path, session_id: str, query: OrderQuery, out: TextIO, *, as_json: bool, rich: bool
) -> int:
    """Print the page; the number of rows printed."""
    page = OrderBook(root, session_id).page(query)
    if as_json:
        write_lines(
            (json_escape_controls(orjson.dumps(row, default=str) + b"\n") for row in page.orders),
            out,
        )
    elif rich:
        _table(page.orders, page.counts, out)
    else:
        _plain(page.orders, page.counts, out)
    return len(page.orders)


def _counts(counts: dict[str, int]) -> str:
    return "orders: " + ", ".join(f"{k} {v}" for k, v in counts.items())


def _plain(rows: list[OrderRow], counts: dict[str, int], out: TextIO) -> None:
    table = [list(COLUMNS)] + [[clean(c) for c in cells(r)] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    for line in table:
        out.write("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        out.write("\n")
    out.write(_counts(counts) + "\n")


def _table(rows: list[OrderRow], counts: dict[str, int], out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    colours = {
        "open": "cyan", "filled": "green", "cancelled": "yellow", "expired": "yellow",
        "rejected": "red", "blocked": "magenta", "error": "red",
    }  # fmt: skip
    table = Table(title=f"Orders (newest first, {len(rows)} shown)", caption=_counts(counts))
    for column in COLUMNS:
        table.add_column(
            column, justify="right" if column in ("qty", "filled", "avg px") else "left"
        )
    for row in rows:
        values = [markup(c) for c in cells(row)]
        colour = colours.get(row.status, "white")
        values[6] = f"[{colour}]{values[6]}[/]"
        table.add_row(*values)
    Console(file=out).print(table)
