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

A line counts exactly when the query layer counts it (:mod:`src.query.records`): the
logs are read once when the connection is made, each line judged by our own decoder, and
DuckDB is fed only the lines it accepted (a line glued to a killed writer's fragment
without the fragment), each with its session and its instant in microseconds (so every ISO
form the query layer accepts is a time here too; naive timestamps are UTC). They are kept
in a private temporary directory, removed when the connection goes. A gate decision that
does not say ``passed = true`` is a block (``passed IS NOT TRUE``).

A damaged archive (bad CRC, truncated gzip, not gzip at all) does not fail the rest: what
decodes before the damage is used, and ``warn`` is told each damaged file's name.

By default the connection is locked down once the views exist: it can read only the
archive's directories, write nowhere, and its settings cannot be changed; only queries
(SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN) are run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

import duckdb
import orjson

from src.execution.schema import (
    BOOLEAN_FIELDS,
    FLAT_COLUMNS,
    KIND_COLUMNS,
    KINDS,
    NUMERIC_FIELDS,
)
from src.query.files import GZIP_ERRORS, SessionFiles, list_sessions, open_segment
from src.query.lines import cap_lines, iter_range_blocks
from src.query.parallel import (
    MIN_PARALLEL_BYTES,
    Piece,
    default_workers,
    plan_ranges,
    run_forked,
)
from src.query.records import valid_start

__all__ = ["KIND_VIEWS", "QueryRefused", "check_query", "connect"]

KIND_VIEWS = {kind: f"{kind}s" for kind in KINDS}  # intent -> intents, ...
_ALLOWED = {"SELECT", "EXPLAIN"}
_BASE = ("ts", "date", "session_id", "symbol", "mode", "kind", "seq", "event_id", "mono_ns")


class QueryRefused(ValueError):
    """A statement that is not a query (it would write, attach, load or reconfigure)."""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql_type(key: str) -> str:
    if key in NUMERIC_FIELDS:
        return "DOUBLE"
    if key in BOOLEAN_FIELDS:
        return "BOOLEAN"
    return "VARCHAR"


def _flat_column(key: str) -> str:
    cast = f"TRY_CAST(payload->>{_literal(key)} AS {_sql_type(key)})"
    if key in BOOLEAN_FIELDS:
        # Only a JSON boolean is one: the string "1" or "true" is not (the summary and the
        # timeline read a gate whose passed is not true as a block, and so must SQL).
        cast = f"CASE WHEN json_type(payload->{_literal(key)}) = 'BOOLEAN' THEN {cast} END"
    return f"{cast} AS {key}"


def _flat_from_payload() -> str:
    return ", ".join(_flat_column(k) for k in FLAT_COLUMNS)


# Keys put in front of every line DuckDB reads: the session and the instant, as we read them.
_SID, _US = "__telemetry_session", "__telemetry_us"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US_ONE = timedelta(microseconds=1)
_JSON_SPACE = b" \t\r\n"
Warn = Callable[[str], None]


class _Tally:
    """What a stage wrote so far (also when a read error cut it short)."""

    __slots__ = ("events", "longest")

    def __init__(self) -> None:
        self.events = self.longest = 0


def _stage_lines(blocks: Iterable[bytes], prefix: bytes, out: BinaryIO, tally: _Tally) -> None:
    """Write the valid lines in ``blocks`` to ``out``, keyed by ``prefix`` and instant."""
    carry = b""
    epoch, one_us, space = _EPOCH, _US_ONE, _JSON_SPACE
    for block in blocks:
        lines = BytesIO(block).readlines()
        if carry:
            lines[0] = carry + lines[0]
        carry = b"" if lines[-1][-1:] == b"\n" else lines.pop()  # torn: invalid
        keep = []
        for line in lines:
            found = valid_start(line)
            if found is None:
                continue
            ts, start = found
            body = (line[start:] if start else line).lstrip(space)  # an object: "{..."
            keep.append(b"%b%d, %b" % (prefix, (ts - epoch) // one_us, body[1:]))
        if keep:
            out.write(b"".join(keep))
            tally.events += len(keep)
            tally.longest = max(tally.longest, *map(len, keep))


def _stage_pieces(
    pieces: Sequence[Piece], sids: Sequence[str], target: Path
) -> tuple[int, list[str]]:
    """Stage ``pieces`` into ``target``: the longest line, and a warning per damaged file."""
    tally = _Tally()
    damaged: list[str] = []
    with open(target, "wb", buffering=1 << 20) as out:
        for piece in pieces:
            sid = orjson.dumps(sids[piece.index])
            prefix = b'{"%s": %b, "%s": ' % (_SID.encode(), sid, _US.encode())
            if piece.fd is not None:
                blocks = iter_range_blocks(piece.fd, piece.start, piece.end)
                _stage_lines(cap_lines(blocks), prefix, out, tally)
                continue
            before = tally.events
            try:
                with open_segment(piece.path) as fh:
                    # read1: each block is what one step of decompression gave, so a
                    # damaged stream still yields everything before the damage.
                    _stage_lines(
                        cap_lines(iter(partial(fh.read1, 1 << 13), b"")), prefix, out, tally
                    )
            except FileNotFoundError:
                pass  # removed by retention since it was listed
            except GZIP_ERRORS as exc:
                reason = " ".join(str(exc).split()) or type(exc).__name__
                damaged.append(
                    f"{piece.path}: damaged ({reason}); used the {tally.events - before} "
                    "event(s) before the damage"
                )
    return tally.longest, damaged


def _stage_jsonl(
    sessions: Sequence[SessionFiles], into: Path, warn: Warn | None
) -> tuple[list[Path], int]:
    """Copy the valid lines of every session into ``into`` (on several cores when big):
    the staged files and the longest line."""
    fds: list[int] = []
    try:
        files: list[tuple[Path, int | None, int]] = []
        sids: list[str] = []
        for session in sessions:
            for path in session.files:
                if path.name.endswith(".gz"):
                    try:
                        files.append((path, None, path.stat().st_size))
                    except FileNotFoundError:
                        continue
                else:
                    try:
                        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                    except FileNotFoundError:
                        continue
                    fds.append(fd)
                    files.append((path, fd, os.fstat(fd).st_size))
                sids.append(session.session_id)
        if not files:
            return [], 0
        total = sum(size for _, _, size in files)
        workers = default_workers() if total >= MIN_PARALLEL_BYTES else 1
        ranges = plan_ranges(files, workers)
        targets = [into / f"{n}.jsonl" for n in range(len(ranges))]
        jobs = [
            (lambda r=r, t=t: _stage_pieces(r, sids, t))
            for r, t in zip(ranges, targets, strict=True)
        ]
        results = run_forked(jobs)
        longest = 0
        damaged: list[str] = []
        for job, got in zip(jobs, results, strict=True):
            size, notes = got if got is not None else job()  # a failed child: redo it here
            longest = max(longest, size)
            damaged.extend(notes)
    finally:
        for fd in fds:
            os.close(fd)
    if damaged and warn is not None:
        for note in damaged:
            warn(note)
        warn(f"{len(damaged)} damaged archive file(s): only what decoded before the damage is used")
    return targets, longest


def _jsonl_select(files: Sequence[Path], longest: int) -> str:
    listed = ", ".join(_literal(str(p)) for p in files)
    columns = (
        f"{{{_SID}: 'VARCHAR', {_US}: 'BIGINT', symbol: 'VARCHAR', mode: 'VARCHAR', "
        "kind: 'VARCHAR', seq: 'VARCHAR', event_id: 'VARCHAR', mono_ns: 'VARCHAR', "
        "payload: 'JSON'}"
    )
    size = max(16 << 20, longest + 1)
    raw = (
        f"read_json([{listed}], format = 'newline_delimited', columns = {columns}, "
        f"maximum_object_size = {size})"
    )
    return f"""
        SELECT t AS ts, CAST(t AS DATE) AS date, {_SID} AS session_id,
               symbol, mode, kind, TRY_CAST(seq AS BIGINT) AS seq, event_id,
               TRY_CAST(mono_ns AS BIGINT) AS mono_ns, payload, {_flat_from_payload()},
               'jsonl' AS source
        FROM (SELECT *, CAST(make_timestamp({_US}) AS TIMESTAMPTZ) AS t FROM {raw})
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
    warn: Warn | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with ``events`` and the per-kind views over the given archive.

    ``warn`` is told about damaged archive files (whose readable part is still used).
    """
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    parts: list[str] = []
    readable: list[Path] = []
    if jsonl_root is not None:
        root = Path(jsonl_root).resolve()
        sessions = list_sessions(root)
        if sessions:
            staging = Path(tempfile.mkdtemp(prefix="telemetry-sql-")).resolve()
            weakref.finalize(con, shutil.rmtree, staging, True)
            files, longest = _stage_jsonl(sessions, staging, warn)
            parts.append(_jsonl_select(files, longest))
            readable.append(staging)
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
