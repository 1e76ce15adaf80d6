"""Redis stream: producer throughput and emit() cost against the JSONL logger.

Targets (issue 8): at least 50,000 events/s from one producer process into Redis, and
``RedisStreamEmitter.emit`` within 2x of ``JsonlExecutionLogger.emit``, both measured in
this run against a redis-server this benchmark starts on a free loopback port.

Throughput is end to end: from the first ``emit`` until ``flush`` returns, i.e. until Redis
has confirmed every entry. The emit cost is what the trading thread pays; the encoding and
the network happen on the emitter's worker thread, whose CPU is reported separately.
For sizing, it also times one collector archiving that stream (no target).
"""

from __future__ import annotations

import platform
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks._timing import Timing, paired
from benchmarks.bench_emit import _cycle, typical_event
from src.execution.telemetry import JsonlExecutionLogger, RedisStreamEmitter
from src.streaming.collector import Collector
from src.streaming.redis_server import RedisServer

EVENTS = 300_000
CALLS = 200_000


def bench_throughput(url: str) -> dict[str, float]:
    events = [typical_event(n) for n in range(EVENTS)]
    emitter = RedisStreamEmitter(url, stream="bench:throughput", queue_size=EVENTS + 1)
    emitter.emit(events[0])  # connect and start the worker outside the timed part
    assert emitter.flush(30)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for event in events:
        emitter.emit(event)
    delivered = emitter.flush(120)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    emitter.close()
    return {
        "events/s": EVENTS / wall,
        "seconds": wall,
        "cpu us/event": cpu / EVENTS * 1e6,
        "dropped": float(emitter.stats.dropped),
        "delivered": float(delivered),
    }


def bench_collector(url: str, tmp: Path) -> float:
    """Events/s one collector archives from the stream bench_throughput filled."""
    collector = Collector(
        url, archive_path=str(tmp / "archive"), stream="bench:throughput", consumer="bench",
        block_ms=50, fsync="none",
    )  # fmt: skip
    start = time.perf_counter()
    while collector.step() or collector.stats.read < EVENTS:
        pass
    elapsed = time.perf_counter() - start
    written = collector.stats.written
    collector.close()
    return written / elapsed


def bench_emit(url: str, tmp: Path) -> tuple[Timing, Timing, int]:
    events = [typical_event(n) for n in range(4_096)]
    jsonl = JsonlExecutionLogger(tmp / "jsonl", fsync="none")
    redis_sink = RedisStreamEmitter(url, stream="bench:emit", queue_size=2 * CALLS + 10_000)
    nxt_a, nxt_b = _cycle(events), _cycle(events)
    jsonl_t, redis_t = paired(lambda: jsonl.emit(nxt_a()), lambda: redis_sink.emit(nxt_b()), CALLS)
    redis_sink.flush(120)
    redis_sink.close()
    jsonl.close()
    return jsonl_t, redis_t, redis_sink.stats.dropped


def main() -> None:
    print(
        f"== redis benchmark ({platform.python_implementation()} {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d}) =="
    )
    if shutil.which("redis-server") is None:
        print("  skipped: redis-server not installed (scripts/install_system_deps.sh)")
        return
    with tempfile.TemporaryDirectory(dir=".") as tmp_dir:
        tmp = Path(tmp_dir)
        with RedisServer(tmp / "redis") as server:
            throughput = bench_throughput(server.url)
            collected = bench_collector(server.url, tmp)
            jsonl_t, redis_t, dropped = bench_emit(server.url, tmp)
    rate = throughput["events/s"]
    print(
        f"  one producer -> Redis: {EVENTS:,} events in {throughput['seconds']:.2f} s = "
        f"{rate:,.0f} events/s (all confirmed: {bool(throughput['delivered'])}, "
        f"dropped {throughput['dropped']:.0f}); process CPU {throughput['cpu us/event']:.1f} "
        "us/event incl. the worker thread"
    )
    print(f"  one collector, stream -> JSONL archive: {collected:,.0f} events/s (fsync none)")
    print(f"  {'JsonlExecutionLogger.emit':38s} {jsonl_t}")
    print(f"  {'RedisStreamEmitter.emit':38s} {redis_t}   (dropped {dropped})")
    ratio = redis_t.median_us / jsonl_t.median_us
    print("  ratios and targets:")
    print(f"    producer throughput          {rate:9,.0f} /s  (target >= 50,000/s)")
    print(f"    Redis emit / JSONL emit      {ratio:9.2f} x   (target <= 2x, medians)")


if __name__ == "__main__":
    main()
