"""The alertmanager channel against a real Alertmanager (Debian's), whose webhook receiver is a
loopback HTTP server in the test: firing, grouping, resolution, re-posting, silences."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from src.alerts.channels import build_channels
from src.alerts.channels.alertmanager import AlertmanagerChannel
from src.alerts.config import AlertsConfig, load_alerts_config
from src.alerts.delivery import Dispatcher
from src.alerts.deliverylog import DeliveryLog
from src.alerts.lifecycle import Policy, acknowledge, apply, open_alerts
from src.alerts.model import Condition
from src.alerts.state import empty_state
from tests.alerts.conftest import Receiver
from tests.deploy.daemon import LoopbackDaemon, free_port

WAIT_S = 60.0  # bound on every wait for Alertmanager (it answers in about a second)


class Alertmanager(LoopbackDaemon):
    def __init__(self, tmp: Path, receiver: Receiver, resolve_timeout: str) -> None:
        port = free_port()
        config = tmp / "alertmanager.yml"
        config.write_text(
            f"""global:
  resolve_timeout: {resolve_timeout}
route:
  receiver: hook
  group_by: [rule]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {receiver.url()}
        send_resolved: true
"""
        )
        super().__init__(
            "prometheus-alertmanager",
            [f"--config.file={config}", f"--storage.path={tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
             "--log.level=warn"],
            port, tmp / "alertmanager.log", WAIT_S,
        )  # fmt: skip


@pytest.fixture
def alertmanager(tmp_path, receiver) -> Iterator[Alertmanager]:
    am = Alertmanager(tmp_path, receiver, resolve_timeout="5m")
    yield am
    am.stop()


POLICY = Policy(renotify_s=0)


def fire(state: dict, conditions: list[Condition], now: float) -> list[dict]:
    return apply(state, conditions, now, POLICY)


def alert_names(doc: dict) -> set[tuple[str, str, str]]:
    return {
        (a["labels"]["session"], a["labels"].get("subject", ""), a["status"]) for a in doc["alerts"]
    }


GATE_S1 = Condition("gate_rejection", "s1", "warning", "gate PriceSanity blocked 40%",
                    subject="PriceSanity")  # fmt: skip
GATE_S2 = Condition("gate_rejection", "s2", "critical", "gate rejection 60%")
LATENCY_S1 = Condition("latency", "s1", "warning", "p95 700 ms", subject="order_to_fill")


def test_firing_alerts_arrive_grouped_then_resolved(alertmanager, receiver):
    """Two gate_rejection alerts arrive in one group (route group_by rule) with the stable
    labels and annotations; resolving them sends their end and the group arrives resolved."""
    channel = AlertmanagerChannel(alertmanager.url, dashboard_url="http://desk:8000")
    state = empty_state()
    now = time.time()
    notes = fire(state, [GATE_S1, GATE_S2, LATENCY_S1], now)
    assert [n["event"] for n in notes] == ["firing"] * 3
    for note in notes:
        assert channel.send(note, timeout=10) == "HTTP 200"
    doc = receiver.next_json(
        lambda d: d["groupLabels"] == {"rule": "gate_rejection"} and len(d["alerts"]) == 2,
        "both gate_rejection alerts in one group",
    )
    assert doc["status"] == "firing"
    assert alert_names(doc) == {("s1", "PriceSanity", "firing"), ("s2", "", "firing")}
    s1 = next(a for a in doc["alerts"] if a["labels"]["session"] == "s1")
    assert s1["labels"] == {"alertname": "gate_rejection", "rule": "gate_rejection",
                            "severity": "warning", "session": "s1", "subject": "PriceSanity",
                            "source": "telemetry-alerts"}  # fmt: skip
    assert s1["annotations"]["summary"] == "WARNING gate_rejection on s1 (PriceSanity)"
    assert s1["annotations"]["description"] == "gate PriceSanity blocked 40%"
    assert s1["annotations"]["runbook_url"].startswith("docs/runbook.md#alerts")
    assert s1["annotations"]["dashboard_url"] == "http://desk:8000/live/execution/s1"
    assert s1["generatorURL"] == "http://desk:8000/live/execution/s1"

    notes = fire(state, [LATENCY_S1], now + 30)  # the gate conditions cleared
    assert sorted(n["event"] for n in notes) == ["resolved", "resolved"]
    for note in notes:
        channel.send(note, timeout=10)
    doc = receiver.next_json(
        lambda d: d["groupLabels"] == {"rule": "gate_rejection"} and d["status"] == "resolved",
        "the gate_rejection group resolved",
    )
    assert alert_names(doc) == {("s1", "PriceSanity", "resolved"), ("s2", "", "resolved")}
    active = alertmanager.get("/api/v2/alerts?active=true")
    assert [a["labels"]["rule"] for a in active] == ["latency"]


def test_an_escalation_replaces_the_lower_severity(alertmanager, receiver):
    channel = AlertmanagerChannel(alertmanager.url)
    state = empty_state()
    now = time.time()
    for note in fire(state, [LATENCY_S1], now):
        channel.send(note, timeout=10)
    worse = Condition("latency", "s1", "critical", "p95 12 s", subject="order_to_fill")
    (note,) = fire(state, [worse], now + 10)
    assert note["event"] == "escalated"
    channel.send(note, timeout=10)
    active = alertmanager.get("/api/v2/alerts?active=true")
    assert [a["labels"]["severity"] for a in active] == ["critical"]


def test_a_silence_created_through_the_api_holds_back_its_alert(alertmanager, receiver):
    """An operator's silence on session s2 (POST /api/v2/silences): s2's alert is kept
    out of the group that reaches the receiver; s1's arrives."""
    now = time.time()
    silence = alertmanager.post("/api/v2/silences", {
        "matchers": [{"name": "session", "value": "s2", "isRegex": False, "isEqual": True}],
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60)),
        "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
        "createdBy": "operator", "comment": "maintenance on s2",
    })  # fmt: skip
    channel = AlertmanagerChannel(alertmanager.url)
    state = empty_state()
    for note in fire(state, [GATE_S1, GATE_S2], now):
        channel.send(note, timeout=10)
    doc = receiver.next_json(lambda d: d["groupLabels"] == {"rule": "gate_rejection"}, "a group")
    assert alert_names(doc) == {("s1", "PriceSanity", "firing")}
    s2 = [a for a in alertmanager.get("/api/v2/alerts") if a["labels"]["session"] == "s2"]
    assert s2[0]["status"]["state"] == "suppressed"
    assert s2[0]["status"]["silencedBy"] == [silence["silenceID"]]


def _wait(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_an_ack_becomes_a_silence_until_the_alert_resolves(alertmanager, receiver):
    """ack -> a silence on rule/session/subject by the acknowledger; the alert resolves ->
    the silence is expired. Through the dispatcher, as the engine drives it."""
    channel = AlertmanagerChannel(alertmanager.url, repost_s=0.2)
    record = DeliveryLog(alertmanager.log_path.with_name("d.jsonl"))
    dispatcher = Dispatcher({"alertmanager": channel}, AlertsConfig().delivery, record)
    try:
        state = empty_state()
        now = time.time()
        for note in fire(state, [LATENCY_S1], now):
            channel.send(note, timeout=10)
        acknowledge(state, "latency:s1", by="alice", until=None, note="on it", now=now)
        dispatcher.sync(open_alerts(state, now), state["silences"], now)

        def active_silences() -> list[dict]:
            return [s for s in alertmanager.get("/api/v2/silences")
                    if s["status"]["state"] == "active"]  # fmt: skip

        _wait(lambda: len(active_silences()) == 1, "the ack's silence")
        (silence,) = active_silences()
        assert silence["createdBy"] == "alice" and "on it" in silence["comment"]
        assert {(m["name"], m["value"]) for m in silence["matchers"]} == {
            ("rule", "latency"),
            ("session", "s1"),
            ("subject", "order_to_fill"),
        }
        _wait(
            lambda: alertmanager.get("/api/v2/alerts")[0]["status"]["state"] == "suppressed",
            "the alert silenced",
        )
        for note in fire(state, [], now + 60):
            channel.send(note, timeout=10)
        dispatcher.sync(open_alerts(state, now + 60), state["silences"], now + 60)
        _wait(lambda: not active_silences(), "the silence expired with the alert")
        assert dispatcher.stats()["alertmanager"]["silence_failed"] == 0
    finally:
        dispatcher.close(5)


def test_firing_alerts_are_reposted_so_alertmanager_does_not_resolve_them(tmp_path, receiver):
    """With resolve_timeout 3s, an alert the channel keeps re-posting (every 0.2 s) stays
    active past two timeouts; one posted once (no sync) is resolved by Alertmanager."""
    am = Alertmanager(tmp_path, receiver, resolve_timeout="3s")
    kept = AlertmanagerChannel(am.url, repost_s=0.2)
    once = AlertmanagerChannel(am.url)
    try:
        state = empty_state()
        now = time.time()
        kept_note, once_note = fire(state, [LATENCY_S1, GATE_S2], now)
        kept.send(kept_note, timeout=10)
        once.send(once_note, timeout=10)
        only_kept = [a for a in open_alerts(state, now) if a["key"] == kept_note["key"]]
        deadline = time.monotonic() + 8  # over two resolve timeouts
        while time.monotonic() < deadline:
            kept.sync(only_kept, [], now)
            time.sleep(0.2)
        active = {a["labels"]["rule"] for a in am.get("/api/v2/alerts?active=true")}
        assert active == {"latency"}
        assert kept.counts["reposted"] >= 1 and kept.counts["repost_failed"] == 0
    finally:
        kept.close()
        am.stop()


def test_a_dead_alertmanager_is_counted_never_raised():
    """Re-posting to a port nobody listens on: counted and logged; sync() returns at once."""
    channel = AlertmanagerChannel(f"http://127.0.0.1:{free_port()}", repost_s=0.1, timeout_s=1)
    state = empty_state()
    fire(state, [LATENCY_S1], time.time())
    try:
        channel.sync(open_alerts(state, time.time()), [], time.time())
        _wait(lambda: channel.counts["repost_failed"] >= 1, "the failure counted")
        assert "connection failed" in channel.last_error
    finally:
        channel.close()


def test_configured_like_the_other_channels(tmp_path):
    path = tmp_path / "execution.toml"
    path.write_text('[execution.alerts]\nchannels = ["alertmanager"]\n'
                    '[execution.alerts.alertmanager]\nurl = "http://127.0.0.1:9093"\n'
                    'repost_s = 30\ntoken_env = "AM_TOKEN"\n')  # fmt: skip
    config = load_alerts_config(path, env={})
    channel = build_channels(config, {"AM_TOKEN": "t0k"})["alertmanager"]
    assert isinstance(channel, AlertmanagerChannel)
    assert channel.repost_s == 30 and channel.target == "http://127.0.0.1:9093"
    assert channel.secrets == ("t0k",)


def test_the_engine_posts_and_keeps_reposting_its_firing_alerts(tmp_path, alertmanager):
    """An engine evaluation over real logs: the firing alert reaches Alertmanager through the
    delivery worker, and the engine hands its open alerts to the channel for re-posting."""
    from datetime import UTC, datetime

    from src.alerts.service import build_engine
    from src.execution.events import ExecutionEvent
    from src.execution.telemetry import JsonlExecutionLogger

    base = tmp_path / "logs"
    logger = JsonlExecutionLogger(str(base))
    logger.emit(ExecutionEvent(ts=datetime.now(UTC), session_id="e1", symbol="BTC-USD",
                               mode="live", kind="error",
                               payload={"error": "venue timeout", "stage": "execute"}))  # fmt: skip
    logger.close()
    channel = AlertmanagerChannel(alertmanager.url, repost_s=0.2)
    engine = build_engine(AlertsConfig(), base, channels={"alertmanager": channel})
    try:
        result = engine.evaluate()
        assert [n["rule"] for n in result.notifications] == ["errors"]
        _wait(lambda: channel.counts["reposted"] >= 2, "re-posts of the engine's open alerts")
        (alert,) = alertmanager.get("/api/v2/alerts?active=true")
        assert alert["labels"]["rule"] == "errors" and alert["labels"]["session"] == "e1"
    finally:
        engine.close(5)
