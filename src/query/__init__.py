"""The one query layer every telemetry reader uses (bridge, CLI, dashboard, alerts).

``files`` finds a session's segments, ``lines`` reads them forward or backward,
``records`` decodes and validates lines, ``filters`` selects, ``engine`` runs scans and
tails, ``analytics`` computes latency, slippage, gate and fill statistics (one typed
:class:`Summary`), ``timeline`` turns events into readable rows.
"""

from src.query.analytics.summary_model import Summary
from src.query.engine import iter_events, summarize, tail
from src.query.files import SessionFiles, list_sessions, session_files
from src.query.filters import EventFilter, parse_instant
from src.query.records import ParseStats, Record
from src.query.timeline import ExecutionTimelineRow, describe, row_from_record

__all__ = [
    "EventFilter",
    "ExecutionTimelineRow",
    "ParseStats",
    "Record",
    "SessionFiles",
    "Summary",
    "describe",
    "iter_events",
    "list_sessions",
    "parse_instant",
    "row_from_record",
    "session_files",
    "summarize",
    "tail",
]
