"""Alert rules over real session logs: thresholds, windows, minimum samples, severities."""

from __future__ import annotations

import dataclasses

from src.alerts.config import AlertRules
from src.alerts.rules import evaluate_session
from src.alerts.tracker import FileTracker


def judge(logs, as_of, session="s1", *, rules=None, running=None, last_write_t=None, active=3600):
    tracker = FileTracker(logs, session, horizon_s=900)
    view = tracker.view(as_of, running=running, last_write_t=last_write_t)
    return {c.key: c for c in evaluate_session(view, rules or AlertRules(), active_within_s=active)}


def only(rules: AlertRules, name: str) -> AlertRules:
    """All rules disabled except ``name``."""
    changes = {
        f.name: dataclasses.replace(getattr(rules, f.name), enabled=f.name == name)
        for f in dataclasses.fields(rules)
    }
    return AlertRules(**changes)


def test_healthy_session_raises_nothing(session_log, logs, t0):
    """Fast fills, no blocks, no errors: no conditions at all."""
    log = session_log()
    for i in range(30):
        log.trade(t0 - 200 + i)
    assert judge(logs, t0) == {}


def test_gate_rejection_overall_and_per_gate_over_the_window(session_log, logs, t0):
    """6 of 12 intents blocked by one gate in the window: critical overall and for that gate."""
    log = session_log()
    for i in range(6):
        log.trade(t0 - 100 + i)
        log.trade(t0 - 90 + i, blocked_by="MaxNotional")
    found = judge(logs, t0, rules=only(AlertRules(), "gate_rejection"))
    assert set(found) == {"gate_rejection:s1", "gate_rejection:s1:MaxNotional"}
    overall = found["gate_rejection:s1"]
    assert overall.severity == "warning" and overall.value == 0.5
    assert "6 of 12 intents blocked" in overall.message
    per_gate = found["gate_rejection:s1:MaxNotional"]
    assert per_gate.severity == "warning" and per_gate.value == 0.5


def test_gate_rejection_forgets_blocks_outside_the_window(session_log, logs, t0):
    """Blocks older than window_s no longer count: the same log is fine ten minutes later."""
    log = session_log()
    for i in range(12):
        log.trade(t0 - 100 + i, blocked_by="PriceSanity")
    rules = only(AlertRules(), "gate_rejection")
    assert judge(logs, t0, rules=rules)["gate_rejection:s1"].severity == "critical"
    assert judge(logs, t0 + 600, rules=rules) == {}


def test_gate_rejection_needs_min_samples(session_log, logs, t0):
    """Three blocked intents out of three is not enough evidence (min_samples 10)."""
    log = session_log()
    for i in range(3):
        log.trade(t0 - 10 + i, blocked_by="PriceSanity")
    assert judge(logs, t0, rules=only(AlertRules(), "gate_rejection")) == {}


def test_any_error_event_warns_and_a_high_error_rate_is_critical(session_log, logs, t0):
    """One error among many events: warning; errors above 10% of events: critical."""
    log = session_log()
    for i in range(10):
        log.trade(t0 - 200 + i)
    log.add(t0 - 50, "error", error="broker timeout")
    found = judge(logs, t0, rules=only(AlertRules(), "errors"))
    assert found["errors:s1"].severity == "warning"
    assert "broker timeout" in found["errors:s1"].message
    for i in range(10):
        log.add(t0 - 40 + i, "error", error="broker down")
    assert judge(logs, t0, rules=only(AlertRules(), "errors"))["errors:s1"].severity == "critical"
    assert judge(logs, t0 + 400, rules=only(AlertRules(), "errors")) == {}


def test_latency_p95_per_leg_over_the_window(session_log, logs, t0):
    """Fills 800 ms after their orders: p95 order->fill and intent->fill warn; old ones do not."""
    log = session_log()
    for i in range(10):
        log.trade(t0 - 1000 + i, latency_ms=20_000)  # outside the 5 min window
    for i in range(10):
        log.trade(t0 - 100 + i, latency_ms=800)
    found = judge(logs, t0, rules=only(AlertRules(), "latency"))
    assert set(found) == {"latency:s1:intent_to_fill", "latency:s1:order_to_fill"}
    assert found["latency:s1:order_to_fill"].severity == "warning"
    assert abs(found["latency:s1:order_to_fill"].value - 800) < 1
    log.trade(t0 - 5, latency_ms=11_000)
    for i in range(5):
        log.trade(t0 - 4 + i * 0.1, latency_ms=12_000)
    found = judge(logs, t0 + 20, rules=only(AlertRules(), "latency"))
    assert found["latency:s1:intent_to_fill"].severity == "critical"


def test_missing_fills_warn_then_go_critical_with_age(session_log, logs, t0):
    """An order without a fill: nothing at 30 s, warning after 60 s, critical after 600 s."""
    log = session_log()
    for i in range(5):
        log.trade(t0 + i)
    log.trade(t0 + 10, fill=False)
    rules = only(AlertRules(), "missing_fills")
    assert judge(logs, t0 + 40, rules=rules) == {}
    found = judge(logs, t0 + 100, rules=rules)["missing_fills:s1"]
    assert found.severity == "warning" and "ord-6" in found.message
    assert judge(logs, t0 + 700, rules=rules)["missing_fills:s1"].severity == "critical"


def test_zero_fill_rate_is_critical_once_orders_are_old_enough(session_log, logs, t0):
    """Three orders and no fill at all: critical once the oldest is past after_s."""
    log = session_log()
    for i in range(3):
        log.trade(t0 + i, fill=False)
    rules = only(AlertRules(), "fill_rate")
    assert judge(logs, t0 + 10, rules=rules) == {}
    found = judge(logs, t0 + 120, rules=rules)["fill_rate:s1"]
    assert found.severity == "critical" and "fill rate 0%" in found.message
    log.trade(t0 + 121)
    assert judge(logs, t0 + 130, rules=rules) == {}


def test_stalled_session_only_when_a_logger_still_holds_it(session_log, logs, t0):
    """Silence from a session held open is a stall; from a closed session it is its end."""
    log = session_log()
    log.trade(t0)
    log.touch(t0)
    rules = only(AlertRules(), "stalled_session")
    held = judge(logs, t0 + 400, rules=rules, running=True, last_write_t=t0)
    assert held["stalled_session:s1"].severity == "warning"
    crit = judge(logs, t0 + 1000, rules=rules, running=True, last_write_t=t0)
    assert crit["stalled_session:s1"].severity == "critical"
    assert judge(logs, t0 + 1000, rules=rules, running=False, last_write_t=t0) == {}
    assert judge(logs, t0 + 100, rules=rules, running=True, last_write_t=t0) == {}


def test_stalled_session_in_recent_mode_uses_activity_window(session_log, logs, t0):
    """active = "recent": a session that logged within active_within_s and then went quiet."""
    log = session_log()
    log.trade(t0)
    base = AlertRules()
    rules = only(
        dataclasses.replace(
            base, stalled_session=dataclasses.replace(base.stalled_session, active="recent")
        ),
        "stalled_session",
    )
    assert "stalled_session:s1" in judge(logs, t0 + 400, rules=rules, running=False)
    assert judge(logs, t0 + 4000, rules=rules, running=False, active=3600) == {}


def test_stall_is_measured_from_the_last_write_not_old_event_times(session_log, logs, t0):
    """A replay writing hour-old timestamps just now is not stalled."""
    log = session_log()
    log.trade(t0 - 3000)
    rules = only(AlertRules(), "stalled_session")
    assert judge(logs, t0 + 10, rules=rules, running=True, last_write_t=t0) == {}


def test_parse_errors_warn_above_one_and_are_critical_above_five_percent(session_log, logs, t0):
    """2 bad lines in ~100 warn; 10 are critical (the thresholds of --check)."""
    log = session_log()
    for i in range(25):
        log.trade(t0 + i)
    log.raw(b"not json\n" * 2)
    rules = only(AlertRules(), "parse_errors")
    found = judge(logs, t0 + 30, rules=rules)["parse_errors:s1"]
    assert found.severity == "warning" and "2 invalid lines" in found.message
    log.raw(b"{broken\n" * 8)
    assert judge(logs, t0 + 30, rules=rules)["parse_errors:s1"].severity == "critical"


def test_disabled_rules_are_not_evaluated(session_log, logs, t0):
    """enabled = false turns a rule off entirely."""
    log = session_log()
    for i in range(12):
        log.trade(t0 - 10 + i * 0.1, blocked_by="PriceSanity")
    base = AlertRules()
    rules = dataclasses.replace(
        base, gate_rejection=dataclasses.replace(base.gate_rejection, enabled=False)
    )
    assert not any(k.startswith("gate_rejection") for k in judge(logs, t0 + 5, rules=rules))


def test_windows_keep_only_the_horizon_in_memory(session_log, logs, t0):
    """After an hour of events only the newest horizon's worth stays in the window."""
    log = session_log()
    for i in range(0, 3600, 2):
        log.trade(t0 + i)
    tracker = FileTracker(logs, "s1", horizon_s=300)
    view = tracker.view(t0 + 3600, running=None, last_write_t=None)
    assert len(view.window.intents) <= 152
    assert view.summary.kind_counts["intent"] == 1800
