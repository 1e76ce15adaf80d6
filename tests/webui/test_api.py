"""Dashboard JSON endpoints: the spec's shapes, filters, paging, errors, metrics, health."""

from __future__ import annotations

import csv
import io
import json

import pytest

from src.webui.app import create_app
from src.webui.settings import WebSettings, check_bind


def test_timeline_api_has_the_spec_shape(client):
    """GET /api/live/execution/{id}: session_id, timeline rows, summary, count."""
    body = client.get("/api/live/execution/session_clean?limit=200&kind=fill").json()
    assert body["session_id"] == "session_clean" and body["count"] == 4
    row = body["timeline"][0]
    assert set(row) >= {"ts", "kind", "symbol", "description", "details"}
    assert row["kind"] == "fill" and row["description"].startswith("Fill: ")
    assert body["summary"]["event_count"] == 22
    assert body["summary"]["kind_counts"]["intent"] == 5
    assert body["summary"]["symbols"] == ["BTC-USD", "ETH-USD"]


def test_timeline_is_newest_first_and_pages_back_with_a_cursor(client):
    """limit=5 then before=<cursor>: ten newest events, newest first, no overlap."""
    first = client.get("/api/live/execution/session_clean?limit=5").json()
    second = client.get(
        f"/api/live/execution/session_clean?limit=5&before={first['next_cursor']}"
    ).json()
    seqs = [r["seq"] for r in first["timeline"] + second["timeline"]]
    assert seqs == list(range(22, 12, -1))


def test_summary_follows_appends(client, logs):
    """An appended event shows up in the next summary (incremental refresh)."""
    before = client.get("/api/live/execution/session_clean?limit=1").json()["summary"][
        "event_count"
    ]
    line = json.dumps(
        {
            "ts": "2025-12-20T11:00:00Z",
            "session_id": "session_clean",
            "symbol": "BTC-USD",
            "mode": "paper",
            "kind": "error",
            "payload": {"error": "boom"},
        }
    )
    with (logs / "session_clean.jsonl").open("a") as fh:
        fh.write(line + "\n")
    after = client.get("/api/live/execution/session_clean?limit=1").json()
    assert after["summary"]["event_count"] == before + 1
    assert after["timeline"][0]["description"] == "Error: boom"


def test_telemetry_query_filters_and_default_limit(client):
    """GET /api/telemetry: session, type, symbol, from/to filters; newest first."""
    body = client.get("/api/telemetry?session_id=session_clean&type=fill&limit=100").json()
    assert body["count"] == 4 and all(e["kind"] == "fill" for e in body["events"])
    assert body["filters"]["limit"] == 100
    everything = client.get("/api/telemetry").json()
    assert everything["filters"]["limit"] == 2000 and everything["count"] == 67
    window = client.get(
        "/api/telemetry",
        params={"symbol": "ETH-USD", "from": "2025-12-20T10:01:00Z", "to": "2025-12-20T10:01:59Z"},
    ).json()
    assert window["count"] > 0 and all(e["symbol"] == "ETH-USD" for e in window["events"])


def test_telemetry_csv_download(client):
    """format=csv is a CSV attachment with one row per event and formula cells neutralised."""
    r = client.get("/api/telemetry?session_id=session_clean&format=csv")
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][:5] == ["ts", "session_id", "symbol", "mode", "kind"] and len(rows) == 23


@pytest.mark.parametrize(
    ("url", "status", "text"),
    [
        ("/api/live/execution/a..b", 400, "invalid session_id"),
        ("/api/live/execution/%2E%2E", 400, "invalid session_id"),
        ("/api/live/execution/a%20b", 400, "invalid session_id"),
        ("/api/live/execution/nope", 404, "no execution log found for session 'nope'"),
        ("/api/live/execution/session_clean?limit=0", 422, "limit"),
        ("/api/live/execution/session_clean?limit=abc", 422, "limit"),
        ("/api/live/execution/session_clean?kind=trade", 422, "kind"),
        ("/api/live/execution/session_clean?before=bogus", 400, "invalid cursor"),
        ("/api/telemetry?from=yesterday", 422, "invalid time 'yesterday'"),
        ("/api/telemetry?type=bogus", 422, "type"),
        ("/api/telemetry?session_id=../../etc", 400, "invalid session_id"),
    ],
)
def test_bad_requests(client, url, status, text):
    """Unsafe ids 400, unknown session 404, bad query values 422, each saying why."""
    r = client.get(url)
    assert r.status_code == status and text in r.json()["detail"]


def test_limit_is_capped(client):
    """A limit above the maximum is capped, not an error."""
    body = client.get("/api/telemetry?limit=999999").json()
    assert body["filters"]["limit"] == 5000


def test_no_endpoint_takes_a_filesystem_path(client):
    """Query parameters named like paths are ignored; the root is fixed at start-up."""
    body = client.get("/api/telemetry?path=/etc&base_path=/etc").json()
    assert body["count"] == 67


def test_sessions_index_api(client):
    """/api/sessions lists every session with lines, size and last event time."""
    rows = {r["session_id"]: r for r in client.get("/api/sessions").json()}
    assert set(rows) == {
        "session_clean",
        "session_latency",
        "session_bad_lines",
        "session_archived",
    }
    assert rows["session_clean"]["lines"] == 22
    assert rows["session_archived"]["lines"] == 10
    assert rows["session_clean"]["last_event"] == "2025-12-20T10:10:00.001000+00:00"


def test_metrics_health_and_openapi(client):
    """/metrics is Prometheus text, /healthz is ok, /docs and /openapi.json exist."""
    client.get("/api/telemetry")
    metrics = client.get("/metrics")
    assert "telemetry_dashboard_requests_total" in metrics.text
    assert 'route="/api/telemetry"' in metrics.text
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/docs").status_code == 200
    assert "/api/live/execution/{session_id}" in client.get("/openapi.json").json()["paths"]


def test_non_loopback_bind_needs_a_token():
    """Binding 0.0.0.0 without a token is refused with a clear message; with one it is allowed."""
    with pytest.raises(ValueError, match="needs an access token"):
        check_bind(WebSettings(host="0.0.0.0"))
    check_bind(WebSettings(host="0.0.0.0", token="s3cret"))
    check_bind(WebSettings(host="127.0.0.1"))


def test_token_protects_api_and_pages(logs):
    """With a token: 401 without it, 200 with bearer or login cookie; /healthz stays open."""
    from fastapi.testclient import TestClient

    app = create_app(settings=WebSettings(base_path=logs, token="s3cret"))
    with TestClient(app) as c:
        assert c.get("/api/telemetry").status_code == 401
        assert c.get("/", follow_redirects=False).status_code == 303
        assert c.get("/healthz").status_code == 200
        ok = c.get("/api/telemetry", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert c.post("/login", data={"token": "wrong"}).status_code == 401
        c.post("/login", data={"token": "s3cret"}, follow_redirects=False)
        assert c.get("/api/telemetry").status_code == 200


def test_server_command_refuses_open_bind_without_token(capsys, monkeypatch):
    """telemetry-dashboard --host 0.0.0.0 without a token exits 3 with one line."""
    from src.webui.server import main

    monkeypatch.delenv("TELEMETRY_DASHBOARD_TOKEN", raising=False)
    assert main(["--host", "0.0.0.0", "--port", "1"]) == 3
    err = capsys.readouterr().err
    assert "refusing to bind 0.0.0.0" in err and err.count("\n") == 1


def test_repeats_are_equal_and_an_append_shows_at_once(client, logs):
    """A repeated request gives the same body; an appended event is in the next one."""
    url = "/api/live/execution/session_clean?limit=3"
    first = client.get(url).json()
    second = client.get(url).json()
    assert first == second
    with (logs / "session_clean.jsonl").open("a") as fh:
        fh.write(
            json.dumps(
                {
                    "ts": "2025-12-20T11:00:00Z",
                    "session_id": "session_clean",
                    "symbol": "X",
                    "mode": "paper",
                    "kind": "fill",
                    "payload": {},
                }
            )
            + "\n"
        )
    third = client.get(url).json()
    assert third["summary"]["event_count"] == first["summary"]["event_count"] + 1


DANGEROUS_FIRST = ("=", "+", "-", "@", "\t", "\r", "'")


def _formula_session(logs) -> None:
    lines = []
    for i, c in enumerate(DANGEROUS_FIRST):
        lines.append(
            json.dumps(
                {
                    "ts": f"2025-12-20T10:00:0{i}+00:00",
                    "session_id": "session_formula",
                    "symbol": f"{c}cmd|' /C calc'!A0",
                    "mode": "paper",
                    "kind": "error",
                    "payload": {"message": "x"},
                    "seq": i + 1,
                    "event_id": f"{c}HYPERLINK(1)",
                }
            )
        )
    (logs / "session_formula.jsonl").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("fmt", ["telemetry", "export"])
def test_every_csv_guards_every_formula_start(client, logs, fmt):
    """Both dashboard CSVs quote cells starting with = + - @ TAB CR or ' (one shared guard)."""
    _formula_session(logs)
    url = (
        "/api/telemetry?session_id=session_formula&format=csv"
        if fmt == "telemetry"
        else "/api/export?session_id=session_formula&format=csv"
    )
    r = client.get(url)
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.text, newline="")))
    assert len(rows) == len(DANGEROUS_FIRST)
    symbols = sorted(row["symbol"] for row in rows)
    assert symbols == sorted(f"'{c}cmd|' /C calc'!A0" for c in DANGEROUS_FIRST)
    assert sorted(row["event_id"] for row in rows) == sorted(
        f"'{c}HYPERLINK(1)" for c in DANGEROUS_FIRST
    )
