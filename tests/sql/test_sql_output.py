"""telemetry-sql --format csv: cells a spreadsheet would run are guarded like every CSV of ours."""

from __future__ import annotations

import io

import duckdb

from src.sql.output import write_csv


def test_csv_guards_every_formula_start_but_not_numbers():
    """Text starting with = + - @ TAB CR or ' gets a leading '; negative numbers stay numbers."""
    starts = ("=", "+", "-", "@", "\t", "\r", "'")
    con = duckdb.connect()
    con.execute("CREATE TABLE t (symbol VARCHAR, px DOUBLE)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(f"{c}cmd", -1.5) for c in starts])
    rel = con.sql("SELECT * FROM t")
    out = io.StringIO()
    assert write_csv(rel, out) == len(starts)
    text = out.getvalue()
    # A bare CR is not quoted with "\n" line ends (csv.writer), so look at the lines as text.
    lines = text.split("\n")
    assert lines[0] == "symbol,px"
    cells = [line.rsplit(",", 1) for line in lines[1:] if line]
    assert [c[0].strip('"') for c in cells] == [f"'{c}cmd" for c in starts]
    assert {c[1] for c in cells} == {"-1.5"}
