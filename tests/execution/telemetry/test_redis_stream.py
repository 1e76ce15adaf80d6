"""RedisStreamEmitter against a real redis-server: wire format, trimming, batching, outages."""

from __future__ import annotations

import logging
import socket
import subprocess
import time

import orjson
import pytest
import redis

from src.execution import ExecutionPipeline, MaxNotionalGate, OrderIntent, PaperExecutor
from src.execution.config import load_config
from src.execution.serialization import encode_event_line
from src.execution.telemetry import CompositeEmitter, JsonlExecutionLogger, RedisStreamEmitter
from src.execution.telemetry.factory import build_emitter
from src.streaming.redis_server import RedisServer, free_port


def wait_until(predicate, timeout: float = 30.0) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes (a bound, not an assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def stream_lines(url: str, stream: str) -> list[bytes]:
    client = redis.Redis.from_url(url)
    try:
        return [fields[b"line"] for _id, fields in client.xrange(stream)]
    finally:
        client.close()


def trade(pipeline: ExecutionPipeline, orders: int, session: str) -> set[str]:
    statuses = set()
    for _ in range(orders):
        intent = OrderIntent(
            symbol="BTC-USD", side="buy", quantity=0.1, current_price=100_000.0, session_id=session
        )
        statuses.add(pipeline.submit_order(intent).status)
    return statuses


def test_each_entry_is_the_exact_jsonl_line_in_emit_order(redis_server, make_event):
    """Every event becomes one entry whose `line` field equals encode_event_line(event)."""
    events = [make_event(seq=n, mono_ns=1000 + n) for n in range(1, 301)]
    with RedisStreamEmitter(redis_server.url, stream="t:exact") as emitter:
        for event in events:
            emitter.emit(event)
        assert emitter.flush(timeout=10) is True
        assert emitter.stats.emitted == 300 and emitter.stats.dropped == 0
    assert stream_lines(redis_server.url, "t:exact") == [encode_event_line(e) for e in events]


def test_maxlen_trims_the_stream_approximately(redis_server, make_event):
    """With maxlen=100, 5,000 events leave about 100 entries (XADD MAXLEN ~), not 5,000."""
    with RedisStreamEmitter(redis_server.url, stream="t:trim", maxlen=100) as emitter:
        for n in range(5_000):
            emitter.emit(make_event(seq=n))
        assert emitter.flush(timeout=30)
    client = redis.Redis.from_url(redis_server.url)
    length = client.xlen("t:trim")
    last = orjson.loads(client.xrevrange("t:trim", count=1)[0][1][b"line"])
    client.close()
    assert 100 <= length < 1_000
    assert last["seq"] == 4_999


def test_events_go_out_in_pipelined_batches(redis_server, make_event, monkeypatch):
    """The worker sends many events per round trip (never more than batch_size)."""
    emitter = RedisStreamEmitter(redis_server.url, stream="t:batch", batch_size=64)
    sizes: list[int] = []
    real_send = emitter.inner._send
    monkeypatch.setattr(
        emitter.inner, "_send", lambda lines: sizes.append(len(lines)) or real_send(lines)
    )
    for n in range(2_000):
        emitter.emit(make_event(seq=n))
    assert emitter.flush(timeout=30)
    emitter.close()
    assert sum(sizes) == 2_000
    assert max(sizes) == 64
    assert len(sizes) < 2_000 // 4, "events were sent one round trip at a time"


def test_emit_never_waits_on_a_server_that_does_not_answer(make_event):
    """A server that accepts but never replies: emits return, overflow is dropped and counted."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # never accept(): connects succeed, replies never come
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        emitter = RedisStreamEmitter(
            url, queue_size=100, batch_size=10, timeout=1.0, close_timeout=0.2
        )
        for n in range(5_000):
            emitter.emit(make_event(seq=n))  # would hang here if emit touched the socket
        assert emitter.stats.dropped >= 5_000 - 100 - 10
        assert emitter.flush(timeout=0.1) is False
        emitter.close()
    assert emitter.stats.emitted == 0
    assert emitter.stats.dropped == 5_000, "every event is delivered or counted, none vanish"


def test_redis_outage_trading_goes_on_and_delivery_recovers(redis_server):
    """Redis stopped mid-session: orders keep filling, overflow is counted, delivery resumes."""
    emitter = RedisStreamEmitter(
        redis_server.url, stream="t:outage", queue_size=500, batch_size=100, backoff_max=0.2
    )
    pipeline = ExecutionPipeline(
        executor=PaperExecutor(), emitter=emitter, gates=[MaxNotionalGate(1e12)]
    )
    assert trade(pipeline, 50, "before") == {"filled"}
    assert emitter.flush(timeout=10)
    assert len(stream_lines(redis_server.url, "t:outage")) == 50 * 6

    redis_server.stop()
    assert trade(pipeline, 2_000, "during") == {"filled"}, "trading must not notice the outage"
    assert wait_until(lambda: emitter.inner.stats.errors > 0)
    assert not emitter.connected
    assert emitter.stats.dropped >= 2_000 * 6 - 500 - 100  # queue + the batch held for retry

    redis_server.start()  # same port, empty (nothing persisted)
    assert emitter.flush(timeout=30) is True, "the buffered backlog drains once Redis is back"
    assert emitter.connected and emitter.inner.reconnects >= 1
    assert trade(pipeline, 50, "after") == {"filled"}
    assert emitter.flush(timeout=30) is True
    lines = stream_lines(redis_server.url, "t:outage")
    records = [orjson.loads(line) for line in lines]
    after = [r["seq"] for r in records if r["session_id"] == "after"]
    assert after == list(range(1, 50 * 6 + 1)), "everything after the outage arrives, in order"
    during = {r["event_id"] for r in records if r["session_id"] == "during"}
    assert len(during) > 0, "what was buffered during the outage is delivered afterwards"
    assert len(during) + emitter.stats.dropped == 2_000 * 6, "delivered or counted, never lost"
    assert pipeline.telemetry_errors == 0
    emitter.close()


def test_password_in_url_never_reaches_logs_or_health(tmp_path, make_event, caplog):
    """A Redis password (right or wrong) appears in no log line, error, health or name."""
    server = RedisServer(tmp_path / "auth", extra_args=("--requirepass", "s3cr3t-pw")).start()
    try:
        good = f"redis://:s3cr3t-pw@127.0.0.1:{server.port}/0"
        bad = f"redis://user:wr0ng-pw@127.0.0.1:{server.port}/0?password=wr0ng-pw"
        dead = f"redis://:d3ad-pw@127.0.0.1:{free_port()}/0"
        with caplog.at_level(logging.DEBUG):
            with RedisStreamEmitter(good, stream="t:auth") as ok:
                ok.emit(make_event())
                assert ok.flush(timeout=10)
            refused = []
            for url in (bad, dead):
                emitter = RedisStreamEmitter(url, stream="t:auth", close_timeout=0.2)
                emitter.emit(make_event())
                assert wait_until(lambda e=emitter: e.inner.stats.errors > 0)
                refused.append(emitter)
                emitter.close()
        assert ok.stats.emitted == 1
        texts = [caplog.text]
        for emitter in (ok, *refused):
            texts += [repr(emitter.health()), emitter._name(), str(emitter.inner.stats.last_error)]
        blob = "\n".join(texts)
        assert "failed" in blob and "***" in blob
        for secret in ("s3cr3t-pw", "wr0ng-pw", "d3ad-pw"):
            assert secret not in blob
    finally:
        server.stop()


def test_contract_emit_after_close_double_close_context_manager(redis_server, make_event):
    """The shared emitter contract holds for the Redis sink too."""
    with RedisStreamEmitter(redis_server.url, stream="t:contract") as emitter:
        emitter.emit(make_event())
        assert emitter.flush(timeout=10) is True
    assert emitter.closed
    emitter.close()
    emitter.emit(make_event())
    assert emitter.stats.dropped == 1 and emitter.stats.emitted == 1
    assert {"emitter", "emitted", "errors", "dropped", "closed", "inner"} <= set(emitter.health())


def test_config_selects_redis_alone_or_next_to_jsonl(redis_server, tmp_path, make_event):
    """backend = ["jsonl", "redis"] in the TOML builds both sinks; events reach both."""
    path = tmp_path / "execution.toml"
    path.write_text(
        f"""
[execution.telemetry]
backend = ["jsonl", "redis"]
base_path = "{tmp_path / "logs"}"
fsync = "none"

[execution.telemetry.redis]
url = "{redis_server.url}"
stream = "t:config"
maxlen = 5000
batch_size = 32
""",
        encoding="utf-8",
    )
    emitter = build_emitter(load_config(path, env={}))
    assert isinstance(emitter, CompositeEmitter)
    jsonl, stream = emitter.emitters
    assert isinstance(jsonl, JsonlExecutionLogger) and isinstance(stream, RedisStreamEmitter)
    assert stream.stream == "t:config" and stream.inner.maxlen == 5000 and stream.batch_size == 32
    emitter.emit(make_event(seq=1))
    assert emitter.flush(timeout=10)
    emitter.close()
    local = (tmp_path / "logs" / "session_123.jsonl").read_bytes().splitlines(keepends=True)
    assert stream_lines(redis_server.url, "t:config") == local

    alone = build_emitter(
        load_config(path, env={}, overrides={"execution.telemetry.backend": "redis"})
    )
    assert isinstance(alone, RedisStreamEmitter)
    alone.close()


def test_importing_the_package_does_not_import_redis(repo_root, python):
    """Importing the scale-out sinks leaves redis and prometheus_client unimported."""
    code = (
        "import sys\n"
        "from src.execution.telemetry import RedisStreamEmitter, PrometheusEmitter, build_emitter\n"
        "assert 'redis' not in sys.modules, 'redis imported eagerly'\n"
        "assert 'prometheus_client' not in sys.modules, 'prometheus_client imported eagerly'\n"
        "RedisStreamEmitter('redis://127.0.0.1:1/0').close()\n"
        "assert 'redis' in sys.modules\n"
    )
    subprocess.run([python, "-c", code], cwd=repo_root, check=True, timeout=60)


def test_missing_redis_package_fails_at_construction_naming_the_extra(repo_root, python):
    """Without redis-py, building the emitter raises ImportError naming the 'scale' extra."""
    code = (
        "import sys\n"
        "sys.modules['redis'] = None\n"
        "from src.execution.telemetry import RedisStreamEmitter\n"
        "try:\n"
        "    RedisStreamEmitter()\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [python, "-c", code], cwd=repo_root, check=True, capture_output=True, text=True, timeout=60
    )
    assert "execution-telemetry[scale]" in out.stdout


@pytest.mark.parametrize("maxlen", [-1])
def test_invalid_settings_are_refused(maxlen):
    """A negative maxlen is a ValueError naming the value."""
    with pytest.raises(ValueError, match="invalid maxlen -1"):
        RedisStreamEmitter("redis://127.0.0.1:1/0", maxlen=maxlen)
