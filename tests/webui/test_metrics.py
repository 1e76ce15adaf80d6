"""The request-metrics middleware: route templates, statuses, and apps that raise."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client import generate_latest

from src.webui.app import create_app
from src.webui.settings import WebSettings


def _requests(app, route: str, status: str) -> float:
    value = app.state.metrics.registry.get_sample_value(
        "telemetry_dashboard_requests_total", {"route": route, "status": status}
    )
    return value or 0.0


def test_requests_are_counted_by_route_template_and_status(client):
    """The label is the route template (not the raw path), the status the one sent."""
    app = client.app
    client.get("/api/live/execution/session_clean")
    client.get("/api/live/execution/no_such_session")
    client.get("/api/live/execution/session_clean", params={"limit": "zero"})
    client.get("/nowhere/at/all")
    route = "/api/live/execution/{session_id}"
    assert _requests(app, route, "200") == 1
    assert _requests(app, route, "404") == 1
    assert _requests(app, route, "422") == 1
    assert _requests(app, "unmatched", "404") == 1
    count = app.state.metrics.registry.get_sample_value(
        "telemetry_dashboard_request_seconds_count", {"route": route}
    )
    assert count == 3


def test_a_route_that_raises_is_counted_as_500_once(logs):
    app = create_app(settings=WebSettings(base_path=logs))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(
        app, raise_server_exceptions=False, base_url="http://127.0.0.1", client=("127.0.0.1", 50000)
    ) as c:
        assert c.get("/boom").status_code == 500
    assert _requests(app, "/boom", "500") == 1
    assert b'route="/boom"' in generate_latest(app.state.metrics.registry)


def test_token_check_runs_inside_the_metrics(logs):
    """A refused request is still counted (the metrics middleware is the outermost)."""
    app = create_app(settings=WebSettings(base_path=logs, token="s3cret"))
    with TestClient(app) as c:
        assert c.get("/api/telemetry").status_code == 401
        ok = c.get("/api/telemetry", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
    assert _requests(app, "unmatched", "401") == 1
    assert _requests(app, "/api/telemetry", "200") == 1
