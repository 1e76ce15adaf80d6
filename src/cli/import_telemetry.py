"""``telemetry-import``: events from another system's CSV or JSON lines, as our sessions.

Exit codes: 0 every row imported, 1 some rows were bad (each reported with its line
number and skipped; the good ones are imported), 3 bad input (missing file, unknown
format, bad flag, a session that already exists without --force, rejects file exists).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from src.cli.common import EXIT_FAILED, EXIT_OK, Parser, fail
from src.common.terminal import clean
from src.execution.schema import MODES

_MODES_TEXT = f"{', '.join(MODES[:-1])} or {MODES[-1]}"  # "backtest, paper or live"

SHOW_BAD_ROWS = 100

EPILOG = """\
examples:
  %(prog)s fills_from_broker.csv --session-id broker-2025-12-20 --mode live
  %(prog)s other_system.jsonl --path logs/execution --dry-run
  %(prog)s export.csv --rejects rejects.jsonl

Rows are normalised to this project's schema: BUY/Sell -> buy/sell, PAPER -> paper,
MARKET -> market, order_id -> client_id, gate -> gate_name, decision ALLOW|BLOCK ->
passed, timestamp/time -> ts (ISO 8601 with Z or an offset, or epoch s/ms/us/ns; stored
as UTC), type/event_type -> kind. Bad rows are reported as FILE:LINE: reason (the first
%(show)d on stderr, all of them with --rejects) and skipped; the rest is imported. Each
session is written as <path>/<session>.jsonl once the whole file is read; an existing
session is refused unless --force replaces it.

exit codes:
  0  every row imported
  1  some rows were bad and skipped (see the report)
  3  bad input: missing file, unknown format, bad flag, session or rejects file exists
"""


def build_parser() -> Parser:
    p = Parser(
        prog="telemetry-import",
        description="Import execution events from another system's CSV or JSON lines.",
        epilog=EPILOG % {"show": SHOW_BAD_ROWS, "prog": "%(prog)s"},
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", help="CSV or JSON lines file (.gz too)")
    p.add_argument("--path", default="logs/execution", help="log root to import into")
    p.add_argument("--format", choices=("csv", "jsonl"), help="default: from the file name")
    p.add_argument("--session-id", help="put every event in this session")
    p.add_argument("--mode", help=f"mode for rows without one: {_MODES_TEXT}")
    p.add_argument("--force", action="store_true", help="replace sessions that already exist")
    p.add_argument("--dry-run", action="store_true", help="check and report; write nothing")
    p.add_argument("--rejects", metavar="FILE", help="write every bad row here as JSON lines")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import orjson

    from src.execution.session_ids import validate_session_id
    from src.export.output import OutputExistsError, OutputFile
    from src.importers import SessionExistsError, format_of, import_file

    source = Path(args.file)
    if not source.is_file():
        return fail(f"file {str(source)!r} does not exist or is not a file")
    fmt = args.format or format_of(source)
    if fmt is None:
        return fail(f"cannot tell the format of {str(source)!r}; name it with --format")
    if args.session_id is not None:
        try:
            validate_session_id(args.session_id)
        except ValueError as exc:
            return fail(str(exc))
    if args.mode is not None and args.mode.lower() not in MODES:
        return fail(f"invalid mode {args.mode!r}: expected {_MODES_TEXT}")
    rejects: Any = None
    try:
        if args.rejects:
            rejects = OutputFile(args.rejects, force=args.force)
    except (OutputExistsError, IsADirectoryError) as exc:
        return fail(str(exc))
    shown = 0

    def bad_row(line: int, reason: str, raw: bytes) -> None:
        nonlocal shown
        if shown < SHOW_BAD_ROWS:
            print(clean(f"{source}:{line}: {reason}"), file=sys.stderr)
        shown += 1
        if rejects is not None:
            text = raw.decode("utf-8", errors="replace")
            rejects.open().write(
                orjson.dumps({"line": line, "reason": reason, "row": text}) + b"\n"
            )

    try:
        result = import_file(
            source,
            args.path,
            fmt=fmt,
            session_id=args.session_id,
            mode=args.mode,
            force=args.force,
            dry_run=args.dry_run,
            on_bad_row=bad_row,
        )
    except SessionExistsError as exc:
        if rejects is not None:
            rejects.abort()
        return fail(str(exc))
    except OSError as exc:
        if rejects is not None:
            rejects.abort()
        return fail(f"import failed: {exc}", EXIT_FAILED)
    if rejects is not None:
        rejects.open()
        rejects.commit()
    if shown > SHOW_BAD_ROWS:
        more = " (use --rejects FILE for all)" if rejects is None else ""
        print(f"... {shown - SHOW_BAD_ROWS:,} more bad rows not shown{more}", file=sys.stderr)
    sessions = ", ".join(f"{sid} {n:,}" for sid, n in sorted(result.imported.items()))
    verb = "would import" if args.dry_run else "imported"
    print(
        clean(
            f"{verb} {result.events:,} events ({sessions or 'no session'}) into {args.path}; "
            f"{result.bad_rows:,} bad rows skipped"
        ),
        file=sys.stderr,
    )
    return EXIT_FAILED if result.bad_rows else EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
