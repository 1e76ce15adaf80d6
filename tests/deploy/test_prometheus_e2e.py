"""End to end: a real Prometheus scrapes a running dashboard (over the session logs) and a
running telemetry-metrics (over a real Redis stream) while a paper session trades; PromQL
over Prometheus's HTTP API then gives the session's counts, the same from both exporters."""

from __future__ import annotations

import re
import signal
import subprocess
import time
import urllib.request

from src.execution import ExecutionPipeline, OrderIntent, PaperExecutor, PriceSanityGate
from src.execution.telemetry import CompositeEmitter, JsonlExecutionLogger, RedisStreamEmitter
from tests.deploy.prom import RULES, Prometheus, free_port
from tests.deploy.tools import dashboard_queries, grafana_module

STREAM = "t:e2e"


def _start(cmd: list[str], cwd) -> subprocess.Popen[str]:
    return subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)  # fmt: skip


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(30)
    finally:
        if proc.stdout:
            proc.stdout.close()


def _wait_http(url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.1)


def test_prometheus_scrapes_dashboard_and_fleet_exporter(tmp_path, redis_server, repo_root, python):
    logs = tmp_path / "logs"
    logs.mkdir()
    dash_port = free_port()
    dashboard = _start([python, "-m", "src.webui.server", "--path", str(logs), "--host",
                        "127.0.0.1", "--port", str(dash_port)], repo_root)  # fmt: skip
    fleet = _start([python, "-m", "src.streaming.metrics_cli", "--redis-url", redis_server.url,
                    "--stream", STREAM, "--addr", "127.0.0.1", "--port", "0",
                    "--log-level", "WARNING"], repo_root)  # fmt: skip
    prometheus = None
    try:
        banner = fleet.stdout.readline()
        match = re.search(r"at http://(127\.0\.0\.1:\d+)/metrics", banner)
        assert match, banner
        _wait_http(f"http://127.0.0.1:{dash_port}/healthz")
        (tmp_path / "prom").mkdir()
        targets = {"dashboard": f"127.0.0.1:{dash_port}", "fleet": match.group(1)}
        prometheus = Prometheus(tmp_path / "prom", targets, [RULES])
        up = {(("instance", target), ("job", job)): 1.0 for job, target in targets.items()}
        prometheus.wait_for("up", up, "both targets up")

        # A paper session: every 5th of 20 intents priced way off and blocked by the gate.
        logger = JsonlExecutionLogger(str(logs))
        stream = RedisStreamEmitter(redis_server.url, stream=STREAM)
        pipeline = ExecutionPipeline(executor=PaperExecutor(slippage_bps=3),
                                     emitter=CompositeEmitter([logger, stream]),
                                     gates=[PriceSanityGate(100)])  # fmt: skip
        pipeline.update_price("SOL-USD", 150.0)
        for n in range(20):
            price = 150.0 if n % 5 else 200.0
            pipeline.submit_order(OrderIntent(symbol="SOL-USD", side="sell", quantity=2.0,
                                              current_price=price, session_id="e2e"))  # fmt: skip
        assert stream.flush(timeout=30)
        stream.close()
        logger.close()

        both = {(("job", "dashboard"),): 16.0, (("job", "fleet"),): 16.0}
        prometheus.wait_for('sum by (job) (execution_events_total{kind="fill"})', both, "fills")
        prometheus.wait_for("sum by (job) (execution_fill_total)", both, "spec's fill counter")
        assert prometheus.query('sum by (job) (execution_events_total{kind="intent"})') == {
            (("job", "dashboard"),): 20.0, (("job", "fleet"),): 20.0}  # fmt: skip
        assert prometheus.query("sum by (job) (execution_gate_rejections_total)") == {
            (("job", "dashboard"),): 4.0, (("job", "fleet"),): 4.0}  # fmt: skip
        assert prometheus.query("sum by (job) (execution_order_to_fill_seconds_count)") == both
        assert prometheus.query("sum by (job) (execution_open_orders)") == {
            (("job", "dashboard"),): 0.0, (("job", "fleet"),): 0.0}  # fmt: skip
        # The shipped rules loaded and evaluate over the scraped series.
        rules = prometheus.api("rules")["data"]["groups"]
        assert {g["name"] for g in rules} == {"execution.recording", "execution.alerts"}
        assert all(r["health"] == "ok" for g in rules for r in g["rules"]), rules
        prometheus.wait_for("count by (job) (job:execution_events:rate5m)",
                            {(("job", "dashboard"),): 5.0, (("job", "fleet"),): 5.0},
                            "recorded rates of intent, gate, order, ack, fill")  # fmt: skip
        # Every Grafana panel query runs on the real server and finds the session's series.
        for expr in dashboard_queries(grafana_module().dashboard()):
            doc = prometheus.api("query", query=expr.replace('".+"', '"fleet"'))
            assert doc["status"] == "success", (expr, doc)
        assert prometheus.query('sum(execution_open_orders{job=~"fleet"})') == {(): 0.0}
    finally:
        if prometheus is not None:
            prometheus.stop()
        assert _stop(fleet) == 0
        _stop(dashboard)
