"""Turning summaries and timelines into text: plain when piped, rich tables on a terminal.

The plain form is the contract the runbook shows (``Total events: …``,
``Latency (intent->order): avg 45ms, p50 42ms, p95 89ms, max 250ms``, ``Parse Statistics:``).
"""

from __future__ import annotations

from typing import TextIO

from src.common.terminal import clean, markup, paint, wants_colour
from src.query.analytics.summary_model import LatencyStats, SlippageStats, Summary
from src.query.checks import Finding
from src.query.timeline import ExecutionTimelineRow

__all__ = ["fmt_ms", "render_check", "render_summary", "render_timeline", "summary_lines"]


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 10:
        return f"{value:.0f}ms"
    if value >= 1:
        return f"{value:.1f}ms"
    return f"{value:.3f}ms"


def _latency_line(name: str, d: LatencyStats) -> str:
    if not d.count:
        return f"Latency ({name}): no pairs"
    return (
        f"Latency ({name}): avg {fmt_ms(d.avg_ms)}, p50 {fmt_ms(d.p50_ms)}, "
        f"p95 {fmt_ms(d.p95_ms)}, max {fmt_ms(d.max_ms)} (n={d.count})"
    )


def _bps(d: SlippageStats) -> str:
    if not d.count:
        return "no fills"
    return (
        f"avg {d.avg_bps:+.2f} bps, p50 {d.p50_bps:+.2f}, p95 {d.p95_bps:+.2f}, "
        f"max {d.max_bps:+.2f} (n={d.count})"
    )


def _z(iso: str | None) -> str:
    return "-" if iso is None else iso.replace("+00:00", "Z")


def summary_lines(s: Summary) -> list[str]:
    """The summary as plain lines (the runbook's format)."""
    p = s.parse
    kinds = ", ".join(f"{k} {v}" for k, v in s.kind_counts.items())
    lines = [
        "=== Execution Telemetry Summary ===",
        f"Session: {s.session_id or 'all sessions'} ({len(s.sessions)} session(s), "
        f"{p.files} file(s), {s.size_bytes:,} bytes)",
        f"Total events: {s.event_count}",
        f"Time range: {_z(s.start_time)} to {_z(s.end_time)}",
        f"By kind: {kinds or '-'}",
        f"Symbols: {', '.join(s.symbols) or '-'}",
        _latency_line("intent->order", s.latency.intent_to_order),
        _latency_line("order->fill", s.latency.order_to_fill),
        _latency_line("intent->fill", s.latency.intent_to_fill),
        f"Slippage (positive = worse): {_bps(s.slippage.overall)}",
    ]
    for sym, d in s.slippage.by_symbol.items():
        lines.append(f"  {sym}: {_bps(d)}")
    g = s.gates
    rate = "-" if g.rejection_rate is None else f"{g.rejection_rate * 100:.2f}%"
    lines.append(f"Gate rejections: {g.blocks} of {g.intents} intents ({rate})")
    for name, gate in g.by_gate.items():
        reason = f"; top: {gate.top_reasons[0].reason}" if gate.top_reasons else ""
        lines.append(
            f"  {name}: {gate.blocks}/{gate.evaluations} ({gate.rejection_rate * 100:.2f}%){reason}"
        )
    f = s.fills
    fill_rate = "-" if f.fill_rate is None else f"{f.fill_rate * 100:.2f}%"
    lines.append(f"Fills: {f.fills} fills for {f.orders} orders (fill rate {fill_rate})")
    lines.append(f"Orders without fills: {f.orders_without_fills}")
    for o in f.open_orders[:5]:
        due = "" if o.overdue_s is None else f", {o.overdue_s:.0f}s past its deadline"
        lines.append(f"  {o.client_id} {o.symbol} since {_z(o.ts)} (age {o.age_s:.0f}s{due})")
    lines.append(
        f"Fills without orders: {f.fills_without_orders}, duplicate fills: {f.duplicate_fills}"
    )
    lines += _order_lines(s)
    t = s.timestamps
    lines.append(
        f"Timestamps: {t.non_monotonic_steps} backward steps "
        f"(largest {t.max_backward_jump_s:.3f}s), {t.gaps_over_threshold} gaps "
        f"> {t.gap_threshold_s:g}s"
    )
    lines.append(f"Errors: {s.errors.count}")
    lines += [
        "",
        "Parse Statistics:",
        f"  Total lines: {p.total_lines}",
        f"  Valid events: {p.valid_events}",
        f"  Invalid lines: {p.invalid_lines}",
        f"  Error rate: {p.error_rate * 100:.2f}%",
    ]
    return lines


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.2f}%"


def _order_lines(s: Summary) -> list[str]:
    """Orders by final state, rates, the ack and cancel latencies: a few lines, only for
    a read with order events."""
    o = s.orders
    if not o.sent:
        return []
    st = o.by_status
    partly = f" ({o.partly_filled_then_ended} partly filled)" if o.partly_filled_then_ended else ""
    lines = [
        f"Orders: {o.sent} sent: {st['filled']} filled, {st['cancelled']} cancelled{partly}, "
        f"{st['expired']} expired, {st['rejected']} rejected, {st['error']} failed, "
        f"{st['open']} open ({o.overdue} past their deadline)",
        f"Order rates: cancel {_pct(o.cancel_rate)}, reject {_pct(o.reject_rate)}; "
        f"{o.acknowledged} acknowledged, {o.partial_fills} partial fills",
    ]
    for name, d in (
        ("order->ack", s.latency.order_to_ack),
        ("order->cancel", s.latency.order_to_cancel),
    ):
        if d.count:
            lines.append(_latency_line(name, d))
    return lines


def render_summary(s: Summary, out: TextIO, rich: bool) -> None:
    if not rich:
        out.write("".join(clean(line) + "\n" for line in summary_lines(s)))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out)
    table = Table(title="Execution Telemetry Summary", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for line in summary_lines(s)[1:]:
        if not line.strip():
            continue
        key, sep, value = line.strip().partition(": ")
        table.add_row(markup(key), markup(value) if sep else "")
    console.print(table)


def timeline_line(row: ExecutionTimelineRow) -> str:
    return f"{_z(row.ts.isoformat())} [{row.kind}] {row.symbol} {row.description}"


def render_timeline(rows: list[ExecutionTimelineRow], out: TextIO, rich: bool) -> None:
    if not rich:
        out.write("".join(clean(timeline_line(r)) + "\n" for r in rows))
        return
    from rich.console import Console
    from rich.table import Table

    colours = {"fill": "green", "order": "cyan", "intent": "blue", "gate": "yellow", "error": "red"}
    table = Table(title=f"Timeline (newest first, {len(rows)} events)")
    for column in ("time (UTC)", "kind", "symbol", "session", "description"):
        table.add_column(column)
    for r in rows:
        colour = colours.get(r.kind, "white")
        table.add_row(
            _z(r.ts.isoformat()),
            f"[{colour}]{markup(r.kind)}[/]",
            markup(r.symbol),
            markup(r.session_id),
            markup(r.description),
        )
    Console(file=out).print(table)


def render_check(
    findings: list[Finding], status: str, out: TextIO, *, colour: bool | None = None
) -> None:
    """One line per finding and the status; the severities coloured on a terminal
    (``colour`` None: :func:`~src.common.terminal.wants_colour` decides)."""
    if colour is None:
        colour = wants_colour(out)
    for f in findings:
        label = f"{f.severity.upper():8s}"
        if colour:
            label = paint(label, f.severity)
        out.write(label + clean(f" {f.check}: {f.message}") + "\n")
    shown = paint(status.upper(), status) if colour else status.upper()
    out.write(f"status: {shown}\n")
