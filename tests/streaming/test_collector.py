"""Collector against a real redis-server: archive = local JSONL, ack after write, dedup, claims."""

from __future__ import annotations

import errno
import threading
import time
from pathlib import Path

import pytest

from src.execution import ExecutionPipeline, MaxNotionalGate, OrderIntent, PaperExecutor
from src.execution.serialization import encode_event_line
from src.execution.telemetry import CompositeEmitter, JsonlExecutionLogger, RedisStreamEmitter
from src.streaming.collector import ArchiveWriteError, Collector
from tests.conftest import drain

STREAM = "t:collect"


def make_collector(url: str, archive: Path, **kwargs) -> Collector:
    options = {"stream": STREAM, "consumer": "c1", "block_ms": 50, "fsync": "none"}
    options.update(kwargs)
    return Collector(url, archive_path=str(archive), **options)


def produce(url: str, local: Path, session: str, orders: int) -> None:
    """Trade through a pipeline that logs locally and to the stream."""
    local_sink = JsonlExecutionLogger(local, fsync="none")
    stream_sink = RedisStreamEmitter(url, stream=STREAM)
    pipeline = ExecutionPipeline(
        executor=PaperExecutor(),
        emitter=CompositeEmitter([local_sink, stream_sink]),
        gates=[MaxNotionalGate(1e12)],
    )
    for n in range(orders):
        side = "buy" if n % 2 else "sell"
        pipeline.submit_order(
            OrderIntent(symbol="ETH-USD", side=side, quantity=1.0, current_price=3_500.0,
                        session_id=session)
        )  # fmt: skip
    assert stream_sink.flush(timeout=30)
    stream_sink.close()
    local_sink.close()


def test_archive_is_byte_identical_to_the_producers_local_logs(redis_server, tmp_path):
    """Lines written via the collector equal what a local JsonlExecutionLogger wrote."""
    for session in ("s1", "s2"):
        produce(redis_server.url, tmp_path / "local", session, 100)
    with make_collector(redis_server.url, tmp_path / "archive") as collector:
        drain(collector)
        assert collector.pending() == 0
        assert collector.stats.written == 1200 and collector.stats.acked == 1200
    for session in ("s1", "s2"):
        local = (tmp_path / "local" / f"{session}.jsonl").read_bytes()
        assert (tmp_path / "archive" / f"{session}.jsonl").read_bytes() == local


def test_duplicate_entries_give_one_line(redis_server, redis_client, tmp_path, make_event):
    """The same event XADDed three times (a re-sent batch) is archived once."""
    client = redis_client
    line = encode_event_line(make_event(seq=1))
    for _ in range(3):
        client.xadd(STREAM, {"line": line})
    client.xadd(STREAM, {"line": encode_event_line(make_event(seq=2))})
    with make_collector(redis_server.url, tmp_path) as collector:
        drain(collector)
        assert collector.stats.duplicates == 2 and collector.pending() == 0
    lines = (tmp_path / "session_123.jsonl").read_bytes().splitlines(keepends=True)
    assert lines[0] == line and len(lines) == 2


class Crash(BaseException):
    """Stands in for the process dying (not an Exception: nothing may catch it)."""


def test_crash_after_write_before_ack_leaves_no_duplicate(redis_server, tmp_path, monkeypatch):
    """Written but unacknowledged entries come back after a restart; the archive tail
    tells the new collector they are done, so no line is written twice."""
    produce(redis_server.url, tmp_path / "local", "s1", 50)
    first = make_collector(redis_server.url, tmp_path / "archive", batch_size=80)

    def die(*_args):
        raise Crash

    monkeypatch.setattr(first, "_acknowledge", die)
    with pytest.raises(Crash):
        drain(first)
    first.close()  # releases the archive and the connection, as the dead process would
    assert first.stats.written == 80 and first.pending() == 80  # written, never acknowledged

    second = make_collector(redis_server.url, tmp_path / "archive", batch_size=80)
    assert second.seeded >= 80, "the restart re-learns the ids from the archive tail"
    drain(second)
    assert second.stats.duplicates == 80 and second.pending() == 0
    second.close()
    local = (tmp_path / "local" / "s1.jsonl").read_bytes()
    assert (tmp_path / "archive" / "s1.jsonl").read_bytes() == local


def test_a_new_consumer_claims_what_a_dead_one_left_pending_in_order(
    redis_server, redis_client, tmp_path
):
    """XAUTOCLAIM hands a dead consumer's pending entries over; they are written first."""
    produce(redis_server.url, tmp_path / "local", "s1", 25)  # 150 events
    client = redis_client
    client.xgroup_create(STREAM, "archive", id="0")
    client.xreadgroup("archive", "dead", {STREAM: ">"}, count=40)  # read, never acknowledged
    with make_collector(redis_server.url, tmp_path / "archive", consumer="alive",
                        claim_idle_ms=0) as collector:  # fmt: skip
        drain(collector)
        assert collector.stats.claimed == 40 and collector.pending() == 0
    local = (tmp_path / "local" / "s1.jsonl").read_bytes()
    assert (tmp_path / "archive" / "s1.jsonl").read_bytes() == local


def test_entries_are_acknowledged_only_after_their_line_is_written(
    redis_server, tmp_path, monkeypatch
):
    """A failing archive write leaves that entry and the rest pending; they are retried
    later, in order, once writing works again."""
    produce(redis_server.url, tmp_path / "local", "s1", 10)  # 60 events (6 per order)
    collector = make_collector(redis_server.url, tmp_path / "archive")
    real_emit = collector.archive.emit
    calls = []

    def full_disk_at_the_21st(event):
        calls.append(event.seq)
        if len(calls) == 21:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_emit(event)

    monkeypatch.setattr(collector.archive, "emit", full_disk_at_the_21st)
    with pytest.raises(ArchiveWriteError):
        drain(collector)
    assert collector.stats.written == 20 and collector.pending() == 40
    drain(collector)
    assert collector.pending() == 0
    collector.close()
    local = (tmp_path / "local" / "s1.jsonl").read_bytes()
    assert (tmp_path / "archive" / "s1.jsonl").read_bytes() == local


def test_poison_entries_go_to_the_dead_letter_stream(
    redis_server, redis_client, tmp_path, make_event
):
    """Entries that can never be written are moved to <stream>:dead and acknowledged."""
    client = redis_client
    client.xadd(STREAM, {"line": b"not json"})
    client.xadd(STREAM, {"other": b"field"})
    client.xadd(STREAM, {"line": encode_event_line(make_event(session_id="../escape"))})
    client.xadd(STREAM, {"line": encode_event_line(make_event())})
    with make_collector(redis_server.url, tmp_path) as collector:
        drain(collector)
        assert collector.stats.dead_lettered == 3 and collector.pending() == 0
    dead = client.xrange(STREAM + ":dead")
    assert len(dead) == 3 and all(b"error" in fields for _id, fields in dead)
    assert [p.name for p in tmp_path.rglob("*.jsonl")] == ["session_123.jsonl"]


def test_trimmed_pending_entries_are_acknowledged_not_written(
    redis_server, redis_client, tmp_path, make_event
):
    """Entries trimmed away while pending come back empty; they are counted and cleared."""
    client = redis_client
    for n in range(10):
        client.xadd(STREAM, {"line": encode_event_line(make_event(seq=n))})
    client.xgroup_create(STREAM, "archive", id="0")
    client.xreadgroup("archive", "c1", {STREAM: ">"}, count=10)
    client.xtrim(STREAM, maxlen=0)
    with make_collector(redis_server.url, tmp_path) as collector:
        drain(collector)
        assert collector.stats.trimmed == 10 and collector.pending() == 0
        assert collector.stats.written == 0


def test_run_waits_out_a_redis_restart_and_carries_on(redis_server, tmp_path, make_event):
    """run() survives Redis going away (and losing the group); later events are archived."""
    collector = make_collector(redis_server.url, tmp_path, backoff_max=0.1)
    stop = threading.Event()
    worker = threading.Thread(target=collector.run, args=(stop,))
    worker.start()
    archive = tmp_path / "session_123.jsonl"

    def archived() -> int:
        return len(archive.read_bytes().splitlines()) if archive.exists() else 0

    def publish(first: int) -> None:
        with RedisStreamEmitter(redis_server.url, stream=STREAM) as sink:
            for n in range(first, first + 50):
                sink.emit(make_event(seq=n))
            assert sink.flush(timeout=30)

    try:
        publish(0)
        deadline = time.monotonic() + 30
        while archived() < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        redis_server.stop()
        redis_server.start()  # empty: stream and group are gone
        publish(50)
        deadline = time.monotonic() + 30
        while archived() < 100 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        worker.join(30)
        collector.close()
    assert not worker.is_alive()
    import orjson

    assert [orjson.loads(x)["seq"] for x in archive.read_bytes().splitlines()] == list(range(100))
    assert collector.stats.redis_errors >= 1
