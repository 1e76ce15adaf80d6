"""The record of retention runs the health check reads: ``<root>/.retention-state.json``.

Written atomically (temp file, fsync, rename) at the end of every ``--apply`` run; a dry
run writes nothing. ``last_success_at`` moves only when a run finished without a failed
action, so a retention job that keeps failing shows as stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from src.common.atomicfile import read_regular, write_atomic

__all__ = ["STATE_FILE", "read_state", "record_run"]

STATE_FILE = ".retention-state.json"
VERSION = 1
MAX_BYTES = 1 << 20  # a record is a few hundred bytes


def read_state(root: Path) -> dict[str, Any] | None:
    """The recorded state, or ``None`` when retention never ran here (or it is unreadable)."""
    raw = read_regular(root / STATE_FILE, limit=MAX_BYTES)  # no FIFO, no link, bounded
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("version") == VERSION else None


def record_run(root: Path, *, finished_at: float, ok: bool, summary: dict[str, Any]) -> None:
    """Record an ``--apply`` run (``ok``: no action failed)."""
    previous = read_state(root) or {}
    state = {
        "version": VERSION,
        "last_run_at": finished_at,
        "last_run_ok": ok,
        "last_success_at": finished_at if ok else previous.get("last_success_at"),
        "last_run": summary,
    }
    # os.replace swaps a symlink for the file; it never writes through one.
    write_atomic(root / STATE_FILE, json.dumps(state, indent=2, sort_keys=True).encode() + b"\n")
