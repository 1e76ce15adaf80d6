"""Sizes, counts, durations and rates for people."""

from __future__ import annotations

__all__ = ["human_bytes", "human_duration", "percent", "plural"]


def human_bytes(n: float) -> str:
    """``512 B``, ``19.5 KB``, ``1.9 GB`` (binary units)."""
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover - the loop always returns


def plural(n: int, word: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def human_duration(seconds: float) -> str:
    """``45s``, ``5 min``, ``1.5 h``, ``2.0 days``."""
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} days"


def percent(x: float, places: int = 1) -> str:
    """A share as a percentage: ``percent(0.123)`` is ``12.3%``."""
    return f"{x * 100:.{places}f}%"
