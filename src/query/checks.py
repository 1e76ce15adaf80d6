"""The runbook's red flags, evaluated on a summary: healthy, warning or critical.

Used by ``view_execution_telemetry --check`` (exit code = worst severity) and meant for
the alert engine and health checks, so every tool judges a session the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from src.common.units import percent
from src.query.analytics.summary_model import OpenOrder, Summary
from src.query.lines import clip

__all__ = [
    "CRITICAL",
    "INFO",
    "OK",
    "WARNING",
    "CheckThresholds",
    "Finding",
    "evaluate",
    "missing",
    "worst",
]

OK, WARNING, CRITICAL = "ok", "warning", "critical"
INFO = "info"  # worth knowing, not a problem: counts as ok
_RANK = {OK: 0, INFO: 0, WARNING: 1, CRITICAL: 2}
_NAMED = 5  # damaged files named in a finding; the rest are counted


@dataclass(frozen=True)
class CheckThresholds:
    """Defaults follow the incident runbook's red flags and escalation rules."""

    parse_error_warn: float = 0.01
    parse_error_crit: float = 0.05
    p95_warn_ms: float = 500.0
    p95_crit_ms: float = 10_000.0
    fill_timeout_s: float = 60.0
    backward_jump_warn_s: float = 1.0
    backward_jump_crit_s: float = 3600.0
    error_rate_crit: float = 0.10
    # Orders the venue rejected / orders sent, judged from this many orders sent on.
    reject_rate_warn: float = 0.05
    reject_rate_crit: float = 0.20
    reject_min_orders: int = 10


@dataclass(frozen=True)
class Finding:
    check: str
    severity: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"check": self.check, "severity": self.severity, "message": self.message}


def worst(findings: list[Finding]) -> str:
    """The most severe finding's severity; ``ok`` when nothing is worse than info."""
    found = max((f.severity for f in findings), key=_RANK.__getitem__, default=OK)
    return OK if found == INFO else found


def _pct(x: float) -> str:
    return percent(x, 2)


def evaluate(summary: Summary, t: CheckThresholds | None = None) -> list[Finding]:
    """All findings for one summary (from :func:`src.query.engine.summarize`)."""
    t = t or CheckThresholds()
    out: list[Finding] = []

    rate = summary.parse.error_rate
    invalid = summary.parse.invalid_lines
    sev = CRITICAL if rate > t.parse_error_crit else WARNING if rate > t.parse_error_warn else OK
    out.append(Finding("parse_errors", sev, f"{invalid} invalid lines, error rate {_pct(rate)}"))

    damaged = summary.parse.unreadable_files
    if damaged:
        names = summary.parse.unreadable_paths
        shown = ", ".join(clip(name) for name in names[:_NAMED])
        if len(names) > _NAMED:
            shown += f" and {len(names) - _NAMED} more"
        out.append(
            Finding(
                "damaged_files",
                WARNING,
                f"{damaged} damaged files, read only as far as they decode: {shown}",
            )
        )

    fills = summary.fills
    out.append(_missing_fills(summary, t))
    out.extend(_order_outcomes(summary, t))

    orphan = fills.fills_without_orders + fills.duplicate_fills
    if fills.orders == 0 and fills.fills_without_orders and not fills.duplicate_fills:
        # No order event at all: the orders are not logged (a sink filter such as the spec's
        # include_kinds = ["intent", "fill", "error"]), not missing. Fills pair to their
        # intents by intent_id instead.
        out.append(
            Finding(
                "fills_without_orders",
                INFO,
                f"{fills.fills_without_orders} fills and no order events: orders are not "
                "logged here; fills were paired to intents by intent_id",
            )
        )
    else:
        out.append(
            Finding(
                "fills_without_orders",
                WARNING if orphan else OK,
                f"{fills.fills_without_orders} fills without an order, "
                f"{fills.duplicate_fills} duplicate fills",
            )
        )

    ts = summary.timestamps
    jump = ts.max_backward_jump_s
    sev = (
        CRITICAL
        if jump > t.backward_jump_crit_s
        else WARNING
        if ts.non_monotonic_steps and jump > t.backward_jump_warn_s
        else WARNING
        if ts.non_monotonic_steps
        else OK
    )
    out.append(
        Finding("timestamps", sev, f"{ts.non_monotonic_steps} backward steps, largest {jump:.3f}s")
    )

    latency = summary.latency
    for leg, stats in (
        ("intent_to_order", latency.intent_to_order),
        ("order_to_fill", latency.order_to_fill),
        ("intent_to_fill", latency.intent_to_fill),
        ("order_to_ack", latency.order_to_ack),
    ):
        p95 = stats.p95_ms
        if p95 is None:
            continue
        sev = CRITICAL if p95 > t.p95_crit_ms else WARNING if p95 > t.p95_warn_ms else OK
        out.append(Finding(f"latency_{leg}", sev, f"p95 {leg.replace('_to_', '->')} {p95:.1f}ms"))

    events = summary.event_count
    errors = summary.errors.count
    if errors:
        share = errors / events if events else 0.0
        sev = CRITICAL if share > t.error_rate_crit else WARNING
        last_error = summary.errors.last
        last = clip(last_error.error if last_error is not None else "")
        out.append(Finding("errors", sev, f"{errors} error events ({_pct(share)}); last: {last}"))
    else:
        out.append(Finding("errors", OK, "no error events"))
    return out


def missing(summary: Summary, grace_s: float) -> list[OpenOrder]:
    """Open orders missing their end: past their deadline (:func:`src.query.lifecycle.
    deadline`) by more than ``grace_s``, most overdue first (at most the summary's 50).
    A cancelled, expired, rejected or failed order is not open; a working limit order
    inside its time in force has no deadline yet."""
    return [o for o in summary.orders.overdue_orders if (o.overdue_s or 0.0) > grace_s]


def _missing_fills(summary: Summary, t: CheckThresholds) -> Finding:
    fills, orders = summary.fills, summary.orders
    working = orders.open - orders.overdue
    if orders.overdue and fills.filled_orders == 0:
        return Finding(
            "missing_fills",
            CRITICAL,
            f"{fills.orders} orders and not a single fill (fill rate 0%)",
        )
    stale = missing(summary, t.fill_timeout_s)
    if stale:
        oldest = stale[0]
        return Finding(
            "missing_fills",
            WARNING,
            f"{orders.overdue} orders without a fill past their deadline, the longest overdue "
            f"{oldest.client_id} for {oldest.overdue_s:.0f}s (limit {t.fill_timeout_s:g}s)"
            + (f"; {working} working within their time in force" if working else ""),
        )
    return Finding(
        "missing_fills",
        OK,
        f"{fills.orders_without_fills} orders awaiting a fill"
        + (f" ({working} working within their time in force)" if working else ""),
    )


def _order_outcomes(summary: Summary, t: CheckThresholds) -> list[Finding]:
    """Orders by final state with the cancel and reject rates (info), the reject rate
    judged, and the open orders with the oldest one's age (info)."""
    o = summary.orders
    if not o.sent:
        return []
    st = o.by_status
    cancelled = f"{st['cancelled']} cancelled"
    if o.partly_filled_then_ended:
        cancelled += f" ({o.partly_filled_then_ended} cancelled/expired partly filled)"
    out = [
        Finding(
            "order_outcomes",
            INFO,
            f"{o.sent} orders: {st['filled']} filled, {cancelled}, {st['expired']} expired, "
            f"{st['rejected']} rejected, {st['error']} failed, {st['open']} open; "
            f"cancel rate {_pct(o.cancel_rate or 0.0)}, reject rate {_pct(o.reject_rate or 0.0)}",
        )
    ]
    rate = o.reject_rate or 0.0
    if st["rejected"]:
        sev = INFO
        if o.sent >= t.reject_min_orders:
            sev = (
                CRITICAL
                if rate > t.reject_rate_crit
                else WARNING
                if rate > t.reject_rate_warn
                else INFO
            )
        out.append(
            Finding(
                "rejects",
                sev,
                f"{st['rejected']} of {o.sent} orders rejected by the venue ({_pct(rate)}; "
                f"warning above {_pct(t.reject_rate_warn)}, critical above "
                f"{_pct(t.reject_rate_crit)} from {t.reject_min_orders} orders)",
            )
        )
    if o.open and o.oldest_open_age_s is not None:
        out.append(
            Finding(
                "open_orders",
                INFO,
                f"{o.open} open orders, the oldest placed {_z(o.oldest_open_ts)} "
                f"({o.oldest_open_age_s:.0f}s ago); {o.overdue} past their deadline",
            )
        )
    return out


def _z(iso: str | None) -> str:
    return "-" if iso is None else iso.replace("+00:00", "Z")
