"""follow_stream: live events for dashboards and alerting, from a real redis-server."""

from __future__ import annotations

import logging
import threading

from src.execution.serialization import encode_event_line
from src.execution.telemetry import RedisStreamEmitter
from src.streaming.follow import follow_stream

STREAM = "t:follow"


def publish(url: str, events) -> None:
    with RedisStreamEmitter(url, stream=STREAM) as sink:
        for event in events:
            sink.emit(event)
        assert sink.flush(timeout=30)


def test_follows_only_new_events_in_order_as_events(redis_server, redis_client, make_event):
    """From "$" a follower skips history and yields later events, equal to what was sent."""
    publish(redis_server.url, [make_event(seq=0)])
    follower = follow_stream(redis_server.url, stream=STREAM, block_ms=50, idle_timeout=10)
    newest = redis_client.xrevrange(STREAM, count=1)[0][0].decode()
    assert follower.position() == newest, '"$" is resolved to the newest entry at once'
    sent = [make_event(seq=n, mono_ns=n) for n in range(1, 51)]
    publish(redis_server.url, sent)
    got = [entry for _, entry in zip(range(50), follower, strict=False)]
    follower.close()
    assert [e.event.to_dict() for e in got] == [e.to_dict() for e in sent]
    assert [e.line for e in got] == [encode_event_line(e) for e in sent]
    ids = [tuple(int(part) for part in e.entry_id.split("-")) for e in got]
    assert ids == sorted(ids) and follower.last_id == got[-1].entry_id


def test_from_the_start_with_filters_and_skipped_garbage(redis_server, redis_client, make_event):
    """last_id="0" replays the stream; session and kind filters apply; non-events are skipped."""
    client = redis_client
    client.xadd(STREAM, {"line": b"garbage"})
    publish(
        redis_server.url,
        [make_event(session_id="a", kind="fill"), make_event(session_id="b", kind="fill"),
         make_event(session_id="a", kind="intent"), make_event(session_id="a", kind="fill")],
    )  # fmt: skip
    follower = follow_stream(
        redis_server.url, stream=STREAM, last_id="0", session_id="a", kinds=["fill"],
        block_ms=50, idle_timeout=0.5,
    )  # fmt: skip
    got = list(follower)  # ends by itself: idle_timeout
    assert [(e.event.session_id, e.event.kind) for e in got] == [("a", "fill"), ("a", "fill")]
    assert follower.skipped == 1


def test_keeps_its_place_across_a_redis_restart(redis_server, make_event):
    """Redis goes away and comes back (empty): the follower reconnects and sees new events."""
    stop = threading.Event()
    follower = follow_stream(redis_server.url, stream=STREAM, block_ms=50, stop=stop)
    follower._backoff.maximum = 0.1
    got = []
    reader = threading.Thread(target=lambda: got.extend(e.event.seq for e in follower))
    follower.position()
    reader.start()
    try:
        publish(redis_server.url, [make_event(seq=1)])
        redis_server.stop()
        redis_server.start()
        publish(redis_server.url, [make_event(seq=2)])
        deadline = threading.Event()
        for _ in range(3000):
            if 2 in got:
                break
            deadline.wait(0.01)
    finally:
        stop.set()
        reader.join(30)
    assert not reader.is_alive(), "setting stop ends the iteration"
    assert got[-1] == 2 and follower.reconnects >= 1


def test_close_from_another_thread_ends_a_blocked_read(redis_server, caplog):
    """close() while the reader waits inside XREAD ends the iteration, without an error or
    a false "Redis unavailable" warning."""
    caplog.set_level(logging.WARNING, logger="src.streaming.follow")
    follower = follow_stream(redis_server.url, stream=STREAM, block_ms=5_000)
    follower.position()
    outcome = []

    def read() -> None:
        try:
            outcome.append(list(follower))
        except Exception as exc:  # the reader must not die with an error
            outcome.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    threading.Event().wait(0.2)  # let it block in XREAD (a bound, not an assertion)
    follower.close()
    reader.join(30)
    assert not reader.is_alive() and outcome == [[]]
    assert caplog.records == []
