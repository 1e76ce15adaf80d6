"""Exports of telemetry: CSV, Excel, JSON lines and a Hive-partitioned Parquet dataset.

``export(base, flt, fmt, output)`` streams the events a query filter selects into one
format; ``stream_chunks`` gives CSV or JSON lines piece by piece (HTTP downloads). Each
format has its own module: ``csv``, ``xlsx``, ``jsonl``, ``parquet``; ``columns`` is the
tabular view they share, ``output`` the write-then-rename file handling.
"""

from src.export.output import OutputExistsError
from src.export.run import FORMATS, ExportResult, export, matching_events, stream_chunks

__all__ = [
    "FORMATS",
    "ExportResult",
    "OutputExistsError",
    "export",
    "matching_events",
    "stream_chunks",
]
