"""The benchmarks' report lines: a figure, its value, the target and the verdict."""

from __future__ import annotations

__all__ = ["row"]


def row(name: str, value: str, target: str = "", ok: bool | None = None) -> None:
    verdict = "" if ok is None else ("PASS" if ok else "MISS")
    print(f"  {name:52s} {value:>12s}   {target:10s} {verdict}")
