"""Excel export: a summary sheet, a sheet per kind, typed cells, text never a formula."""

from __future__ import annotations

from datetime import datetime

from openpyxl import load_workbook

from src.export import export
from src.export.output import OutputFile
from src.export.xlsx import XlsxWriter
from src.query.engine import iter_events
from src.query.filters import EventFilter


def rows(ws) -> list[tuple]:
    return list(ws.iter_rows(values_only=True))


def test_one_sheet_per_kind_after_the_summary(archive, tmp_path):
    """Sheets: summary first, then the kinds present in their usual order."""
    out = tmp_path / "out.xlsx"
    result = export(archive, EventFilter(), "xlsx", out)
    wb = load_workbook(out)
    assert wb.sheetnames == ["summary", "intent", "order", "fill", "gate", "error"]
    assert result.events == 12
    assert len(rows(wb["gate"])) == 1 + 4


def test_kind_sheet_has_typed_columns_and_keeps_unknown_keys(archive, tmp_path):
    """A fill row: date-time ts, exact ts_iso, floats, and extra payload keys in 'other'."""
    out = tmp_path / "out.xlsx"
    export(archive, EventFilter.build(session_id="s1"), "xlsx", out)
    header, fill = rows(load_workbook(out)["fill"])
    row = dict(zip(header, fill, strict=True))
    assert row["ts"] == datetime(2025, 12, 21, 0, 0, 1, 750000)
    assert row["ts_iso"] == "2025-12-21T00:00:01.750000+00:00"
    assert (row["fill_price"], row["filled_quantity"], row["seq"]) == (100020.125, 1.5, 5)
    assert row["other"] == '{"venue":{"name":"X","ids":[1,2]}}'


def test_formula_text_stays_text_and_bad_characters_are_replaced(archive, tmp_path):
    """'=HYPERLINK(...)' is stored as a string cell; a control character becomes U+FFFD."""
    out = tmp_path / "out.xlsx"
    export(archive, EventFilter.build(session_id="s1"), "xlsx", out)
    wb = load_workbook(out)
    header = rows(wb["intent"])[0]
    cell = next(wb["intent"].iter_rows(min_row=2))[header.index("strategy_key")]
    assert (cell.value, cell.data_type) == ('=HYPERLINK("x")', "s")
    error_row = dict(zip(rows(wb["error"])[0], rows(wb["error"])[1], strict=True))
    assert error_row["error"] == "'quoted' \ufffd control"


def test_summary_sheet_has_counts_filter_and_analytics(archive, tmp_path):
    """The summary names the filter, counts by kind and symbol, and the latency figures."""
    out = tmp_path / "out.xlsx"
    export(archive, EventFilter.build(symbol="BTC-USD"), "xlsx", out)
    cells = rows(load_workbook(out)["summary"])
    by_label: dict = {}
    for r in cells:
        if r and r[0] is not None:
            by_label.setdefault(r[0], r[1:])  # first table that names it
    assert by_label["symbols"][0] == "BTC-USD"
    assert by_label["events exported"][0] == 6
    assert by_label["fill"][0] == 1
    assert by_label["BTC-USD"][:2] == (6, 1)
    assert by_label["order -> fill"][:2] == (1, 1000.0)  # one order paired with its fill
    assert by_label["MaxNotional"][:2] == (1, 1)


def test_a_kind_too_big_for_one_sheet_continues_on_the_next(archive, tmp_path):
    """With room for 2 rows a sheet, 4 gate events fill 'gate' and 'gate (2)'."""
    out = OutputFile(tmp_path / "out.xlsx")
    book = XlsxWriter(out, max_rows=3)
    for rec in iter_events(archive, EventFilter.build(kind="gate")):
        book.write(rec.session_id, rec)
    book.commit()
    wb = load_workbook(tmp_path / "out.xlsx")
    assert wb.sheetnames == ["summary", "gate", "gate (2)"]
    assert [len(rows(wb[name])) for name in ("gate", "gate (2)")] == [3, 3]
