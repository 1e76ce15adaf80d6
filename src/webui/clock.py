"""Compact times for the pages: ``12:00:01.250`` in a table, ``12:00:01`` today, a date
before that (all UTC; the page keeps the full ISO time in a tooltip)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["clock", "when"]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def clock(value: datetime) -> str:
    """``HH:MM:SS.mmm`` (UTC) of an event time."""
    d = _utc(value)
    return f"{d:%H:%M:%S}.{d.microsecond // 1000:03d}"


def when(value: str | None, now: datetime | None = None) -> str:
    """An ISO time as ``HH:MM:SS`` when it is today (UTC), else ``YYYY-MM-DD HH:MM:SS``;
    ``-`` for none; the text itself when it does not parse."""
    if not value:
        return "-"
    try:
        d = _utc(datetime.fromisoformat(value))
    except ValueError:
        return value
    today = (now or datetime.now(UTC)).date()
    return f"{d:%H:%M:%S}" if d.date() == today else f"{d:%Y-%m-%d %H:%M:%S}"
