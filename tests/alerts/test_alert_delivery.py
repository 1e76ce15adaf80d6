"""Delivery for real over loopback HTTP: payloads, retries with back-off, dead endpoints."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import threading

from src.alerts.channels import ConsoleChannel, SlackChannel, WebhookChannel
from src.alerts.config import DeliveryConfig
from src.alerts.delivery import Dispatcher, backoff_delays
from src.alerts.deliverylog import DeliveryLog, read_deliveries

FAST = DeliveryConfig(timeout_s=5.0, max_attempts=3, backoff_initial_s=0.01, backoff_max_s=0.02)


class Done:
    """Collects on_done callbacks; wait() until n have arrived."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []
        self.cond = threading.Condition()

    def __call__(self, item, outcome) -> None:
        with self.cond:
            self.items.append((item["id"], outcome))
            self.cond.notify_all()

    def wait(self, n: int) -> list[tuple[str, str]]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.items) >= n, timeout=30)
            return list(self.items)


def item(note, channel):
    return {"id": f"{note['id']}/{channel}", "channel": channel, "notification": note}


def run(channels, notes, tmp_path, config=FAST):
    done = Done()
    record = DeliveryLog(tmp_path / "deliveries.jsonl")
    dispatcher = Dispatcher(channels, config, record, on_done=done)
    try:
        for n in notes:
            for name in channels:
                dispatcher.submit(item(n, name))
        done.wait(len(notes) * len(channels))
    finally:
        dispatcher.close(timeout=5)
    return done.items, read_deliveries(record.path)


def test_generic_webhook_receives_the_notification_as_json(receiver, note, tmp_path):
    """The receiver gets version, text and the whole notification, an idempotency key, a token."""
    channel = WebhookChannel(receiver.url(), token="tok-123")
    done, records = run({"webhook": channel}, [note()], tmp_path)
    assert done == [("n-1/webhook", "ok")]
    body = receiver.json(0)
    assert body["version"] == 1 and body["notification"] == note()
    assert body["text"].startswith("CRITICAL FIRING: latency on s1 (order_to_fill)")
    headers = receiver.requests[0]["headers"]
    assert headers["Idempotency-Key"] == "n-1/webhook"
    assert headers["Authorization"] == "Bearer tok-123"
    assert headers["Content-Type"] == "application/json"
    assert [(r["outcome"], r["attempt"], r["detail"]) for r in records] == [("ok", 1, "HTTP 200")]


def test_slack_webhook_receives_text_and_blocks(receiver, note, tmp_path):
    """Slack-compatible payload: a one-line text fallback plus header/section/context blocks."""
    channel = SlackChannel(receiver.url(), dashboard_url="http://dash:8000")
    run({"slack": channel}, [note(message="p95 <b>&</b>")], tmp_path)
    body = receiver.json(0)
    assert "CRITICAL FIRING" in body["text"] and "&lt;b&gt;&amp;&lt;/b&gt;" in body["text"]
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds == ["header", "section", "section", "context"]
    assert body["blocks"][0]["text"]["text"] == "CRITICAL FIRING: latency on s1 (order_to_fill)"
    assert "<http://dash:8000/live/execution/s1|open the session>" in json.dumps(body)


def test_a_500_is_retried_with_backoff_until_it_succeeds(receiver, note, tmp_path):
    """500, 503, then 200: three requests, the log shows retry, retry, ok."""
    receiver.statuses.extend([500, 503])
    done, records = run({"webhook": WebhookChannel(receiver.url())}, [note()], tmp_path)
    assert done == [("n-1/webhook", "ok")]
    assert len(receiver.wait_for(3)) == 3
    assert [r["outcome"] for r in records] == ["retry", "retry", "ok"]
    assert [r["status"] for r in records] == [500, 503, None]
    assert receiver.json(0) == receiver.json(2)


def test_attempts_are_bounded_and_the_outcome_is_failed(receiver, note, tmp_path):
    """A receiver that keeps failing gets max_attempts requests, then the item is given up."""
    receiver.statuses.extend([500] * 10)
    done, records = run({"webhook": WebhookChannel(receiver.url())}, [note()], tmp_path)
    assert done == [("n-1/webhook", "failed")]
    assert [r["outcome"] for r in records] == ["retry", "retry", "failed"]
    assert len(receiver.requests) == 3


def test_a_client_error_is_not_retried(receiver, note, tmp_path):
    """HTTP 400 means the request is wrong: one attempt, failed."""
    receiver.statuses.append(400)
    done, records = run({"webhook": WebhookChannel(receiver.url())}, [note()], tmp_path)
    assert done == [("n-1/webhook", "failed")] and len(receiver.requests) == 1
    assert records[0]["status"] == 400


def test_backoff_doubles_up_to_the_cap():
    """Waits between attempts: initial, doubled each time, never above backoff_max_s."""
    config = DeliveryConfig(max_attempts=6, backoff_initial_s=1.0, backoff_max_s=5.0)
    assert backoff_delays(config) == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_a_dead_endpoint_holds_up_neither_submit_nor_other_channels(receiver, note, tmp_path):
    """A hanging webhook: submit never waits, console still delivers, overflow is dropped."""
    receiver.hang = True
    out = io.StringIO()
    config = DeliveryConfig(timeout_s=60.0, max_attempts=1, queue_size=2)
    done = Done()
    record = DeliveryLog(tmp_path / "deliveries.jsonl")
    channels = {"webhook": WebhookChannel(receiver.url()), "console": ConsoleChannel(stream=out)}
    dispatcher = Dispatcher(channels, config, record, on_done=done)
    try:
        accepted = [dispatcher.submit(item(note(id=f"n-{i}"), "webhook")) for i in range(4)]
        receiver.wait_for(1)  # the first one is in flight, hanging
        accepted += [dispatcher.submit(item(note(id=f"n-{i}"), "webhook")) for i in range(4, 6)]
        dispatcher.submit(item(note(id="n-c"), "console"))
        outcomes = done.wait(4)
        assert ("n-c/console", "ok") in outcomes
        assert "ALERT CRITICAL FIRING" in out.getvalue()
        assert accepted.count(False) >= 2
        dropped = [r for r in read_deliveries(record.path) if r["outcome"] == "dropped"]
        assert dropped and all("queue full" in r["detail"] for r in dropped)
        assert len(receiver.requests) == 1
    finally:
        receiver.release.set()
        dispatcher.close(timeout=0)


def test_secrets_never_reach_the_delivery_log_or_the_log(note, tmp_path, caplog):
    """A webhook URL carrying a token fails to connect: neither record mentions the token."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connection refused
    url = f"http://127.0.0.1:{port}/services/T000/B000/SECRET-TOKEN-42"
    caplog.set_level(logging.DEBUG)
    done, records = run({"slack": SlackChannel(url)}, [note()], tmp_path)
    assert done == [("n-1/slack", "failed")]
    text = (tmp_path / "deliveries.jsonl").read_text() + caplog.text
    assert "SECRET-TOKEN-42" not in text and "connection failed" in text
    assert records[0]["target"] == f"http://127.0.0.1:{port}"


def test_an_unknown_channel_is_recorded_as_dropped(note, tmp_path):
    """An outbox item for a channel no longer configured is dropped and recorded."""
    done = Done()
    record = DeliveryLog(tmp_path / "d.jsonl")
    dispatcher = Dispatcher({}, FAST, record, on_done=done)
    assert dispatcher.submit(item(note(), "pager")) is False
    assert done.items == [("n-1/pager", "dropped")]
    assert read_deliveries(record.path)[0]["detail"] == "channel not configured"
    dispatcher.close()


def test_delivery_log_rotates_past_its_size(tmp_path):
    """Past max_bytes the log is renamed to .1 and a new one begun."""
    record = DeliveryLog(tmp_path / "d.jsonl", max_bytes=4096)
    for i in range(100):
        record.record(id=f"n-{i}", outcome="ok", detail="x" * 50)
    assert (tmp_path / "d.jsonl.1").exists()
    assert read_deliveries(tmp_path / "d.jsonl", limit=1000)[-1]["id"] == "n-99"


def test_recording_to_a_fifo_never_blocks_and_counts_the_failure(note, tmp_path, caplog):
    """A FIFO at the delivery log (nobody reading it): record() and Dispatcher.submit return
    at once, the records are skipped and counted, the problem logged once; the lock is free
    again for the next record once the FIFO is replaced by a file."""
    path = tmp_path / "d.jsonl"
    os.mkfifo(path)
    record = DeliveryLog(path)
    dispatcher = Dispatcher({}, FAST, record)
    returned = threading.Event()

    def submit_twice() -> None:
        dispatcher.submit(item(note(), "pager"))
        record.record(id="n-2", outcome="ok")
        returned.set()

    worker = threading.Thread(target=submit_twice, daemon=True)
    with caplog.at_level(logging.ERROR, logger="src.alerts.delivery"):
        worker.start()
        if not returned.wait(timeout=30):
            with open(path, "rb"):  # unblock the stuck writer so the test can end
                pass
        worker.join(timeout=30)
    assert returned.is_set(), "record() blocked on a FIFO"
    assert record.failures == 2
    assert path.is_fifo()
    assert [r.message for r in caplog.records].count(
        f"cannot write the delivery log {path}: delivery log {str(path)!r} is a FIFO, "
        "not a regular file (records skipped)"
    ) == 1
    path.unlink()
    record.record(id="n-3", outcome="ok")
    assert [r["id"] for r in read_deliveries(path)] == ["n-3"]
    dispatcher.close()
