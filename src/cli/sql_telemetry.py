"""``telemetry-sql``: a DuckDB query over the archive (JSONL logs, gzip, Parquet exports).

Exit codes: 0 success, 2 the query failed (syntax, unknown column, ...), 3 bad input
(missing path, no query, a statement that is not a query, bad flag).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, TextIO

from src.cli.common import EXIT_INPUT, EXIT_OK, Parser, fail, positive_int
from src.common.extras import needs_extras

EXIT_QUERY = 2

EPILOG = """\
views:
  events   ts (UTC), date, session_id, symbol, mode, kind, seq, event_id, mono_ns,
           payload (JSON), the payload keys as typed columns (fill_price, filled_quantity,
           gate_name, passed, reason, client_id, intent_id, side, ...), source
  intents, orders, fills, gates, errors   the events of one kind

examples:
  %(prog)s "SELECT kind, count(*) FROM events GROUP BY kind"
  %(prog)s "SELECT symbol, date_trunc('hour', ts) AS hour, count(*) AS fills,
            sum(fill_notional) AS notional FROM fills GROUP BY ALL ORDER BY ALL"
  %(prog)s --parquet archive/ --format csv -f weekly_slippage.sql > slippage.csv
  %(prog)s "SELECT payload->>'strategy_key' AS strategy, count(*) FROM intents GROUP BY 1"

Sources: the JSONL logs under --path (default logs/execution) and every Parquet dataset
given with --parquet (written by telemetry-export --format parquet); both are one view, so
do not point them at copies of the same sessions. Only queries run, and the connection can
read nothing but those directories and write nowhere.

exit codes:
  0  success
  2  the query failed (syntax error, unknown column, ...)
  3  bad input: missing path, no query, not a query, bad flag
"""


def build_parser() -> Parser:
    p = Parser(
        prog="telemetry-sql",
        description="Run a SQL query (DuckDB) over the execution telemetry archive.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("query", nargs="?", help="the SQL query ('-' reads it from stdin)")
    p.add_argument("-f", "--file", help="read the query from this file")
    p.add_argument("--path", help="JSONL log root (default logs/execution)")
    p.add_argument("--parquet", action="append", default=[], metavar="DIR",
                   help="a Parquet dataset root (repeatable)")  # fmt: skip
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--max-rows", type=positive_int, default=1000, help="table rows (1000)")
    p.add_argument("--plain", action="store_true", help="plain table even on a terminal")
    p.add_argument("--threads", type=positive_int, help="DuckDB threads (default: all cores)")
    return p


def _query_text(args: argparse.Namespace) -> str:
    if args.file:
        return Path(args.file).read_text()
    if args.query == "-":
        return sys.stdin.read()
    return args.query or ""


@needs_extras("sql")
def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stdout_bytes: BinaryIO | None = None,
) -> int:
    args = build_parser().parse_args(argv)
    out = stdout or sys.stdout
    if stdout is None and stdout_bytes is None and sys.stdout.isatty():
        # Rows on the operator's screen: their control characters must not act there.
        from src.common.terminal import CleanWriter, InertLines, json_escape_controls

        if args.format == "csv":
            out = CleanWriter(sys.stdout)  # type: ignore[assignment]
        elif args.format == "json":
            stdout_bytes = InertLines(sys.stdout.buffer, json_escape_controls)  # type: ignore[assignment]
    try:
        sql = _query_text(args).strip()
    except OSError as exc:
        return fail(f"cannot read the query: {exc}")
    if not sql:
        return fail("no query given (pass it as an argument, with -f FILE, or '-' for stdin)")
    jsonl = args.path or (None if args.parquet else "logs/execution")
    for given in [*([jsonl] if jsonl else []), *args.parquet]:
        if not Path(given).is_dir():
            return fail(f"path {given!r} does not exist or is not a directory")

    import duckdb

    from src.sql import QueryRefused, check_query, connect
    from src.sql.output import write_csv, write_json, write_table

    def warn(message: str) -> None:
        print(f"warning: {message}", file=sys.stderr)

    try:
        con = connect(jsonl, args.parquet, threads=args.threads, warn=warn)
    except OSError as exc:  # staging the valid lines (a full temporary directory, ...)
        return fail(f"cannot read the archive: {exc}", EXIT_QUERY)
    try:
        check_query(con, sql)
        rel = con.sql(sql)
        if rel is None:
            return EXIT_OK
        if args.format == "csv":
            write_csv(rel, out)
        elif args.format == "json":
            write_json(rel, stdout_bytes or getattr(out, "buffer", None) or sys.stdout.buffer)
        else:
            write_table(rel, out, rich=out.isatty() and not args.plain, max_rows=args.max_rows)
        out.flush()
    except QueryRefused as exc:
        return fail(str(exc), EXIT_INPUT)
    except duckdb.Error as exc:
        return fail(str(exc).strip().splitlines()[0], EXIT_QUERY)
    except BrokenPipeError:
        sys.stderr.close()
    finally:
        con.close()
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
