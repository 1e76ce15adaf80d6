"""The alert rules: each judges one session at one instant and returns its conditions.

Whole-session rules read the query layer's summary (parse statistics, open orders past
their deadline, fill rate); windowed rules read :class:`~src.alerts.window.WindowStats`
over ``(as_of - window_s, as_of]`` in event time. Parse errors are judged by
:func:`src.query.checks.evaluate`, the same code as ``view_execution_telemetry --check``.
A rule returns nothing when it is ok, or when there are too few samples to say
(``min_samples``, ``min_events``, ...).
"""

from __future__ import annotations

from collections.abc import Callable

from src.alerts.config import AlertRules
from src.alerts.model import CRITICAL, OK, WARNING, Condition
from src.alerts.tracker import SessionView
from src.common.units import human_duration, plural
from src.common.units import percent as _pct
from src.query.checks import CheckThresholds
from src.query.checks import evaluate as check_summary
from src.query.checks import missing as missing_orders

__all__ = ["RULE_NAMES", "evaluate_session"]

RULE_NAMES = (
    "gate_rejection",
    "errors",
    "latency",
    "missing_fills",
    "fill_rate",
    "reject_rate",
    "stalled_session",
    "parse_errors",
)


def _level(value: float, warn: float, crit: float) -> str:
    """Above (strictly) the critical threshold: critical; above warning: warning."""
    if crit and value > crit:
        return CRITICAL
    return WARNING if value > warn else OK


def gate_rejection(view: SessionView, rules: AlertRules, active_within_s: float) -> list[Condition]:
    rule = rules.gate_rejection
    gw = view.window.gate_window(view.as_of - rule.window_s, view.as_of)
    span = human_duration(rule.window_s)
    limits = f"warning above {_pct(rule.warn_rate)}, critical above {_pct(rule.crit_rate)}"
    out: list[Condition] = []
    rate = gw.rejection_rate
    if rate is not None and gw.intents >= rule.min_samples:
        sev = _level(rate, rule.warn_rate, rule.crit_rate)
        if sev != OK:
            out.append(
                Condition(
                    "gate_rejection",
                    view.session_id,
                    sev,
                    f"gate rejection {_pct(rate)} over the last {span}: {gw.blocks} of "
                    f"{plural(gw.intents, 'intent')} blocked ({limits})",
                    value=rate,
                    threshold=rule.crit_rate if sev == CRITICAL else rule.warn_rate,
                )
            )
    if rule.per_gate:
        for name, (evaluations, blocks) in sorted(gw.by_gate.items()):
            if evaluations < rule.min_samples:
                continue
            rate = blocks / evaluations
            sev = _level(rate, rule.warn_rate, rule.crit_rate)
            if sev != OK:
                out.append(
                    Condition(
                        "gate_rejection",
                        view.session_id,
                        sev,
                        f"gate {name} blocked {_pct(rate)} over the last {span}: {blocks} of "
                        f"{plural(evaluations, 'evaluation')} ({limits})",
                        subject=name,
                        value=rate,
                        threshold=rule.crit_rate if sev == CRITICAL else rule.warn_rate,
                    )
                )
    return out


def errors(view: SessionView, rules: AlertRules, active_within_s: float) -> list[Condition]:
    rule = rules.errors
    since = view.as_of - rule.window_s
    n_errors = view.window.count(view.window.errors, since, view.as_of)
    if not n_errors:
        return []
    n_events = view.window.count(view.window.events, since, view.as_of)
    rate = n_errors / n_events if n_events else 0.0
    if n_events >= rule.min_events and rate > rule.crit_rate:
        sev = CRITICAL
    elif rule.any_error:
        sev = WARNING
    else:
        return []
    last_error = view.summary.errors.last
    last = last_error.error if last_error is not None else ""
    return [
        Condition(
            "errors",
            view.session_id,
            sev,
            f"{plural(n_errors, 'error event')} in the last {human_duration(rule.window_s)} "
            f"({_pct(rate)} of {plural(n_events, 'event')}; critical above "
            f"{_pct(rule.crit_rate)}); last: {last[:200]}",
            value=rate,
            threshold=rule.crit_rate,
        )
    ]


def latency(view: SessionView, rules: AlertRules, active_within_s: float) -> list[Condition]:
    rule = rules.latency
    out: list[Condition] = []
    for leg in rule.legs:
        p95, n = view.window.latency_p95(leg, view.as_of - rule.window_s, view.as_of)
        if p95 is None or n < rule.min_samples:
            continue
        sev = _level(p95, rule.warn_p95_ms, rule.crit_p95_ms)
        if sev == OK:
            continue
        out.append(
            Condition(
                "latency",
                view.session_id,
                sev,
                f"p95 {leg.replace('_to_', '->')} {p95:.1f} ms over the last "
                f"{human_duration(rule.window_s)} ({plural(n, 'sample')}; warning above "
                f"{rule.warn_p95_ms:g} ms, critical above {rule.crit_p95_ms:g} ms)",
                subject=leg,
                value=p95,
                threshold=rule.crit_p95_ms if sev == CRITICAL else rule.warn_p95_ms,
            )
        )
    return out


def missing_fills(view: SessionView, rules: AlertRules, active_within_s: float) -> list[Condition]:
    """Open orders past their deadline by more than warn_after_s (the rule of
    :func:`src.query.checks.missing`, as in ``--check``): cancelled, expired, rejected and
    failed orders are not open, working limit orders inside their time in force are not due."""
    rule = rules.missing_fills
    summary = view.summary
    stale = missing_orders(summary, rule.warn_after_s)
    if not stale:
        return []
    oldest = stale[0]  # the most overdue
    overdue = oldest.overdue_s or 0.0
    sev = CRITICAL if rule.crit_after_s and overdue > rule.crit_after_s else WARNING
    working = summary.orders.open - summary.orders.overdue
    return [
        Condition(
            "missing_fills",
            view.session_id,
            sev,
            f"{plural(len(stale), 'order')} without a fill more than "
            f"{human_duration(rule.warn_after_s)} past their deadline "
            f"({summary.fills.orders_without_fills} open in all, "
            f"{working} working within their time in force); the longest overdue, "
            f"{oldest.client_id} ({oldest.symbol}), for {human_duration(overdue)}",
            value=overdue,
            threshold=rule.crit_after_s if sev == CRITICAL else rule.warn_after_s,
        )
    ]


def fill_rate(view: SessionView, rules: AlertRules, active_within_s: float) -> list[Condition]:
    """Not a single fill, and orders that should have filled by now (past their deadline:
    working limit orders and orders that ended otherwise do not count)."""
    rule = rules.fill_rate
    fills = view.summary.fills
    if fills.orders < rule.min_orders or fills.filled_orders:
        return []
    late = [o.overdue_s or 0.0 for o in view.summary.orders.overdue_orders]
    if not late or max(late) < rule.after_s:
        return []
    return [
        Condition(
            "fill_rate",
            view.session_id,
            CRITICAL,
            f"fill rate 0%: {plural(fills.orders, 'order')} and not a single fill, the "
            f"longest overdue order {human_duration(max(late))} past its deadline",
            value=0.0,
            threshold=0.0,
        )
    ]


def reject_rate(view: SessionView, rules: AlertRules, active_within_s: float) -> list[Condition]:
    """Orders the venue rejected / orders sent over the window."""
    rule = rules.reject_rate
    since = view.as_of - rule.window_s
    window = view.window
    n_rejects = window.count(window.rejects, since, view.as_of)
    if not n_rejects:
        return []
    n_orders = window.count(window.orders, since, view.as_of)
    if n_orders < rule.min_orders:
        return []
    rate = n_rejects / n_orders
    sev = _level(rate, rule.warn_rate, rule.crit_rate)
    if sev == OK:
        return []
    reasons = view.summary.orders
    return [
        Condition(
            "reject_rate",
            view.session_id,
            sev,
            f"reject rate {_pct(rate)} over the last {human_duration(rule.window_s)}: "
            f"{n_rejects} of {plural(n_orders, 'order')} rejected by the venue (warning above "
            f"{_pct(rule.warn_rate)}, critical above {_pct(rule.crit_rate)}; "
            f"{reasons.by_status['rejected']} in the session)",
            value=rate,
            threshold=rule.crit_rate if sev == CRITICAL else rule.warn_rate,
        )
    ]


def stalled_session(
    view: SessionView, rules: AlertRules, active_within_s: float
) -> list[Condition]:
    rule = rules.stalled_session
    seen = [t for t in (view.last_event_t, view.last_write_t) if t is not None]
    if not seen:
        return []
    idle = view.as_of - max(seen)
    if rule.active == "lock" and view.running is not None:
        running = view.running
        why = "its log is still held open by a logger"
    else:
        running = idle <= active_within_s
        why = f"it logged within the last {human_duration(active_within_s)}"
    if not running:
        return []
    sev = _level(idle, rule.warn_after_s, rule.crit_after_s)
    if sev == OK:
        return []
    return [
        Condition(
            "stalled_session",
            view.session_id,
            sev,
            f"no events for {human_duration(idle)} although the session is running ({why}): "
            "stalled session or dead emitter",
            value=idle,
            threshold=rule.crit_after_s if sev == CRITICAL else rule.warn_after_s,
        )
    ]


def parse_errors(view: SessionView, rules: AlertRules, active_within_s: float) -> list[Condition]:
    rule = rules.parse_errors
    parse = view.summary.parse
    if parse.total_lines < rule.min_lines:
        return []
    thresholds = CheckThresholds(parse_error_warn=rule.warn_rate, parse_error_crit=rule.crit_rate)
    for finding in check_summary(view.summary, thresholds):
        if finding.check == "parse_errors" and finding.severity != OK:
            return [
                Condition(
                    "parse_errors",
                    view.session_id,
                    finding.severity,
                    f"{finding.message} in the session's logs (warning above "
                    f"{_pct(rule.warn_rate)}, critical above {_pct(rule.crit_rate)})",
                    value=parse.error_rate,
                    threshold=rule.crit_rate if finding.severity == CRITICAL else rule.warn_rate,
                )
            ]
    return []


RuleFn = Callable[[SessionView, AlertRules, float], list[Condition]]
RULES: dict[str, RuleFn] = {
    "gate_rejection": gate_rejection,
    "errors": errors,
    "latency": latency,
    "missing_fills": missing_fills,
    "fill_rate": fill_rate,
    "reject_rate": reject_rate,
    "stalled_session": stalled_session,
    "parse_errors": parse_errors,
}


def evaluate_session(
    view: SessionView, rules: AlertRules, *, active_within_s: float
) -> list[Condition]:
    """Every enabled rule's conditions for one session."""
    out: list[Condition] = []
    for name, fn in RULES.items():
        if getattr(rules, name).enabled:
            out.extend(fn(view, rules, active_within_s))
    return out
