"""Lifecycle invariants over arbitrary sequences of evaluations (Hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from src.alerts.lifecycle import Policy, acknowledge, apply
from src.alerts.model import Condition
from src.alerts.state import empty_state

RANK = {"warning": 1, "critical": 2}

steps = st.lists(
    st.tuples(
        st.sampled_from([None, "warning", "critical"]),  # the condition at this evaluation
        st.floats(min_value=0.5, max_value=900.0),  # seconds since the previous evaluation
        st.booleans(),  # acknowledge before evaluating
    ),
    max_size=60,
)
policies = st.builds(
    Policy,
    min_severity=st.sampled_from(["warning", "critical"]),
    renotify_s=st.sampled_from([0.0, 600.0]),
    notify_resolved=st.booleans(),
    keep_resolved_s=st.sampled_from([0.0, 86_400.0]),
    for_s=st.fixed_dictionaries({"latency": st.sampled_from([0.0, 60.0])}),
    cooldown_s=st.fixed_dictionaries({"latency": st.sampled_from([0.0, 300.0])}),
)


@settings(max_examples=300, deadline=None)
@given(steps=steps, policy=policies)
def test_announcements_are_consistent_for_any_sequence(steps, policy):
    """Any sequence: one firing per episode, escalations upwards, resolved only if announced."""
    state, now = empty_state(), 0.0
    announced: int | None = None  # severity rank announced in the current episode
    for severity, gap, ack in steps:
        now += gap
        if ack:
            acknowledge(state, "latency", by="t", until=now + 300, note="", now=now)
        conditions = [] if severity is None else [Condition("latency", "s", severity, "m")]
        for note in apply(state, conditions, now, policy):
            event, rank = note["event"], RANK[note["severity"]]
            if event == "firing":
                assert announced is None
                announced = rank
            elif event == "escalated":
                assert announced is not None and rank > announced
                announced = rank
            elif event == "reminder":
                assert announced is not None and note["acked_by"] is None
            elif event == "resolved":
                assert announced is not None and policy.notify_resolved
            if event != "resolved":
                assert rank >= RANK[policy.min_severity]
        rec = state["alerts"].get("latency:s")
        if rec is None or rec["status"] != "firing":
            announced = None
        assert len(state["outbox"]) == 0
