"""PrometheusEmitter: metric values read back by scraping the real HTTP exporter."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from src.execution import ExecutionPipeline, MaxNotionalGate, OrderIntent, PaperExecutor
from src.execution.config import load_config
from src.execution.telemetry import PrometheusEmitter
from src.execution.telemetry.factory import build_emitter


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET http://127.0.0.1:<port>/metrics and index every sample by name and labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def intent(side: str, price: float, quantity: float = 1.0) -> OrderIntent:
    return OrderIntent(symbol="BTC-USD", side=side, quantity=quantity, current_price=price,
                       session_id="prom")  # fmt: skip


def test_scraped_counters_and_histograms_match_the_trading_that_happened():
    """Counters by kind/symbol/mode, rejections by gate, latency and slippage histograms."""
    emitter = PrometheusEmitter(CollectorRegistry(), port=0)
    try:
        pipeline = ExecutionPipeline(
            executor=PaperExecutor(slippage_bps=4, fee_bps=1),
            emitter=emitter,
            gates=[MaxNotionalGate(1_000_000)],
            mode="paper",
        )
        pipeline.update_price("BTC-USD", 100_000.0)
        for _ in range(3):
            assert pipeline.submit_order(intent("buy", 100_000.0)).status == "filled"
        for _ in range(2):
            assert pipeline.submit_order(intent("sell", 100_000.0)).status == "filled"
        assert pipeline.submit_order(intent("buy", 100_000.0, quantity=50)).status == "blocked"
        s = scrape(emitter.port)
    finally:
        emitter.close()
    paper_btc = (("kind", ""), ("mode", "paper"), ("symbol", "BTC-USD"))

    def count(kind: str) -> float:
        labels = tuple(sorted({**dict(paper_btc), "kind": kind}.items()))
        return s[("execution_events_total", labels)]

    assert count("intent") == 6 and count("gate") == 6 + 6  # IntentValidation, MaxNotional
    assert count("order") == 5 and count("fill") == 5
    assert s[("execution_gate_rejections_total", (("gate", "MaxNotional"),))] == 1
    assert s[("execution_intent_to_order_seconds_count", ())] == 5
    assert s[("execution_order_to_fill_seconds_count", ())] == 5
    assert s[("execution_intent_to_order_seconds_sum", ())] > 0
    # The paper executor fills 4 bps against the trader on both sides: every fill is +4 bps.
    # (No _sum: the client leaves it out for histograms with negative buckets.)
    assert s[("execution_slippage_bps_count", ())] == 5
    assert s[("execution_slippage_bps_bucket", (("le", "0.0"),))] == 0
    assert s[("execution_slippage_bps_bucket", (("le", "2.0"),))] == 0
    assert s[("execution_slippage_bps_bucket", (("le", "5.0"),))] == 5
    assert s[("execution_latency_pending", ())] == 0


def test_exporter_stops_on_close():
    """close() shuts the HTTP exporter down; the port no longer answers."""
    emitter = PrometheusEmitter(port=0)
    port = emitter.port
    assert scrape(port)
    emitter.close()
    emitter.close()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_emitters_do_not_collide_and_payload_serves_a_web_route():
    """Two emitters each get their own registry; payload() renders for a /metrics route."""
    a, b = PrometheusEmitter(), PrometheusEmitter()
    body, content_type = a.payload()
    assert b"execution_events_total" in body and content_type.startswith("text/plain")
    assert a.registry is not b.registry
    a.close()
    b.close()


def test_backend_prometheus_from_config_with_an_exporter_port(tmp_path):
    """backend = "prometheus" builds the emitter; [..prometheus] port > 0 starts the exporter."""
    from src.streaming.redis_server import free_port

    path = tmp_path / "execution.toml"
    port = free_port()
    path.write_text(
        '[execution.telemetry]\nbackend = "prometheus"\n'
        f"[execution.telemetry.prometheus]\nport = {port}\npending_max = 7\n",
        encoding="utf-8",
    )
    emitter = build_emitter(load_config(path, env={}))
    try:
        inner = getattr(emitter, "inner", emitter)  # the config's filters may wrap it
        assert isinstance(inner, PrometheusEmitter) and inner.port == port
        assert inner.metrics.tracker.max_pending == 7
        assert ("execution_latency_pending", ()) in scrape(port)
    finally:
        emitter.close()


def test_broken_event_is_counted_not_raised(make_event):
    """An event the metrics cannot digest is counted as an error; emit() does not raise."""
    emitter = PrometheusEmitter()
    emitter.emit(make_event(payload=None))  # payload None: .get fails inside
    assert emitter.stats.errors == 1
    emitter.emit(make_event())
    assert emitter.stats.emitted == 1
    emitter.close()
