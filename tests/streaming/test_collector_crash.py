"""End to end: three producer processes, a collector killed with SIGKILL mid-stream and
restarted; the archive ends up with exactly the producers' events, in per-session order."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

STREAM = "t:crash"
ORDERS = 1_000  # per producer, 6 events each (intent, 2 gates, order, ack, fill), in two halves

PRODUCER = r"""
import sys, time
from pathlib import Path
from src.execution import ExecutionPipeline, MaxNotionalGate, OrderIntent, PaperExecutor
from src.execution.telemetry import CompositeEmitter, JsonlExecutionLogger, RedisStreamEmitter

url, stream, local, session, orders, release = sys.argv[1:7]
orders = int(orders)
to_stream = RedisStreamEmitter(url, stream=stream, queue_size=1_000_000, batch_size=100)
to_file = JsonlExecutionLogger(local, fsync="none")
pipeline = ExecutionPipeline(executor=PaperExecutor(),
                             emitter=CompositeEmitter([to_file, to_stream]),
                             gates=[MaxNotionalGate(1e12)])

def trade(count):
    for n in range(count):
        side = "buy" if n % 2 else "sell"
        pipeline.submit_order(OrderIntent(symbol="BTC-USD", side=side, quantity=0.1,
                                          current_price=100_000.0, session_id=session))
        if n % 100 == 99:
            time.sleep(0.01)

trade(orders // 2)
deadline = time.monotonic() + 120
while not Path(release).exists() and time.monotonic() < deadline:  # the test kills the collector
    time.sleep(0.01)
trade(orders - orders // 2)
ok = to_stream.flush(120)
to_stream.close()
to_file.close()
sys.exit(0 if ok and to_stream.stats.dropped == 0 else 1)
"""


def wait_for(predicate, timeout: float = 120.0) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes (a bound, not an assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def line_count(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


@pytest.mark.slow
@pytest.mark.parametrize("restart_as", ["same-consumer", "new-consumer"])
def test_kill_minus_nine_and_restart_gives_exactly_the_union(
    redis_server, tmp_path, repo_root, python, restart_as
):
    """SIGKILL the collector mid-stream, restart it (same name, or a new one that must
    XAUTOCLAIM): each session's archive file equals the producer's own local log."""
    archive, local, release = tmp_path / "archive", tmp_path / "local", tmp_path / "release"
    sessions = ["p1", "p2", "p3"]

    def collector(consumer: str) -> subprocess.Popen:
        return subprocess.Popen(
            [python, "-m", "src.streaming.collect_cli", "--redis-url", redis_server.url,
             "--stream", STREAM, "--archive", str(archive), "--consumer", consumer,
             "--batch-size", "200", "--block-ms", "100", "--claim-idle-ms", "0",
             "--fsync", "none", "--log-level", "WARNING"],
            cwd=repo_root,
        )  # fmt: skip

    first = collector("c1")

    def producer(session: str) -> subprocess.Popen:
        return subprocess.Popen(
            [python, "-c", PRODUCER, redis_server.url, STREAM, str(local), session,
             str(ORDERS), str(release)],
            cwd=repo_root,
        )  # fmt: skip

    producers = [producer(s) for s in sessions]
    try:
        archived = lambda: sum(line_count(archive / f"{s}.jsonl") for s in sessions)  # noqa: E731
        assert wait_for(lambda: archived() >= 1_500), "the first collector never got going"
        first.send_signal(signal.SIGKILL)
        assert first.wait(30) == -signal.SIGKILL
        release.touch()  # the producers' second halves go out while no collector runs

        second = collector("c1" if restart_as == "same-consumer" else "c2")
        try:
            for proc in producers:
                assert proc.wait(180) == 0, "a producer lost events or failed"
            expected = {s: line_count(local / f"{s}.jsonl") for s in sessions}
            assert expected == dict.fromkeys(sessions, ORDERS * 6)
            assert wait_for(
                lambda: all(line_count(archive / f"{s}.jsonl") >= expected[s] for s in sessions)
            ), "the restarted collector did not catch up"
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(60) == 0, "SIGTERM is a clean stop"
    finally:
        for proc in [first, *producers]:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)

    for s in sessions:  # exactly the union, in each producer's order, byte for byte
        assert (archive / f"{s}.jsonl").read_bytes() == (local / f"{s}.jsonl").read_bytes()
    client = redis.Redis.from_url(redis_server.url)
    assert client.xpending(STREAM, "archive")["pending"] == 0
    client.close()
