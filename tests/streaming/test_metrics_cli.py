"""telemetry-metrics: a standalone exporter fed by the stream, scraped over real HTTP."""

from __future__ import annotations

import re
import signal
import subprocess
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from src.execution import ExecutionPipeline, OrderIntent, PaperExecutor, PriceSanityGate
from src.execution.telemetry import RedisStreamEmitter

STREAM = "t:metrics"


def scrape(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_exporter_counts_every_producers_events(redis_server, repo_root, python):
    """Events from the stream show up as counters and histograms at /metrics on 127.0.0.1."""
    proc = subprocess.Popen(
        [python, "-m", "src.streaming.metrics_cli", "--redis-url", redis_server.url,
         "--stream", STREAM, "--addr", "127.0.0.1", "--port", "0", "--log-level", "WARNING"],
        cwd=repo_root, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        banner = proc.stdout.readline()
        match = re.search(r"at (http://127\.0\.0\.1:\d+/metrics)", banner)
        assert match, banner
        url = match.group(1)
        sink = RedisStreamEmitter(redis_server.url, stream=STREAM)
        pipeline = ExecutionPipeline(
            executor=PaperExecutor(slippage_bps=3), emitter=sink, gates=[PriceSanityGate(100)]
        )
        pipeline.update_price("SOL-USD", 150.0)
        for n in range(20):
            price = 150.0 if n % 5 else 200.0  # every 5th intent is priced way off: blocked
            pipeline.submit_order(OrderIntent(symbol="SOL-USD", side="sell", quantity=2.0,
                                              current_price=price, session_id="m1"))  # fmt: skip
        assert sink.flush(timeout=30)
        sink.close()
        labels = (("kind", "fill"), ("mode", "paper"), ("symbol", "SOL-USD"))
        deadline = time.monotonic() + 60
        samples = scrape(url)
        while samples.get(("execution_events_total", labels)) != 16 and time.monotonic() < deadline:
            time.sleep(0.05)
            samples = scrape(url)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        proc.stdout.close()
    intents = (("kind", "intent"), ("mode", "paper"), ("symbol", "SOL-USD"))
    assert samples[("execution_events_total", labels)] == 16
    assert samples[("execution_events_total", intents)] == 20
    assert samples[("execution_gate_rejections_total", (("gate", "PriceSanity"),))] == 4
    assert samples[("execution_order_to_fill_seconds_count", ())] == 16
    assert samples[("execution_slippage_bps_bucket", (("le", "2.0"),))] == 0
    assert samples[("execution_slippage_bps_bucket", (("le", "5.0"),))] == 16
    assert code == 0, "SIGTERM is a clean stop"
