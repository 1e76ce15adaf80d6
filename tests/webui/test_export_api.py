"""GET /api/export: streamed CSV and JSON lines, built Excel and Parquet, validated input."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

import orjson
import pyarrow.parquet as pq
from openpyxl import load_workbook


def test_csv_streams_the_filtered_session(client):
    """format=csv with type=fill: a CSV attachment of that session's fills, no limit."""
    r = client.get("/api/export", params={"session_id": "session_clean", "type": "fill"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="session_clean-fill.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["kind"] for row in rows] == ["fill"] * 4


def test_jsonl_is_every_event_across_sessions(client):
    """format=jsonl without a session: all 67 valid events of the fixtures, as logged."""
    r = client.get("/api/export", params={"format": "jsonl"})
    lines = r.content.splitlines()
    assert r.status_code == 200 and len(lines) == 67
    assert all(orjson.loads(line)["kind"] for line in lines)


def test_xlsx_download_is_a_workbook_and_leaves_no_scratch(client):
    """format=xlsx: a workbook with the summary and kind sheets; its scratch dir is removed."""
    before = set(os.listdir(tempfile.gettempdir()))
    r = client.get("/api/export", params={"session_id": "session_latency", "format": "xlsx"})
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames[:2] == ["summary", "intent"]
    after = set(os.listdir(tempfile.gettempdir()))
    assert not [n for n in after - before if n.startswith("telemetry-dashboard-export-")]


def test_parquet_download_is_one_file_with_partition_columns(client):
    """format=parquet: one Parquet file that carries date and session_id as columns."""
    r = client.get("/api/export", params={"format": "parquet", "symbol": "ETH-USD"})
    assert r.status_code == 200
    table = pq.read_table(io.BytesIO(r.content))
    assert {"date", "session_id", "ts", "fill_price", "payload"} <= set(table.column_names)
    assert set(table.column("symbol").to_pylist()) == {"ETH-USD"}


def test_bad_input(client):
    """Unsafe id 400, unknown session 404, bad time or format 422."""
    assert client.get("/api/export", params={"session_id": "../etc"}).status_code == 400
    assert client.get("/api/export", params={"session_id": "nope"}).status_code == 404
    assert client.get("/api/export", params={"from": "soon"}).status_code == 422
    assert client.get("/api/export", params={"format": "pdf"}).status_code == 422


def test_xlsx_with_a_relative_log_path(logs, monkeypatch):
    """base_path relative to the server's directory (the config's default form) still
    builds: the build process runs elsewhere and is given the absolute path."""
    from fastapi.testclient import TestClient

    from src.webui.app import create_app
    from src.webui.settings import WebSettings

    monkeypatch.chdir(logs.parent)
    settings = WebSettings(base_path=Path(logs.name))
    app = create_app(settings=settings)
    with TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 50000)) as c:
        r = c.get("/api/export", params={"session_id": "session_latency", "format": "xlsx"})
        assert r.status_code == 200, r.text
        assert load_workbook(io.BytesIO(r.content)).sheetnames[:2] == ["summary", "intent"]
