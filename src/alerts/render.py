"""Plain-text output of ``telemetry-alerts``: alert lists, snoozes, deliveries, durations."""

from __future__ import annotations

import re
import time
from typing import Any, TextIO

from src.alerts.format import iso
from src.common.terminal import clean, paint, wants_colour
from src.common.units import human_duration

__all__ = ["parse_duration", "render_alerts", "render_deliveries", "render_silences"]

_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


MAX_DURATION_S = 100 * 365 * 86400.0  # well inside the times a state file may hold


def parse_duration(text: str) -> float:
    """``90s``, ``15m``, ``2h``, ``1d``, ``1h30m`` or plain seconds; ``ValueError`` otherwise."""
    t = text.strip().lower()
    try:
        seconds = float(t)
    except ValueError:
        parts = _PART.findall(t)
        if not parts or "".join(n + u for n, u in parts) != t:
            raise ValueError(f"invalid duration {text!r} (examples: 90s, 15m, 2h, 1d)") from None
        seconds = sum(float(n) * _UNIT[u] for n, u in parts)
    if not 0 < seconds < float("inf"):
        raise ValueError(f"invalid duration {text!r}: must be > 0")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"invalid duration {text!r}: at most 100 years")
    return seconds


def _flags(rec: dict[str, Any], now: float) -> str:
    out = []
    if rec.get("acked"):
        ack = rec["ack"]
        until = "" if ack["until"] is None else f" for {human_duration(ack['until'] - now)}"
        out.append(f"acked by {ack['by']}{until}")
    if rec.get("snoozed"):
        out.append("snoozed")
    if rec["status"] == "pending":
        out.append("pending")
    return f" [{', '.join(out)}]" if out else ""


def render_alerts(
    alerts: list[dict[str, Any]],
    out: TextIO,
    *,
    now: float | None = None,
    colour: bool | None = None,
) -> None:
    """One line per alert: severity, status, key, age, message. The severity is coloured
    on a terminal (``colour`` None: :func:`~src.common.terminal.wants_colour` decides);
    every field from the logs is cleaned here, so the colour codes go to the stream under
    a :class:`~src.common.terminal.CleanWriter`."""
    now = time.time() if now is None else now
    if colour is None:
        colour = wants_colour(out)
    if not alerts:
        out.write("no open alerts\n")
        return
    if colour:
        out = getattr(out, "raw", out)
    for rec in alerts:
        if rec["status"] == "resolved":
            when = f"resolved {human_duration(max(0.0, now - rec['resolved_at']))} ago"
        else:
            since = rec["fired_at"] or rec["since"]
            when = f"for {human_duration(max(0.0, now - since))}"
        label = clean(f"{rec['severity'].upper():<8}")
        if colour:
            label = paint(label, str(rec["severity"]))
        out.write(
            label
            + clean(f" {rec['status']:<8} {rec['key']}  ({when})")
            + clean(_flags(rec, now))
            + f"\n         {clean(rec['message'])}\n"
        )


def render_silences(silences: list[dict[str, Any]], out: TextIO, *, now: float) -> None:
    for s in silences:
        reason = f": {s['reason']}" if s.get("reason") else ""
        out.write(
            clean(
                f"snooze {s['id']} {s['pattern']!r} until {iso(s['until'])} "
                f"({human_duration(max(0.0, s['until'] - now))} left) by {s['by']}{reason}"
            )
            + "\n"
        )


def render_deliveries(records: list[dict[str, Any]], out: TextIO) -> None:
    if not records:
        out.write("no deliveries recorded\n")
        return
    for r in records:
        out.write(
            clean(
                f"{iso(r.get('ts'))} {r.get('outcome', '?'):<7} {r.get('channel', '?'):<8} "
                f"#{r.get('attempt', 0)} {r.get('id', '?')} {r.get('event', '')} "
                f"{r.get('key', '')} - {r.get('detail', '')}"
            )
            + "\n"
        )
