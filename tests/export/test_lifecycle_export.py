"""A session with every lifecycle kind exports and queries: the xlsx summary sheet shows the
order outcomes, CSV and Parquet carry the new kinds' columns from the schema, and the SQL
views (acks, partial_fills, cancels, expires, rejects) count what the summary counts."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys

import pytest
from openpyxl import load_workbook

from src.execution.schema import KIND_COLUMNS
from src.export import export
from src.query.engine import summarize
from src.query.filters import EventFilter
from src.sql import KIND_VIEWS, connect
from tests.conftest import REPO_ROOT
from tests.query import lifecycle_session as life

NEW_VIEWS = {"ack": "acks", "partial_fill": "partial_fills", "cancel": "cancels",
             "expire": "expires", "reject": "rejects"}  # fmt: skip


@pytest.fixture
def logs(tmp_path):
    base = tmp_path / "logs"
    base.mkdir()
    return life.write(base)


@pytest.fixture
def summary(logs):
    return summarize(logs, EventFilter.build(session_id=life.SESSION), as_of=life.AS_OF)


def test_xlsx_summary_sheet_shows_the_order_outcomes(logs, summary, tmp_path):
    out = tmp_path / "life.xlsx"
    export(logs, EventFilter.build(session_id=life.SESSION), "xlsx", out)
    wb = load_workbook(out)
    assert set(life.KIND_COUNTS) <= set(wb.sheetnames)
    cells = list(wb["summary"].iter_rows(values_only=True))
    start = cells.index(("order outcome", "orders", None, None, None, None, None))
    table = {r[0]: r[1] for r in cells[start + 1 :] if r[0] is not None}
    assert {k: table[k] for k in life.BY_STATUS} == life.BY_STATUS == summary.orders.by_status
    assert table["orders sent"] == 11
    assert table["cancelled or expired partly filled"] == 1
    assert table["partial fills"] == 3
    assert table["cancel rate"] == pytest.approx(2 / 11)
    assert table["reject rate"] == pytest.approx(1 / 11)
    latency = {r[0]: r[1] for r in cells if r and r[0] in ("order -> ack", "order -> cancel")}
    assert latency == {"order -> ack": 7, "order -> cancel": 2}
    # A per-kind sheet has its kind's columns, from the schema.
    header = next(wb["cancel"].iter_rows(values_only=True))
    assert set(KIND_COLUMNS["cancel"]) <= set(header)


def test_csv_has_the_new_kinds_columns(logs, tmp_path):
    out = tmp_path / "life.csv"
    export(logs, EventFilter.build(session_id=life.SESSION), "csv", out)
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    kinds = {r["kind"] for r in rows}
    assert set(NEW_VIEWS) <= kinds
    partial = [r for r in rows if r["kind"] == "partial_fill"]
    assert sorted(float(r["cumulative_quantity"]) for r in partial) == [0.4, 1.0, 2.0]
    reject = next(r for r in rows if r["kind"] == "reject")
    assert reject["reason"] == "insufficient balance" and reject["client_id"] == "o6"


def test_sql_views_over_jsonl_and_parquet_count_what_the_summary_counts(logs, summary, tmp_path):
    assert {k: KIND_VIEWS[k] for k in NEW_VIEWS} == NEW_VIEWS
    parquet = tmp_path / "parquet"
    export(logs, EventFilter.build(session_id=life.SESSION), "parquet", parquet)
    for con in (connect(logs), connect(None, [parquet])):
        for kind, view in KIND_VIEWS.items():
            (n,) = con.execute(f"SELECT count(*) FROM {view}").fetchone()
            assert n == summary.kind_counts.get(kind, 0), view
        # The summary's outcomes from the views: cancels joined to their orders, etc.
        (partly,) = con.execute("SELECT count(*) FROM cancels WHERE filled_quantity > 0").fetchone()
        assert partly == summary.orders.partly_filled_then_ended
        (open_orders,) = con.execute(
            "SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM events e WHERE "
            "e.kind IN ('fill', 'cancel', 'expire', 'reject') AND e.client_id = o.client_id) "
            "AND NOT EXISTS (SELECT 1 FROM errors x WHERE x.stage = 'execute' "
            "AND x.client_id = o.client_id)"
        ).fetchone()
        assert open_orders == summary.orders.by_status["open"]
        (acked,) = con.execute("SELECT count(DISTINCT client_id) FROM acks").fetchone()
        assert acked == summary.orders.acknowledged


def test_telemetry_sql_command_reads_the_new_views(logs, summary):
    """The real command, as an operator runs it: one query, JSON out."""
    query = (
        "SELECT (SELECT count(*) FROM acks) a, (SELECT count(*) FROM partial_fills) p, "
        "(SELECT count(*) FROM cancels) c, (SELECT count(*) FROM expires) x, "
        "(SELECT count(*) FROM rejects) r"
    )
    done = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "telemetry-sql"), "--path", str(logs),
         "--format", "json", query],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = done.stdout.strip()
    row = json.loads(text)[0] if text.startswith("[") else json.loads(text.splitlines()[0])
    counts = summary.kind_counts
    assert row == {"a": counts["ack"], "p": counts["partial_fill"], "c": counts["cancel"],
                   "x": counts["expire"], "r": counts["reject"]}  # fmt: skip


def test_gzipped_archive_exports_the_same_kinds(logs, tmp_path):
    """A session compressed by retention: the same kinds reach the export."""
    path = logs / f"{life.SESSION}.jsonl"
    (logs / f"{life.SESSION}.jsonl.gz").write_bytes(gzip.compress(path.read_bytes()))
    path.unlink()
    out = tmp_path / "life.jsonl"
    export(logs, EventFilter.build(session_id=life.SESSION), "jsonl", out)
    kinds = [json.loads(line)["kind"] for line in out.read_text().splitlines()]
    assert {k: kinds.count(k) for k in set(kinds)} == life.KIND_COUNTS
