"""The Redis stream as the engine's source, against a real redis-server on loopback."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime

from src.alerts.channels import ConsoleChannel
from src.alerts.config import AlertsConfig
from src.alerts.engine import horizon_s
from src.alerts.service import build_engine
from src.alerts.stream import StreamSource
from src.execution.events import ExecutionEvent
from src.execution.telemetry import RedisStreamEmitter
from tests.conftest import alerts_run

STREAM = "t:alerts"


def event(t: float, kind: str, session: str, **payload) -> ExecutionEvent:
    return ExecutionEvent(
        ts=datetime.fromtimestamp(t, UTC),
        session_id=session,
        symbol="BTC-USD",
        mode="live",
        kind=kind,
        payload=payload,
    )


def publish(url: str, events) -> None:
    with RedisStreamEmitter(url, stream=STREAM) as sink:
        for e in events:
            sink.emit(e)
        assert sink.flush(timeout=30)


def wait_for_entries(source: StreamSource, n: int) -> None:
    deadline = time.monotonic() + 20
    while source.entries < n:
        assert time.monotonic() < deadline, f"{source.entries} of {n} entries followed"
        time.sleep(0.01)


def test_stream_events_are_judged_like_logs(redis_server, tmp_path):
    """Blocked intents and an error sent to the stream fire gate and error alerts."""
    now = time.time()
    events = []
    for i in range(12):
        iid = f"i{i}"
        events.append(event(now - 20 + i, "intent", "live-s", intent_id=iid, side="buy"))
        events.append(
            event(
                now - 20 + i,
                "gate",
                "live-s",
                intent_id=iid,
                gate_name="KillSwitch",
                passed=False,
                reason="engaged",
            )
        )
    events.append(event(now - 1, "error", "live-s", error="venue disconnected"))
    config = AlertsConfig()
    source = StreamSource(
        redis_server.url,
        stream=STREAM,
        horizon_s=horizon_s(config),
        active_within_s=config.active_within_s,
        block_ms=50,
    )
    out = io.StringIO()
    engine = build_engine(
        config, tmp_path, source=source, channels={"console": ConsoleChannel(stream=out)}
    )
    try:
        publish(redis_server.url, events)
        wait_for_entries(source, len(events))
        result = engine.evaluate()
        assert result.sessions == ["live-s"]
        keys = {c.key: c.severity for c in result.conditions}
        assert keys == {
            "gate_rejection:live-s": "critical",
            "gate_rejection:live-s:KillSwitch": "critical",
            "errors:live-s": "warning",
        }
        assert engine.dispatcher.drain(20)
        assert out.getvalue().count("ALERT") == 3
    finally:
        engine.close()


def test_a_restarted_follower_starts_a_window_back(redis_server, redis_client):
    """Entries up to horizon_s old when the source starts are read; older ones are not."""
    from src.execution.serialization import encode_event_line

    now = time.time()
    for age, session in ((600, "s-old"), (3, "s-recent")):
        line = encode_event_line(event(now - age, "error", session, error="e"))
        redis_client.xadd(STREAM, {"line": line}, id=f"{int((now - age) * 1000)}-0")
    source = StreamSource(
        redis_server.url, stream=STREAM, horizon_s=300, active_within_s=3600, block_ms=50
    )
    try:
        wait_for_entries(source, 1)
        publish(redis_server.url, [event(time.time(), "intent", "s-new", intent_id="x")])
        wait_for_entries(source, 2)
        views, seen = source.views(time.time())
        assert seen == {"s-recent", "s-new"}
        recent = next(v for v in views if v.session_id == "s-recent")
        assert recent.window.count(recent.window.errors, now - 300, now + 10) == 1
    finally:
        source.close()


def test_run_with_redis_alerts_from_the_stream(redis_server, tmp_path):
    """telemetry-alerts run --redis: an error published to the stream is announced."""
    import signal

    config = tmp_path / "c.toml"
    config.write_text(
        f"[execution.telemetry]\nbase_path = '{tmp_path / 'logs'}'\n"
        "[execution.alerts.console]\ntarget = 'stdout'\n"
    )
    with alerts_run(
        "--redis", redis_server.url, "--stream", STREAM, "--config", str(config)
    ) as proc:
        assert "following the Redis stream" in proc.stdout.readline()
        publish(redis_server.url, [event(time.time(), "error", "via-redis", error="gateway down")])
        assert "ALERT WARNING FIRING: errors on via-redis" in proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert (tmp_path / "logs" / ".alerts" / "state.json").exists()
