"""The alert rules and an order's life: ``missing_fills`` and ``fill_rate`` leave ended and
working orders alone; ``reject_rate`` judges rejected orders over the window."""

from __future__ import annotations

import pytest

from src.alerts.config import AlertRules, RejectRateRule
from src.alerts.tracker import FileTracker
from tests.alerts.test_alert_rules import judge, only
from tests.query import lifecycle_session as life

LIMIT = {"side": "buy", "quantity": 1.0, "order_type": "limit", "limit_price": 99.0}
MARKET = {"side": "buy", "quantity": 1.0, "order_type": "market"}


@pytest.mark.parametrize(
    ("end", "terms"),
    [
        ("cancel", MARKET),
        ("expire", {**LIMIT, "time_in_force": "IOC"}),
        ("reject", MARKET),
        ("error", MARKET),
        (None, {**LIMIT, "time_in_force": "GTC"}),  # working until cancelled
        (None, {**LIMIT, "time_in_force": "DAY"}),  # working until the end of the day
    ],
)
def test_missing_fills_never_fires_for_ended_or_working_orders(session_log, logs, t0, end, terms):
    log = session_log()
    for i in range(3):
        log.trade(t0 - 7200 + i)
    log.add(t0 - 7100, "order", client_id="c", **terms)
    if end is not None:
        extra = {"stage": "execute", "error": "boom"} if end == "error" else {"reason": "r"}
        log.add(t0 - 7099, end, client_id="c", **extra)
    rules = AlertRules()
    for rule in ("missing_fills", "fill_rate"):
        assert judge(logs, t0 - 3600, rules=only(rules, rule)) == {}, rule


def test_overdue_orders_fire_from_their_deadline(session_log, logs, t0):
    """An order expiring after 300 s but never logged as expired: missing 60 s after that."""
    log = session_log()
    log.trade(t0 - 1000)
    log.add(t0 - 900, "order", client_id="late", expire_after_s=300.0, **LIMIT)
    rules = only(AlertRules(), "missing_fills")
    assert judge(logs, t0 - 900 + 300 + 50, rules=rules) == {}
    found = judge(logs, t0 - 900 + 300 + 70, rules=rules)["missing_fills:s1"]
    assert found.severity == "warning" and "late" in found.message
    assert judge(logs, t0 + 10, rules=rules)["missing_fills:s1"].severity == "critical"  # > 600 s


def test_the_lifecycle_session(logs):
    life.write(logs, "s1")
    found = judge(logs, life.AS_OF, rules=only(AlertRules(), "missing_fills"))
    condition = found["missing_fills:s1"]
    assert condition.severity == "critical"  # o11, 3500 s past its deadline
    assert condition.message.startswith("2 orders without a fill more than 60s past their deadline")
    assert (
        "2 working within their time in force" in condition.message and "o11" in condition.message
    )


def test_reject_rate_over_the_window(session_log, logs, t0):
    log = session_log()
    for i in range(10):
        log.add(t0 - 100 + i, "order", client_id=f"c{i}", **MARKET)
        if i < 3:
            log.add(t0 - 100 + i, "reject", client_id=f"c{i}", reason="insufficient balance")
    rules = only(AlertRules(), "reject_rate")
    found = judge(logs, t0, rules=rules)["reject_rate:s1"]
    assert found.severity == "critical" and found.value == pytest.approx(0.3)
    assert "3 of 10 orders rejected by the venue" in found.message
    lenient = only(AlertRules(reject_rate=RejectRateRule(crit_rate=0.5)), "reject_rate")
    assert judge(logs, t0, rules=lenient)["reject_rate:s1"].severity == "warning"
    assert judge(logs, t0 + 400, rules=rules) == {}  # out of the window


def test_reject_rate_needs_min_orders(session_log, logs, t0):
    log = session_log()
    for i in range(5):
        log.add(t0 - 10 + i, "order", client_id=f"c{i}", **MARKET)
        log.add(t0 - 10 + i, "reject", client_id=f"c{i}", reason="price band")
    assert judge(logs, t0, rules=only(AlertRules(), "reject_rate")) == {}


def test_a_tracker_resuming_a_saved_state_with_open_orders_sees_the_same_window(
    session_log, logs, t0
):
    """Open orders keep their terms in the saved builder: the next tracker (another judge,
    other rules, another process) decodes it and gets the windows, not an empty builder."""
    log = session_log()
    for i in range(10):
        log.add(t0 - 100 + i, "order", client_id=f"c{i}", **LIMIT)  # all still working
        if i < 3:
            log.add(t0 - 100 + i, "reject", client_id=f"c{i}", reason="r")
    first = FileTracker(logs, "s1", horizon_s=900).view(t0, running=None, last_write_t=None)
    again = FileTracker(logs, "s1", horizon_s=900)
    view = again.view(t0, running=None, last_write_t=None)
    assert again._summary.resumed  # from the state the first tracker saved
    assert list(view.window.orders) == list(first.window.orders) and len(view.window.orders) == 10
    assert list(view.window.rejects) == list(first.window.rejects)
    assert view.summary == first.summary
