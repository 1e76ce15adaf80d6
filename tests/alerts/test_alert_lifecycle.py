"""Alert lifecycle: fire, dedup, escalate, remind, resolve, cooldown, for_s, ack and snooze."""

from __future__ import annotations

from src.alerts.lifecycle import Policy, acknowledge, apply, snooze, unsnooze
from src.alerts.model import Condition
from src.alerts.state import empty_state

WARN = Condition("latency", "s1", "warning", "p95 800 ms", subject="order_to_fill", value=800)
CRIT = Condition("latency", "s1", "critical", "p95 12 s", subject="order_to_fill", value=12000)
KEY = "latency:s1:order_to_fill"


def events(notes):
    return [n["event"] for n in notes]


def test_a_condition_fires_once_and_is_not_repeated_while_it_holds():
    """First evaluation announces; identical later evaluations stay quiet (deduplication)."""
    state, policy = empty_state(), Policy(renotify_s=0)
    first = apply(state, [WARN], 100.0, policy)
    assert events(first) == ["firing"] and first[0]["key"] == KEY
    assert first[0]["severity"] == "warning" and first[0]["message"] == "p95 800 ms"
    assert state["alerts"][KEY]["status"] == "firing"
    for t in (110.0, 120.0, 5000.0):
        assert apply(state, [WARN], t, policy) == []


def test_escalation_is_announced_and_resolution_too():
    """warning -> critical notifies 'escalated'; the condition clearing notifies 'resolved'."""
    state, policy = empty_state(), Policy()
    apply(state, [WARN], 100.0, policy)
    assert events(apply(state, [CRIT], 110.0, policy)) == ["escalated"]
    assert apply(state, [WARN], 120.0, policy) == []  # de-escalation is not news
    resolved = apply(state, [], 130.0, policy)
    assert events(resolved) == ["resolved"] and resolved[0]["resolved_at"] == 130.0
    assert state["alerts"][KEY]["status"] == "resolved"


def test_unacknowledged_alert_is_reminded_every_renotify_s():
    """A firing alert nobody acknowledged is announced again after renotify_s."""
    state, policy = empty_state(), Policy(renotify_s=600)
    apply(state, [WARN], 0.0, policy)
    assert apply(state, [WARN], 599.0, policy) == []
    assert events(apply(state, [WARN], 600.0, policy)) == ["reminder"]
    assert apply(state, [WARN], 700.0, policy) == []


def test_acknowledged_alert_gets_no_reminders_until_the_ack_expires():
    """ack stops reminders; when its 'until' passes reminders resume."""
    state, policy = empty_state(), Policy(renotify_s=600)
    apply(state, [WARN], 0.0, policy)
    assert acknowledge(state, KEY, by="ann", until=2000.0, note="on it", now=10.0) == [KEY]
    assert apply(state, [WARN], 1200.0, policy) == []
    assert state["alerts"][KEY]["ack"]["by"] == "ann"
    assert events(apply(state, [WARN], 2001.0, policy)) == ["reminder"]
    assert state["alerts"][KEY]["ack"] is None


def test_ack_ends_with_the_episode():
    """A resolved alert forgets its acknowledgement: the next episode is news again."""
    state, policy = empty_state(), Policy(renotify_s=600)
    apply(state, [WARN], 0.0, policy)
    acknowledge(state, "latency", by="ann", until=None, note="", now=1.0)
    apply(state, [], 10.0, policy)
    assert state["alerts"][KEY]["ack"] is None


def test_cooldown_holds_back_a_flapping_alert():
    """Fire, resolve, fire again within cooldown_s: the second firing is not announced."""
    state = empty_state()
    policy = Policy(cooldown_s={"latency": 300.0}, renotify_s=0)
    assert events(apply(state, [WARN], 0.0, policy)) == ["firing"]
    assert events(apply(state, [], 10.0, policy)) == ["resolved"]
    assert apply(state, [WARN], 20.0, policy) == []
    assert "cooldown" in state["alerts"][KEY]["held"]
    assert apply(state, [], 30.0, policy) == []  # its firing was not announced: nor is this
    assert events(apply(state, [WARN], 400.0, policy)) == ["firing"]


def test_cooldown_does_not_hold_back_a_still_firing_alert_forever():
    """A held-back firing is announced once the cooldown has passed and it still holds."""
    state = empty_state()
    policy = Policy(cooldown_s={"latency": 300.0}, renotify_s=0)
    apply(state, [WARN], 0.0, policy)
    apply(state, [], 10.0, policy)
    assert apply(state, [WARN], 20.0, policy) == []
    assert events(apply(state, [WARN], 301.0, policy)) == ["firing"]


def test_for_s_keeps_an_alert_pending_until_the_condition_has_held():
    """With for_s = 60 a condition fires only after 60 s; a blip shorter than that never does."""
    state, policy = empty_state(), Policy(for_s={"latency": 60.0})
    assert apply(state, [WARN], 0.0, policy) == []
    assert state["alerts"][KEY]["status"] == "pending"
    assert apply(state, [], 30.0, policy) == [] and KEY not in state["alerts"]
    apply(state, [WARN], 100.0, policy)
    assert events(apply(state, [WARN], 160.0, policy)) == ["firing"]


def test_snooze_holds_everything_back_and_what_is_still_firing_is_sent_after():
    """Snoozed: no firing, no escalation; after the snooze the current state is announced."""
    state, policy = empty_state(), Policy(renotify_s=0)
    silence = snooze(state, "latency:*", until=500.0, by="bob", reason="broker maint", now=0.0)
    assert silence["id"].startswith("s-")
    assert apply(state, [WARN], 10.0, policy) == []
    assert apply(state, [CRIT], 20.0, policy) == []
    assert "snoozed" in state["alerts"][KEY]["held"]
    late = apply(state, [CRIT], 501.0, policy)
    assert events(late) == ["firing"] and late[0]["severity"] == "critical"
    assert state["silences"] == []


def test_unsnooze_by_id_or_pattern():
    """A snooze can be lifted early by its id or its pattern."""
    state = empty_state()
    a = snooze(state, "latency", until=1e12, by="x", reason="", now=0.0)
    snooze(state, "errors:*", until=1e12, by="x", reason="", now=0.0)
    assert unsnooze(state, a["id"]) == [a]
    assert [s["pattern"] for s in unsnooze(state, "errors:*")] == ["errors:*"]
    assert state["silences"] == []


def test_below_min_severity_is_tracked_but_not_sent_until_it_escalates():
    """min_severity = critical: a warning is recorded, announced only when it turns critical."""
    state, policy = empty_state(), Policy(min_severity="critical")
    assert apply(state, [WARN], 0.0, policy) == []
    assert state["alerts"][KEY]["status"] == "firing"
    assert events(apply(state, [CRIT], 10.0, policy)) == ["firing"]


def test_a_session_run_does_not_resolve_other_sessions():
    """apply(sessions={'s2'}) leaves s1's alerts alone; a full run resolves them."""
    state, policy = empty_state(), Policy()
    apply(state, [WARN], 0.0, policy)
    assert apply(state, [], 10.0, policy, sessions={"s2"}) == []
    assert state["alerts"][KEY]["status"] == "firing"
    assert events(apply(state, [], 20.0, policy)) == ["resolved"]


def test_resolved_alerts_are_forgotten_after_keep_resolved_s():
    """Resolved records stay for the dashboard, then are dropped from the state."""
    state, policy = empty_state(), Policy(keep_resolved_s=100)
    apply(state, [WARN], 0.0, policy)
    apply(state, [], 10.0, policy)
    apply(state, [], 50.0, policy)
    assert KEY in state["alerts"]
    apply(state, [], 111.0, policy)
    assert KEY not in state["alerts"]


def test_notifications_have_unique_ids():
    """Every notification gets a new id, kept across evaluations through the state's counter."""
    state, policy = empty_state(), Policy()
    ids = [n["id"] for n in apply(state, [WARN], 0.0, policy)]
    ids += [n["id"] for n in apply(state, [CRIT], 1.0, policy)]
    ids += [n["id"] for n in apply(state, [], 2.0, policy)]
    assert len(set(ids)) == 3
