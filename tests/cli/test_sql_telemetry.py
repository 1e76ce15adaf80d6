"""telemetry-sql: table, CSV and JSON output; query errors exit 2; bad input exits 3."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pytest

from src.cli.common import EXIT_INPUT, EXIT_OK
from src.cli.sql_telemetry import EXIT_QUERY, main

FIX = str(Path(__file__).resolve().parents[1] / "fixtures" / "execution_telemetry")
Q = (
    "SELECT symbol, count(*) AS fills, round(avg(fill_price), 2) AS px "
    "FROM fills GROUP BY 1 ORDER BY 1"
)


def run(*args: str) -> tuple[int, str, bytes]:
    out, raw = io.StringIO(), io.BytesIO()
    code = main(["--path", FIX, *args], stdout=out, stdout_bytes=raw)
    return code, out.getvalue(), raw.getvalue()


def test_plain_table():
    """Piped, the table is aligned text with a row count."""
    code, text, _ = run(Q)
    assert code == EXIT_OK
    assert text.splitlines() == [
        "symbol   fills  px",
        "-------  -----  ---------",
        "BTC-USD  9      100018.89",
        "ETH-USD  4      3502.41",
        "2 row(s)",
    ]


def test_table_is_capped():
    """--max-rows 2 shows two rows and says more were not shown."""
    _, text, _ = run("SELECT * FROM events", "--max-rows", "2")
    assert text.splitlines()[-1].startswith("2 row(s) (first 2; more not shown")


def test_csv_and_json():
    """CSV has a header and one line per row; JSON lines nest the payload as an object."""
    _, text, _ = run(Q, "--format", "csv")
    assert list(csv.reader(io.StringIO(text))) == [
        ["symbol", "fills", "px"],
        ["BTC-USD", "9", "100018.89"],
        ["ETH-USD", "4", "3502.41"],
    ]
    _, _, raw = run("SELECT ts, payload FROM fills ORDER BY ts LIMIT 1", "--format", "json")
    row = orjson.loads(raw)
    assert row["payload"]["fill_price"] == 100020.0 and row["ts"].startswith("2025-12-20T10:00")


def test_query_from_a_file(tmp_path):
    """-f FILE reads the query."""
    path = tmp_path / "q.sql"
    path.write_text("SELECT count(*) AS n FROM events\n")
    _, text, _ = run("-f", str(path), "--format", "csv")
    assert text == "n\n67\n"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["SELEC 1"], EXIT_QUERY, "Parser Error"),
        (["SELECT nope FROM events"], EXIT_QUERY, "nope"),
        (["DROP VIEW events"], EXIT_INPUT, "only queries are run"),
        ([], EXIT_INPUT, "no query given"),
        (["--parquet", "/nonexistent", "SELECT 1"], EXIT_INPUT, "does not exist"),
    ],
)
def test_errors_are_one_line(capsys, args, code, message):
    """Query errors exit 2, refused statements and bad input exit 3, each with one line."""
    assert run(*args)[0] == code
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
