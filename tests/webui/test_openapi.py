"""Every JSON answer of the dashboard matches the schema it publishes at /openapi.json.

The bodies come from the real app over the golden logs (plus a session with open orders,
gate blocks and errors, and an alert state written by a real engine run); each is checked
with ``jsonschema`` against the response schema of its route and status, ``$ref``s
resolved in the published document.
"""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime

import pytest
from jsonschema import Draft202012Validator

from src.alerts.cli import main as alerts_main
from tests.query.orders_sessions import SESSION as ORDERS
from tests.query.orders_sessions import write_session
from tests.webui.test_alerts_panel import evaluate

JSON = "application/json"


def _line(session: str, t: float, kind: str, symbol: object = "BTC-USD", **payload) -> str:
    return json.dumps(
        {
            "ts": datetime.fromtimestamp(t, UTC).isoformat(),
            "session_id": session,
            "symbol": symbol,
            "mode": "paper",
            "kind": kind,
            "payload": payload,
        }
    )


@pytest.fixture
def busy(logs):
    """A live session with every part of a summary filled in: an open order, a blocked
    intent, an error, a long gap, a non-string symbol, a line that is not an event; and an
    alert state with an acknowledged alert and a snooze."""
    t = time.time() - 300
    lines = [
        _line("live-x", t, "intent", intent_id="i1", side="buy", quantity=1, current_price=100),
        _line("live-x", t + 1, "gate", intent_id="i1", gate_name="Risk", passed=True),
        _line("live-x", t + 2, "order", intent_id="i1", client_id="c1", side="buy", quantity=1),
        _line("live-x", t + 3, "intent", intent_id="i2", side="sell", quantity=2),
        _line("live-x", t + 4, "gate", intent_id="i2", gate_name="Risk", passed=False, reason="x"),
        _line("live-x", t + 200, "error", 7, error="venue rejected order"),
        "not json",
        # An order's life: acks, a partial fill, a cancel, a reject (the summary's orders).
        _line("live-x", t + 2.1, "ack", client_id="c1", order_id="v1"),
        _line("live-x", t + 5, "order", client_id="c2", side="buy", quantity=2,
              order_type="limit", limit_price=99, time_in_force="GTC"),
        _line("live-x", t + 5.1, "partial_fill", client_id="c2", side="buy",
              filled_quantity=1, fill_price=99, cumulative_quantity=1, remaining_quantity=1),
        _line("live-x", t + 6, "cancel", client_id="c2", reason="requested", filled_quantity=1),
        _line("live-x", t + 7, "order", client_id="c3", side="buy", quantity=1),
        _line("live-x", t + 7.1, "reject", client_id="c3", reason="insufficient balance"),
        _line("live-x", t + 8, "order", client_id="c4", side="buy", quantity=1),
        _line("live-x", t + 8.1, "fill", client_id="c4", side="buy", filled_quantity=1,
              fill_price=100, reference_price=100),
    ]  # fmt: skip
    (logs / "live-x.jsonl").write_text("\n".join(lines) + "\n")
    evaluate(logs)
    for argv in (
        ["ack", "errors:live-x", "--by", "ops", "--note", "looking"],
        ["snooze", "errors:*", "--for", "1h", "--by", "ops", "--reason", "venue outage"],
    ):
        assert alerts_main([*argv, "--path", str(logs)], stdout=io.StringIO()) == 0
    write_session(logs)  # every path of an order's life, for the order blotter's routes
    return "live-x"


def _requests(session: str) -> list[tuple[str, dict[str, str], int]]:
    """(path, query, expected status) for every JSON route, with a session to show."""
    timeline = f"/api/live/execution/{session}"
    orders = f"/api/live/execution/{ORDERS}/orders"
    return [
        (timeline, {}, 200),
        (timeline, {"kind": "gate", "limit": "1"}, 200),
        ("/api/live/execution/session_clean", {"limit": "2"}, 200),
        ("/api/live/execution/session_bad_lines", {}, 200),
        ("/api/live/execution/session_archived", {}, 200),
        ("/api/live/execution/nope", {}, 404),
        (timeline, {"before": "not-a-cursor"}, 400),
        (timeline, {"limit": "0"}, 422),
        ("/api/telemetry", {}, 200),
        ("/api/telemetry", {"session_id": session, "type": "error", "from": "2000-01-01"}, 200),
        ("/api/telemetry", {"session_id": "a..b"}, 400),
        ("/api/telemetry", {"from": "yesterday-ish"}, 422),
        ("/api/sessions", {}, 200),
        ("/healthz", {}, 200),
        ("/api/alerts", {}, 200),
        ("/api/alerts", {"session_id": session}, 200),
        ("/api/alerts", {"session_id": "a..b"}, 400),
        ("/api/export", {"session_id": "nope"}, 404),
        (f"/api/live/execution/{session}/stream", {"since": "x" * 401}, 422),
        (f"{orders}", {}, 200),
        (f"{orders}", {"status": "open,cancelled", "symbol": "BTC-USD", "limit": "2"}, 200),
        (f"{orders}", {"status": "working"}, 400),
        (f"{orders}", {"before": "not-a-cursor"}, 400),
        ("/api/live/execution/nope/orders", {}, 404),
        (f"{orders}/c2", {}, 200),
        (f"{orders}/i7", {}, 200),
        (f"{orders}/nope", {}, 404),
        (f"{timeline}/orders/c1", {}, 200),
        (f"/api/live/execution/{ORDERS}/order", {"id": "c2"}, 200),
        (f"/api/live/execution/{ORDERS}/order", {"id": ".."}, 404),
        (f"/api/live/execution/{ORDERS}/order", {}, 400),
    ]


def _operation(doc: dict, path: str) -> tuple[str, dict]:
    for template, operations in doc["paths"].items():
        parts, pattern = path.split("/"), template.split("/")
        if len(parts) == len(pattern) and all(
            p == q or (q.startswith("{") and q.endswith("}"))
            for p, q in zip(parts, pattern, strict=True)
        ):
            return template, operations["get"]
    raise AssertionError(f"{path} is not in /openapi.json")


def _json_routes(doc: dict) -> set[str]:
    return {
        template
        for template, operations in doc["paths"].items()
        for operation in operations.values()
        if JSON in operation["responses"].get("200", {}).get("content", {})
    }


def test_every_json_route_declares_a_model(client):
    """No JSON route publishes a free-form object: each names its model."""
    doc = client.get("/openapi.json").json()
    routes = _json_routes(doc)
    assert routes == {
        "/api/live/execution/{session_id}",
        "/api/telemetry",
        "/api/sessions",
        "/healthz",
        "/api/alerts",
        "/api/live/execution/{session_id}/orders",
        "/api/live/execution/{session_id}/orders/{order_id}",
        "/api/live/execution/{session_id}/order",
    }
    for template in routes:
        schema = doc["paths"][template]["get"]["responses"]["200"]["content"][JSON]["schema"]
        ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
        assert ref and ref.startswith("#/components/schemas/"), (template, schema)
    for name in (
        "Summary",
        "FillReport",
        "OpenOrder",
        "GatesReport",
        "TimestampReport",
        "OrderPage",
        "OrderRow",
        "OrderChain",
        "ChainStep",
    ):
        assert name in doc["components"]["schemas"]


def test_every_json_body_matches_its_published_schema(client, busy):
    doc = client.get("/openapi.json").json()
    checked: set[str] = set()
    for path, query, status in _requests(busy):
        response = client.get(path, params=query)
        assert response.status_code == status, (path, query, response.text[:300])
        template, operation = _operation(doc, path)
        published = operation["responses"][str(status)]["content"]
        assert JSON in published, (path, status)
        assert response.headers["content-type"].startswith(JSON), path
        schema = {**published[JSON]["schema"], "components": doc["components"]}
        errors = sorted(
            Draft202012Validator(schema).iter_errors(response.json()), key=lambda e: e.path
        )
        assert not errors, (path, query, [f"{list(e.path)}: {e.message}" for e in errors[:5]])
        if status == 200:
            checked.add(template)
    assert checked == _json_routes(doc)  # every JSON route was seen answering 200
    # The bodies exercised what the schema says about a summary and the alerts.
    body = client.get(f"/api/live/execution/{busy}").json()
    summary = body["summary"]
    assert summary["fills"]["open_orders"][0]["client_id"] == "c1"
    orders = summary["orders"]
    assert orders["overdue_orders"][0]["client_id"] == "c1"
    assert {k: orders["by_status"][k] for k in ("cancelled", "rejected", "filled")} == {
        "cancelled": 1, "rejected": 1, "filled": 1
    }  # fmt: skip
    assert summary["latency"]["order_to_ack"]["count"] == 1
    assert summary["gates"]["by_gate"]["Risk"]["top_reasons"][0] == {"reason": "x", "count": 1}
    assert summary["errors"]["last"]["symbol"] == 7
    assert summary["timestamps"]["largest_gaps"][0]["session_id"] == busy
    alerts = client.get("/api/alerts").json()
    assert alerts["active"][0]["acked_by"] == "ops" and alerts["silences"][0]["by"] == "ops"


def test_a_body_that_breaks_the_schema_is_caught(client, busy):
    """The check is not vacuous: a summary missing a field, or with a mistyped one, fails."""
    doc = client.get("/openapi.json").json()
    schema = {
        **doc["paths"]["/api/live/execution/{session_id}"]["get"]["responses"]["200"]["content"][
            JSON
        ]["schema"],
        "components": doc["components"],
    }
    body = client.get(f"/api/live/execution/{busy}").json()
    assert Draft202012Validator(schema).is_valid(body)
    del body["summary"]["fills"]["open_orders"][0]["age_s"]
    assert not Draft202012Validator(schema).is_valid(body)
    body = client.get(f"/api/live/execution/{busy}").json()
    body["summary"]["latency"]["intent_to_order"]["p95_ms"] = "fast"
    assert not Draft202012Validator(schema).is_valid(body)
