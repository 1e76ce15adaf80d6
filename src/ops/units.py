"""Byte counts for people."""

from __future__ import annotations

__all__ = ["human_bytes", "plural"]


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
