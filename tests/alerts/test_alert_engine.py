"""The engine end to end: logs followed incrementally, state, restart, outbox, delivery."""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import time

from src.alerts.channels import ConsoleChannel, WebhookChannel
from src.alerts.config import AlertsConfig, DeliveryConfig
from src.alerts.deliverylog import read_deliveries
from src.alerts.service import build_engine, delivery_log_path, state_path

FAST = DeliveryConfig(timeout_s=5.0, max_attempts=2, backoff_initial_s=0.01, backoff_max_s=0.01)


def config(logs, **alerts) -> AlertsConfig:
    """The alerts section for an engine over ``logs`` (passed to build_engine on its own)."""
    return dataclasses.replace(AlertsConfig(delivery=FAST), **alerts)


def errors_now(log, n=1, message="broker rejected: insufficient margin"):
    now = time.time()
    for i in range(n):
        log.add(now - 5 + i * 0.01, "error", error=message)


def test_an_error_in_the_log_is_delivered_once_and_resolves_later(session_log, logs, receiver):
    """Error event -> webhook gets 'firing'; re-evaluating sends nothing new; the state has it."""
    log = session_log("live-1")
    now = time.time()
    for i in range(5):
        log.trade(now - 30 + i)
    errors_now(log)
    cfg = config(logs, channels=("webhook",))
    engine = build_engine(cfg, logs, channels={"webhook": WebhookChannel(receiver.url())})
    try:
        first = engine.evaluate()
        assert [n["event"] for n in first.notifications] == ["firing"]
        assert first.alerts[0]["key"] == "errors:live-1" and first.alerts[0]["status"] == "firing"
        assert engine.evaluate().notifications == []
        assert engine.dispatcher.drain(20)
    finally:
        engine.close()
    body = receiver.json(0)
    assert body["notification"]["key"] == "errors:live-1"
    assert "insufficient margin" in body["text"]
    assert len(receiver.requests) == 1
    state = json.loads(state_path(cfg, logs).read_text())
    assert state["outbox"] == [] and state["delivery"]["webhook"]["ok"] == 1
    assert [r["outcome"] for r in read_deliveries(delivery_log_path(cfg, logs))] == ["ok"]


def test_the_engine_follows_appends_between_evaluations(session_log, logs):
    """A session healthy at first evaluation alerts once an error is appended to its log."""
    log = session_log("live-2")
    now = time.time()
    for i in range(5):
        log.trade(now - 30 + i)
    out = io.StringIO()
    engine = build_engine(config(logs), logs, channels={"console": ConsoleChannel(stream=out)})
    try:
        assert engine.evaluate().conditions == []
        errors_now(log)
        assert [c.key for c in engine.evaluate().conditions] == ["errors:live-2"]
        assert engine.dispatcher.drain(20)
    finally:
        engine.close()
    assert "ALERT WARNING FIRING: errors on live-2" in out.getvalue()


def test_a_restart_neither_resends_nor_forgets(session_log, logs, receiver):
    """A restarted engine does not repeat announced alerts and still resolves them later."""
    log = session_log("live-3")
    errors_now(log)
    cfg = config(logs, channels=("webhook",))
    first = build_engine(cfg, logs, channels={"webhook": WebhookChannel(receiver.url())})
    try:
        assert len(first.evaluate().notifications) == 1
        assert first.dispatcher.drain(20)
    finally:
        first.close()
    second = build_engine(cfg, logs, channels={"webhook": WebhookChannel(receiver.url())})
    try:
        assert second.start() == 0
        again = second.evaluate()
        assert again.notifications == [] and again.alerts[0]["key"] == "errors:live-3"
        second.clock = lambda: time.time() + 600  # the error has left the 5 min window
        assert [n["event"] for n in second.evaluate().notifications] == ["resolved"]
        assert second.dispatcher.drain(20)
    finally:
        second.close()
    assert [receiver.json(i)["notification"]["event"] for i in range(2)] == ["firing", "resolved"]


def test_undelivered_notifications_survive_a_restart_in_the_outbox(session_log, logs, receiver):
    """Stopped while the endpoint hangs: the item stays in the outbox; the next start sends it."""
    log = session_log("live-4")
    errors_now(log)
    cfg = config(logs, channels=("webhook",))
    receiver.hang = True
    first = build_engine(
        dataclasses.replace(cfg, delivery=DeliveryConfig(timeout_s=60)),
        logs,
        channels={"webhook": WebhookChannel(receiver.url())},
    )
    assert len(first.evaluate().notifications) == 1
    receiver.wait_for(1)
    first.dispatcher.drain(0)
    for worker in first.dispatcher._workers.values():  # simulate the process dying mid-send
        worker.stop.set()
    outbox = json.loads(state_path(cfg, logs).read_text())["outbox"]
    assert [i["id"] for i in outbox] == ["n-1/webhook"]
    receiver.release.set()
    first.close(timeout=0)
    receiver.hang = False
    second = build_engine(cfg, logs, channels={"webhook": WebhookChannel(receiver.url())})
    try:
        assert second.start() == 1
        assert second.dispatcher.drain(20)
    finally:
        second.close()
    assert any(
        r["body"] and json.loads(r["body"])["notification"]["id"] == "n-1"
        for r in receiver.wait_for(2)[1:]
    )
    assert json.loads(state_path(cfg, logs).read_text())["outbox"] == []


def test_a_dead_endpoint_does_not_stall_evaluation(session_log, logs, receiver):
    """The webhook hangs on every request; evaluations keep running and the console alerts."""
    log = session_log("live-5")
    errors_now(log)
    receiver.hang = True
    out = io.StringIO()
    cfg = config(
        logs, channels=("webhook", "console"), delivery=DeliveryConfig(timeout_s=60, max_attempts=1)
    )
    engine = build_engine(
        cfg,
        logs,
        channels={"webhook": WebhookChannel(receiver.url()), "console": ConsoleChannel(stream=out)},
    )
    try:
        engine.evaluate()
        receiver.wait_for(1)  # the webhook worker is now stuck in its request
        for i in range(5):
            session_log(f"live-5-{i}").add(time.time(), "error", error="x")
            assert len(engine.evaluate().notifications) == 1
        deadline = time.monotonic() + 20
        while out.getvalue().count("ALERT") < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert out.getvalue().count("ALERT") == 6
        assert len(receiver.requests) == 1
    finally:
        receiver.release.set()
        engine.close(timeout=0)


def test_sessions_that_went_quiet_long_ago_are_not_read_and_their_alerts_resolve(session_log, logs):
    """A session last written beyond active_within_s is out of scope; its alert resolves."""
    log = session_log("old-1")
    errors_now(log)
    out = io.StringIO()
    engine = build_engine(config(logs), logs, channels={"console": ConsoleChannel(stream=out)})
    try:
        assert engine.evaluate().sessions == ["old-1"]
        engine.clock = lambda: time.time() + 7200
        gone = engine.evaluate()
        assert gone.sessions == [] and [n["event"] for n in gone.notifications] == ["resolved"]
    finally:
        engine.close()


def test_run_loop_evaluates_until_stopped(session_log, logs):
    """run() keeps evaluating on its interval; an error appended meanwhile is announced."""
    log = session_log("live-6")
    log.trade(time.time())
    out = io.StringIO()
    engine = build_engine(config(logs), logs, channels={"console": ConsoleChannel(stream=out)})
    stop = threading.Event()
    thread = threading.Thread(target=engine.run, args=(stop, 0.02))
    thread.start()
    try:
        errors_now(log)
        deadline = time.monotonic() + 20
        while "FIRING" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "errors on live-6" in out.getvalue()
        assert engine.evaluations >= 1
    finally:
        stop.set()
        thread.join(10)
        engine.close()


def test_dry_run_judges_without_recording_or_sending(session_log, logs):
    """build_engine(dry_run=True): conditions come back, no state file appears."""
    log = session_log("live-7")
    errors_now(log)
    cfg = config(logs)
    engine = build_engine(cfg, logs, dry_run=True)
    result = engine.evaluate()
    assert [c.key for c in result.conditions] == ["errors:live-7"]
    assert result.notifications == [] and not state_path(cfg, logs).exists()


def test_a_session_held_open_by_a_silent_logger_is_reported_stalled(logs):
    """A logger keeps the file open but writes nothing: stalled; once it closes: resolved."""
    import os
    from datetime import UTC, datetime

    from src.execution.events import ExecutionEvent
    from src.execution.telemetry import JsonlExecutionLogger

    logger = JsonlExecutionLogger(logs, fsync="none")
    out = io.StringIO()
    engine = build_engine(config(logs), logs, channels={"console": ConsoleChannel(stream=out)})
    try:
        logger.emit(
            ExecutionEvent(
                ts=datetime.now(UTC),
                session_id="quiet",
                symbol="X",
                mode="live",
                kind="intent",
                payload={},
            )
        )
        assert engine.evaluate().conditions == []
        engine.clock = lambda: time.time() + 400  # nothing written for 400 s
        stalled = engine.evaluate()
        assert [(c.key, c.severity) for c in stalled.conditions] == [
            ("stalled_session:quiet", "warning")
        ]
        assert "held open by a logger" in stalled.conditions[0].message
        logger.close()
        done = engine.evaluate()
        assert done.conditions == [] and [n["event"] for n in done.notifications] == ["resolved"]
        assert os.path.exists(logs / "quiet.jsonl")
    finally:
        logger.close()
        engine.close()
