"""The dashboard's alerts panel, over a state file written by a real engine run."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from src.alerts.channels import ConsoleChannel
from src.alerts.config import AlertsConfig
from src.alerts.service import build_engine, state_path
from src.webui.app import create_app
from src.webui.settings import WebSettings


def append(logs, session, kind, t=None, **payload):
    t = time.time() if t is None else t
    line = {
        "ts": datetime.fromtimestamp(t, UTC).isoformat(),
        "session_id": session,
        "symbol": "BTC-USD",
        "mode": "paper",
        "kind": kind,
        "payload": payload,
    }
    with (logs / f"{session}.jsonl").open("a") as fh:
        fh.write(json.dumps(line) + "\n")


def evaluate(logs, clock=time.time):
    """One real engine evaluation over ``logs`` (console channel into a buffer)."""
    engine = build_engine(
        AlertsConfig(), logs, channels={"console": ConsoleChannel(stream=io.StringIO())}
    )
    engine.clock = clock
    try:
        return engine.evaluate()
    finally:
        engine.close()


def test_without_a_state_file_the_panel_says_the_engine_has_not_run(client):
    """No state file yet: the index explains how to start the engine; the API says so too."""
    html = client.get("/").text
    assert 'id="alerts"' in html and "has not run here yet" in html
    assert client.get("/api/alerts").json()["available"] is False


def test_active_alerts_show_on_the_index_and_on_their_session_page(client, logs):
    """An error alert appears on the index (linked) and on its session, not on others."""
    append(logs, "live-a", "error", error="venue rejected order")
    evaluate(logs)
    index = client.get("/").text
    assert 'data-key="errors:live-a"' in index
    assert 'href="/live/execution/live-a"' in index and "venue rejected order" in index
    page = client.get("/live/execution/live-a").text
    assert 'data-key="errors:live-a"' in page and "1 active" in page
    other = client.get("/live/execution/session_clean").text
    assert 'data-key="errors:live-a"' not in other and "No active alerts" in other


def test_api_lists_active_and_recent_alerts_per_session(client, logs):
    """/api/alerts?session_id=: active while firing, then under recent once resolved."""
    append(logs, "live-b", "error", error="boom")
    evaluate(logs)
    doc = client.get("/api/alerts", params={"session_id": "live-b"}).json()
    assert doc["available"] and [a["key"] for a in doc["active"]] == ["errors:live-b"]
    assert doc["active"][0]["severity"] == "warning" and doc["recent"] == []
    evaluate(logs, clock=lambda: time.time() + 600)  # the error left the 5 min window
    doc = client.get("/api/alerts", params={"session_id": "live-b"}).json()
    assert doc["active"] == [] and [a["key"] for a in doc["recent"]] == ["errors:live-b"]
    assert client.get("/api/alerts", params={"session_id": "a..b"}).status_code == 400


def test_alert_text_from_the_logs_is_escaped(client, logs):
    """An error message carrying markup renders as text in the panel."""
    append(logs, "live-c", "error", error="<script>alert(1)</script>")
    evaluate(logs)
    html = client.get("/alerts/panel").text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_an_old_evaluation_is_flagged_as_stale(client, logs):
    """Last evaluation more than 5 minutes ago: the panel asks whether the engine still runs."""
    append(logs, "live-d", "intent")
    evaluate(logs, clock=lambda: time.time() - 900)
    assert "is <code>telemetry-alerts run</code> still running?" in client.get("/").text


def test_the_state_file_path_is_configurable(tmp_path, logs):
    """WebSettings(alerts_state_path=...) reads the engine's state from there."""
    append(logs, "live-e", "error", error="x")
    evaluate(logs)
    moved = tmp_path / "elsewhere.json"
    moved.write_bytes(state_path(AlertsConfig(), logs).read_bytes())
    settings = WebSettings(base_path=tmp_path / "empty", alerts_state_path=moved)
    (tmp_path / "empty").mkdir()
    with TestClient(
        create_app(settings=settings), base_url="http://127.0.0.1", client=("127.0.0.1", 50000)
    ) as c:
        assert [a["key"] for a in c.get("/api/alerts").json()["active"]] == ["errors:live-e"]


def test_an_unreadable_state_file_is_reported_not_a_500(client, logs):
    """Garbage in the state file: the panel says it cannot read it; the page still renders."""
    path = logs / ".alerts" / "state.json"
    path.parent.mkdir()
    path.write_text("{nope")
    r = client.get("/")
    assert r.status_code == 200 and "not a valid state file" in r.text


BAD_STATES = {
    "alert is a number": {"alerts": {"x": 5}},
    "outbox item without a channel": {"outbox": [{"id": "n-1/c", "notification": {}}]},
    "resolved alert without resolved_at": {
        "alerts": {
            "errors:s": {
                "key": "errors:s",
                "rule": "errors",
                "session_id": "s",
                "status": "resolved",
                "severity": "warning",
                "since": 1.0,
            }
        }
    },
    "silence that is text": {"silences": ["*"]},
    "deep nesting": {"alerts": {"x": "DEEP"}},
}


@pytest.mark.parametrize("shape", list(BAD_STATES))
def test_a_state_file_with_wrong_contents_shows_the_error_not_a_500(client, logs, shape):
    """/, the session page, /alerts/panel and /api/alerts answer 200 and name the problem."""
    doc = {"version": 1, "seq": 0, "alerts": {}, "silences": [], "outbox": []}
    doc.update(BAD_STATES[shape])
    path = logs / ".alerts" / "state.json"
    path.parent.mkdir()
    path.write_text(json.dumps(doc).replace('"DEEP"', "[" * 50_000 + "]" * 50_000))
    api = client.get("/api/alerts")
    assert api.status_code == 200
    body = api.json()
    assert body["available"] is False and "not a valid state file" in body["error"]
    for url in ("/", "/live/execution/session_clean", "/alerts/panel"):
        r = client.get(url)
        assert r.status_code == 200 and "not a valid state file" in r.text, url
    assert path.read_text() == json.dumps(doc).replace('"DEEP"', "[" * 50_000 + "]" * 50_000)


def test_a_fifo_or_a_huge_file_at_the_state_path_is_reported_not_waited_on(tmp_path):
    """The panel never hangs on a FIFO put at the state path, nor reads a file past the
    engine's cap: both are shown as not a valid state file."""
    import os
    import threading

    from src.alerts.state import MAX_STATE_BYTES
    from src.webui.alerts import AlertBoard

    path = tmp_path / "state.json"
    os.mkfifo(path)
    out: dict = {}
    t = threading.Thread(target=lambda: out.update(AlertBoard(path).snapshot()), daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # release it
        pytest.fail("the alerts panel hung on a FIFO")
    assert not out["available"] and "not a valid state file" in out["error"]
    path.unlink()
    path.write_bytes(b"{}")
    os.truncate(path, MAX_STATE_BYTES + 1)
    snap = AlertBoard(path).snapshot()
    assert not snap["available"] and "not a valid state file" in snap["error"]
