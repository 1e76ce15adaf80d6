"""The request-metrics middleware: route templates, statuses, and apps that raise."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client import generate_latest

from src.webui.app import create_app
from src.webui.settings import WebSettings
from tests.webui.loopback import loopback_client


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
        "telemetry_dashboard_request_duration_seconds_count", {"route": route}
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


def _scrape(client) -> dict:
    from prometheus_client.parser import text_string_to_metric_families

    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_execution_metrics_of_the_logs_count_appended_lines_once(tmp_path):
    """/metrics counts the events of the logs with the trading process's metric names; a
    scrape reads only what was appended, and retention compressing a file adds nothing."""
    import gzip
    import shutil

    from src.execution import ExecutionPipeline, OrderIntent, PaperExecutor
    from src.execution.telemetry import JsonlExecutionLogger

    base = tmp_path / "logs"
    logger = JsonlExecutionLogger(str(base))
    pipeline = ExecutionPipeline(executor=PaperExecutor(), emitter=logger)
    pipeline.update_price("ETH-USD", 3000.0)

    def trade(n: int) -> None:
        for _ in range(n):
            pipeline.submit_order(OrderIntent(symbol="ETH-USD", side="buy", quantity=1.0,
                                              current_price=3000.0, session_id="w1"))  # fmt: skip
        logger.flush()

    fills = (("kind", "fill"), ("mode", "paper"), ("symbol", "ETH-USD"))
    app = create_app(settings=WebSettings(base_path=base))
    app.state.metrics.logs.wait_s = 120  # a slow machine must not make a scrape partial
    with loopback_client(app) as c:
        trade(3)
        s = _scrape(c)
        assert s[("execution_events_total", fills)] == 3
        assert s[("execution_fill_total", ())] == 3
        assert s[("execution_order_to_fill_seconds_count", ())] == 3
        assert s[("execution_open_orders", ())] == 0
        trade(2)
        with open(next(base.rglob("*.jsonl")), "a", encoding="utf-8") as f:
            f.write("not json\n")
        s = _scrape(c)
        assert s[("execution_events_total", fills)] == 5
        assert s[("telemetry_dashboard_log_lines_total", (("outcome", "invalid"),))] == 1
        logger.close()
        plain = next(base.rglob("*.jsonl"))
        with open(plain, "rb") as src, gzip.open(f"{plain}.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        plain.unlink()
        s = _scrape(c)
        assert s[("execution_events_total", fills)] == 5
