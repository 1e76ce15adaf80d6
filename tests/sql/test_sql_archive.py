"""SQL views over the archive: JSONL, gzip and Parquet as one table, the query layer's counts."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from src.export import export
from src.query.engine import summarize
from src.query.filters import EventFilter
from src.sql import QueryRefused, check_query, connect

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "execution_telemetry"


@pytest.fixture
def logs(tmp_path) -> Path:
    base = tmp_path / "logs"
    shutil.copytree(FIX, base, ignore=shutil.ignore_patterns("*.py"))
    return base


def test_counts_match_the_query_layer_including_gzip_and_bad_lines(logs):
    """events has the summary's exact counts per kind (gzip read, invalid lines skipped)."""
    con = connect(logs)
    counts = dict(con.sql("SELECT kind, count(*) FROM events GROUP BY kind").fetchall())
    assert counts == summarize(logs).kind_counts
    sessions = dict(con.sql("SELECT session_id, count(*) FROM events GROUP BY 1").fetchall())
    assert sessions["session_archived"] == 10 and sessions["session_bad_lines"] == 10


def test_daily_layout_and_typed_kind_views(logs):
    """A daily-rotated file joins its session; fills exposes typed fill columns."""
    day = logs / "2025-12-21"
    day.mkdir()
    line = (FIX / "session_clean.jsonl").read_text().splitlines()[4]  # a fill
    (day / "session_clean.jsonl").write_text(line.replace("2025-12-20T", "2025-12-21T") + "\n")
    con = connect(logs)
    rows = con.sql(
        "SELECT date::VARCHAR, count(*), round(sum(fill_price), 3) FROM fills "
        "WHERE session_id = 'session_clean' GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("2025-12-20", 4, 207141.065),
        ("2025-12-21", 1, 100020.0),
    ]
    assert con.sql("SELECT typeof(passed), typeof(ts) FROM gates LIMIT 1").fetchall() == [
        ("BOOLEAN", "TIMESTAMP WITH TIME ZONE")
    ]


def test_parquet_and_jsonl_are_one_view(logs, tmp_path):
    """A Parquet export and JSONL logs union by name; the same questions get the same answers."""
    export(logs, EventFilter(), "parquet", tmp_path / "pq")
    con = connect(logs, [tmp_path / "pq"])
    by_source = con.sql(
        "SELECT source, count(*), round(sum(fill_notional), 6), count(DISTINCT session_id) "
        "FROM events GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert by_source[0][1:] == by_source[1][1:] and by_source[0][1] == 67
    parquet_only = connect(None, [tmp_path / "pq"])
    assert parquet_only.sql("SELECT count(*) FROM fills").fetchall() == [(13,)]


def test_no_sources_gives_empty_views(tmp_path):
    """An empty archive still has events and the kind views, with no rows."""
    con = connect(tmp_path)
    assert con.sql("SELECT count(*) FROM errors").fetchall() == [(0,)]


def test_connection_reads_only_the_archive_and_writes_nowhere(logs, tmp_path):
    """Files outside the archive cannot be read; writes and settings are refused."""
    con = connect(logs)
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    with pytest.raises(duckdb.Error, match="Permission"):
        con.sql(f"SELECT * FROM read_csv('{secret}')").fetchall()
    for statement in (
        f"COPY (SELECT 1) TO '{logs}/x.csv'",
        "CREATE TABLE t AS SELECT 1",
        "SET enable_external_access = true",
        "INSTALL httpfs",
        "SELECT 1; SELECT 2",
    ):
        with pytest.raises(QueryRefused):
            check_query(con, statement)
    check_query(con, "WITH f AS (SELECT * FROM fills) SELECT count(*) FROM f")
    check_query(con, "DESCRIBE events")
