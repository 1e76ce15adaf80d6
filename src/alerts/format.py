"""How a notification reads, in one place for every channel (plain text, Slack, email)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

__all__ = ["details", "event_label", "headline", "iso", "session_link", "text"]

_EVENT = {
    "firing": "FIRING",
    "escalated": "ESCALATED",
    "reminder": "STILL FIRING",
    "resolved": "RESOLVED",
    "test": "TEST",
}


def iso(t: float | None) -> str:
    return "-" if t is None else datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def event_label(note: dict[str, Any]) -> str:
    return _EVENT.get(note["event"], note["event"].upper())


def headline(note: dict[str, Any]) -> str:
    """``CRITICAL FIRING: latency on s1 (order_to_fill)``."""
    where = f"{note['rule']} on {note['session_id']}"
    if note.get("subject"):
        where += f" ({note['subject']})"
    return f"{note['severity'].upper()} {event_label(note)}: {where}"


def text(note: dict[str, Any]) -> str:
    """One line: the headline and the rule's message."""
    return f"{headline(note)} - {note['message']}"


def session_link(note: dict[str, Any], dashboard_url: str) -> str | None:
    if not dashboard_url:
        return None
    return f"{dashboard_url.rstrip('/')}/live/execution/{quote(note['session_id'], safe='')}"


def details(note: dict[str, Any], dashboard_url: str = "") -> list[tuple[str, str]]:
    """Labelled facts for the body of a message."""
    rows = [
        ("Session", note["session_id"]),
        ("Rule", note["rule"] + (f" / {note['subject']}" if note.get("subject") else "")),
        ("Severity", note["severity"]),
        ("Firing since", iso(note.get("fired_at"))),
    ]
    if note.get("resolved_at"):
        rows.append(("Resolved at", iso(note["resolved_at"])))
    if note.get("acked_by"):
        rows.append(("Acknowledged by", note["acked_by"]))
    rows.append(("Alert key", note["key"]))
    link = session_link(note, dashboard_url)
    if link:
        rows.append(("Dashboard", link))
    return rows
