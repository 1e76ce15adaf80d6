"""SQL over the telemetry archive (DuckDB): ``archive`` builds the views, ``output`` prints.

For questions the CLI and the dashboard do not answer: joins, windows, group-bys over any
column, across sessions, JSONL logs and Parquet exports alike.
"""

from src.sql.archive import KIND_VIEWS, QueryRefused, check_query, connect

__all__ = ["KIND_VIEWS", "QueryRefused", "check_query", "connect"]
