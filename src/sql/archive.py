"""A DuckDB connection over the telemetry archive, with the events exposed as views.

Sources: the JSONL session logs under a log root (flat and daily layouts, plain and gzip,
found by the query layer's discovery, so only real session files are read) and any number
of Parquet datasets written by ``telemetry-export --format parquet``. They are one view:

``events``
    ``ts`` (TIMESTAMPTZ, UTC), ``date``, ``session_id``, ``symbol``, ``mode``, ``kind``,
    ``seq``, ``event_id``, ``mono_ns``, ``payload`` (JSON), every payload key the exports
    flatten (``fill_price``, ``gate_name``, ``passed``, ...; typed), and ``source``.
``intents``, ``orders``, ``fills``, ``gates``, ``errors``
    ``events`` of one kind.

Validity follows the query layer's rules as far as SQL can: a line must parse as a JSON
object with a non-empty ``kind`` and a ``ts`` that is a time; anything else is skipped.
Naive timestamps are UTC.

By default the connection is locked down once the views exist: it can read only the
archive's directories, write nowhere, and its settings cannot be changed; only queries
(SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN) are run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import duckdb

from src.export.columns import BOOLEAN_KEYS, FLAT_COLUMNS, KIND_COLUMNS, NUMERIC_KEYS
from src.query.files import list_sessions

__all__ = ["KIND_VIEWS", "QueryRefused", "check_query", "connect"]

KIND_VIEWS = {"intent": "intents", "order": "orders", "fill": "fills", "gate": "gates",
              "error": "errors"}  # fmt: skip
_ALLOWED = {"SELECT", "EXPLAIN"}
_BASE = ("ts", "date", "session_id", "symbol", "mode", "kind", "seq", "event_id", "mono_ns")


class QueryRefused(ValueError):
    """A statement that is not a query (it would write, attach, load or reconfigure)."""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql_type(key: str) -> str:
    if key in NUMERIC_KEYS:
        return "DOUBLE"
    if key in BOOLEAN_KEYS:
        return "BOOLEAN"
    return "VARCHAR"


def _flat_from_payload() -> str:
    return ", ".join(
        f"TRY_CAST(payload->>{_literal(k)} AS {_sql_type(k)}) AS {k}" for k in FLAT_COLUMNS
    )


def _jsonl_select(files: Sequence[Path]) -> str:
    listed = ", ".join(_literal(str(p)) for p in files)
    columns = (
        "{ts: 'VARCHAR', symbol: 'VARCHAR', mode: 'VARCHAR', kind: 'VARCHAR', "
        "seq: 'VARCHAR', event_id: 'VARCHAR', mono_ns: 'VARCHAR', payload: 'JSON'}"
    )
    raw = (
        f"read_json([{listed}], format = 'newline_delimited', columns = {columns}, "
        "ignore_errors = true, filename = true)"
    )
    return f"""
        SELECT t AS ts, CAST(t AS DATE) AS date,
               regexp_extract(filename, '([^/]+)\\.jsonl(\\.gz)?$', 1) AS session_id,
               symbol, mode, kind, TRY_CAST(seq AS BIGINT) AS seq, event_id,
               TRY_CAST(mono_ns AS BIGINT) AS mono_ns, payload, {_flat_from_payload()},
               'jsonl' AS source
        FROM (SELECT *, TRY_CAST(ts AS TIMESTAMPTZ) AS t FROM {raw})
        WHERE t IS NOT NULL AND kind IS NOT NULL AND kind <> ''
    """


def _parquet_select(root: Path) -> str:
    glob = _literal(str(root / "**" / "*.parquet"))
    flat = ", ".join(f"CAST({k} AS {_sql_type(k)}) AS {k}" for k in FLAT_COLUMNS)
    return f"""
        SELECT ts, CAST(date AS DATE) AS date, CAST(session_id AS VARCHAR) AS session_id,
               symbol, mode, kind, seq, event_id, mono_ns, CAST(payload AS JSON) AS payload,
               {flat}, 'parquet' AS source
        FROM read_parquet({glob}, hive_partitioning = true, union_by_name = true)
    """


def _empty_select() -> str:
    types = {"ts": "TIMESTAMPTZ", "date": "DATE", "seq": "BIGINT", "mono_ns": "BIGINT"}
    base = ", ".join(f"NULL::{types.get(c, 'VARCHAR')} AS {c}" for c in _BASE)
    flat = ", ".join(f"NULL::{_sql_type(k)} AS {k}" for k in FLAT_COLUMNS)
    return f"SELECT {base}, NULL::JSON AS payload, {flat}, NULL::VARCHAR AS source WHERE false"


def connect(
    jsonl_root: str | os.PathLike[str] | None = None,
    parquet_roots: Sequence[str | os.PathLike[str]] = (),
    *,
    locked: bool = True,
    threads: int | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with ``events`` and the per-kind views over the given archive."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    parts: list[str] = []
    readable: list[Path] = []
    if jsonl_root is not None:
        root = Path(jsonl_root).resolve()
        files = [p for s in list_sessions(root) for p in s.files]
        if files:
            parts.append(_jsonl_select(files))
            readable.append(root)
    for given in parquet_roots:
        root = Path(given).resolve()
        if any(root.rglob("*.parquet")):
            parts.append(_parquet_select(root))
            readable.append(root)
    union = " UNION ALL BY NAME ".join(f"({p})" for p in parts) if parts else _empty_select()
    con.execute(f"CREATE VIEW events AS {union}")
    for kind, view in KIND_VIEWS.items():
        keep = ", ".join((*_BASE, *KIND_COLUMNS[kind], "payload", "source"))
        con.execute(f"CREATE VIEW {view} AS SELECT {keep} FROM events WHERE kind = '{kind}'")
    if locked:
        allowed = ", ".join(_literal(str(p) + os.sep) for p in readable)
        con.execute(f"SET allowed_directories = [{allowed}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    return con


def check_query(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raise :class:`QueryRefused` unless ``sql`` is exactly one read-only query."""
    statements = con.extract_statements(sql)
    if len(statements) != 1:
        raise QueryRefused(f"expected one SQL statement, got {len(statements)}")
    kind = statements[0].type.name
    if kind not in _ALLOWED:
        raise QueryRefused(
            f"only queries are run (SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN), not {kind}"
        )
