"""A session with poisoned lines (instants beyond the datetime range, nesting 2000 deep,
numbers beyond a double) is served like any other: its page, charts, API, live timeline and
every export answer 200, with those lines counted invalid and skipped."""

from __future__ import annotations

import io

import orjson
import pyarrow.parquet as pq
from openpyxl import load_workbook

from tests.query.poisoned_lines import poisoned_lines


def test_the_dashboard_serves_a_poisoned_session(client, logs):
    clean = (logs / "session_clean.jsonl").read_bytes()
    (logs / "poisoned.jsonl").write_bytes(
        clean.replace(b'"session_clean"', b'"poisoned"') + b"".join(poisoned_lines("poisoned"))
    )
    valid = len(clean.splitlines())
    for url in ("/", "/live/execution/poisoned", "/live/execution/poisoned/charts"):
        assert client.get(url).status_code == 200, url
    timeline = client.get("/api/live/execution/poisoned", params={"limit": 500})
    assert timeline.status_code == 200
    api = client.get("/api/telemetry", params={"session_id": "poisoned", "limit": 500})
    assert api.status_code == 200
    jsonl = client.get("/api/export", params={"session_id": "poisoned", "format": "jsonl"})
    exported = jsonl.content.splitlines()
    assert jsonl.status_code == 200 and len(exported) == valid
    assert all(orjson.loads(line)["session_id"] == "poisoned" for line in exported)
    xlsx = client.get("/api/export", params={"session_id": "poisoned", "format": "xlsx"})
    assert xlsx.status_code == 200
    assert load_workbook(io.BytesIO(xlsx.content)).sheetnames[0] == "summary"
    whole = client.get("/api/export", params={"format": "parquet"})  # every session
    assert whole.status_code == 200
    table = pq.read_table(io.BytesIO(whole.content))
    assert table.num_rows == 67 + valid  # the fixtures' valid events, and these
