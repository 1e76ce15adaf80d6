"""Live-Track bridge: a session's execution events as timeline rows and summary statistics.

Thin functions over :mod:`src.query`, with the signatures the spec documents. Invalid
lines they skip are logged, rate-limited, on the ``src.live.execution_bridge`` logger
(:mod:`src.live.skipped_lines`).
"""

from __future__ import annotations

import os
from typing import Any

from src.execution.schema import KINDS as _KINDS
from src.execution.telemetry.jsonl import DEFAULT_BASE_PATH
from src.live.skipped_lines import SkippedLineLog
from src.query.engine import summarize, tail
from src.query.files import session_files
from src.query.filters import EventFilter
from src.query.timeline import ExecutionTimelineRow, row_from_record

__all__ = ["ExecutionTimelineRow", "get_execution_summary", "get_execution_timeline"]


def get_execution_timeline(
    session_id: str,
    limit: int = 200,
    base_path: str | os.PathLike[str] = DEFAULT_BASE_PATH,
    kind: str | None = None,
) -> list[ExecutionTimelineRow]:
    """The newest ``limit`` events of a session (of ``kind``, if given), newest first.

    An unknown session gives an empty list; an unsafe session id raises ``ValueError``.
    """
    flt = EventFilter.build(session_id=session_id, kind=kind)
    rows = [row_from_record(rec) for rec in tail(base_path, flt, limit)]
    if (found := _files(base_path, session_id)) is not None:
        SKIPPED.after_timeline(found.files)
    return rows


def get_execution_summary(
    session_id: str,
    base_path: str | os.PathLike[str] = DEFAULT_BASE_PATH,
    *,
    as_of: float | None = None,
) -> dict[str, Any]:
    """Exact counts, time range, parse statistics and execution analytics of a session.

    Keys include ``found``, ``session_id``, ``event_count``, ``kind_counts``, ``symbols``,
    ``start_time``, ``end_time``, ``parse``, ``latency``, ``slippage``, ``gates``, ``fills``,
    ``timestamps`` and ``errors``, and ``orders`` (orders by final state, open orders with
    the oldest age and those past their deadline, cancel and reject rates; ``latency`` also
    has ``order_to_ack`` and ``order_to_cancel``). An unknown session gives ``found: False``
    and zero counts. ``as_of`` (POSIX seconds, default now) is the reference for open-order
    ages and deadlines.
    """
    summary = summarize(base_path, EventFilter.build(session_id=session_id), as_of=as_of)
    invalid = summary.parse.invalid_lines
    if invalid and (found := _files(base_path, session_id)) is not None:
        SKIPPED.after_summary(session_id, found.files, invalid)
    out = summary.to_dict()  # the spec's plain dict, built once here
    counts = summary.kind_counts
    out["kind_counts"] = {k: counts.get(k, 0) for k in _KINDS} | {
        k: v for k, v in counts.items() if k not in _KINDS
    }
    return out


# The process's reporter of skipped lines (one per process: the functions above are the
# spec's plain functions, with nowhere else to keep it).
SKIPPED = SkippedLineLog()


def _files(base_path: str | os.PathLike[str], session_id: str):  # -> SessionFiles | None
    try:
        return session_files(base_path, session_id)
    except (OSError, ValueError):
        return None
