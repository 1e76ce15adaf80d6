"""``telemetry-export``: a session or a filtered query to CSV, Excel, JSON lines or Parquet.

Exit codes: 0 success, 1 the export failed (I/O error; nothing is left behind),
3 bad input (unknown session, missing path, bad time, bad flag, output already there).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from src.cli.common import (
    EXIT_FAILED,
    EXIT_INPUT,
    EXIT_OK,
    BadInput,
    Parser,
    add_filter_args,
    fail,
    filter_from_args,
)
from src.common.extras import needs_extras
from src.common.terminal import clean

EPILOG = """\
examples:
  %(prog)s --session SESSION_ID -o fills.csv --type fill
  %(prog)s --session SESSION_ID -o session.xlsx
  %(prog)s --symbol BTC-USD --from 2025-12-15 --to 2025-12-20 -o week.jsonl.gz
  %(prog)s --path logs/execution -o archive/ --format parquet
  %(prog)s --session SESSION_ID --format csv -o - | head

The format follows the output's name (.csv, .csv.gz, .jsonl, .jsonl.gz, .xlsx) unless
--format names it; parquet writes a Hive-partitioned dataset under the output directory
(date=YYYY-MM-DD/session_id=ID/part-NNNNN.parquet), and may be pointed at an existing
dataset to add sessions to it. Existing output is never replaced without --force (for
parquet: the partitions being written). Files appear complete or not at all.

exit codes:
  0  success
  1  the export failed (I/O error)
  3  bad input: unknown session, missing path, bad time, bad flag, output exists
"""

_SUFFIXES = (
    (".csv", "csv"),
    (".csv.gz", "csv"),
    (".jsonl", "jsonl"),
    (".jsonl.gz", "jsonl"),
    (".ndjson", "jsonl"),
    (".xlsx", "xlsx"),
)


def build_parser() -> Parser:
    p = Parser(
        prog="telemetry-export",
        description="Export execution telemetry: CSV, Excel, JSON lines or Parquet.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_filter_args(p)
    p.add_argument("-o", "--output", required=True, help="output file, '-' or parquet directory")
    p.add_argument("--format", choices=("csv", "jsonl", "xlsx", "parquet"), help="output format")
    p.add_argument("--force", action="store_true", help="replace existing output")
    return p


def _format_of(output: str, given: str | None) -> str:
    if given:
        return given
    name = output.lower()
    for suffix, fmt in _SUFFIXES:
        if name.endswith(suffix):
            return fmt
    if output != "-" and (output.endswith("/") or Path(output).is_dir()):
        return "parquet"
    raise BadInput(f"cannot tell the format of {output!r}; name it with --format")


@needs_extras("export")
def main(argv: Sequence[str] | None = None, *, stdout: BinaryIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    from src.common.progress import byte_progress
    from src.export import OutputExistsError, export
    from src.export.run import source_bytes

    try:
        root, flt = filter_from_args(args)
        fmt = _format_of(args.output, args.format)
    except BadInput as exc:
        return fail(str(exc))
    if args.output == "-" and stdout is None and sys.stdout.isatty():
        # Rows on the operator's screen: their control characters must not act there.
        from src.common.terminal import InertLines, clean_line, json_escape_controls

        transform = json_escape_controls if fmt == "jsonl" else clean_line
        stdout = InertLines(sys.stdout.buffer, transform)  # type: ignore[assignment]
    started = time.monotonic()
    try:
        with byte_progress(source_bytes(root, flt), "exporting") as progress:
            result = export(
                root,
                flt,
                fmt,
                args.output,
                force=args.force,
                progress=progress,
                stdout=stdout,
            )
    except (OutputExistsError, IsADirectoryError, NotADirectoryError, ValueError) as exc:
        return fail(str(exc), EXIT_INPUT)
    except BrokenPipeError:  # `| head` closed the pipe: not an error
        sys.stderr.close()
        return EXIT_OK
    except OSError as exc:
        return fail(f"export failed: {exc}", EXIT_FAILED)
    elapsed = time.monotonic() - started
    kinds = ", ".join(f"{k} {n:,}" for k, n in result.by_kind.most_common())
    where = "standard output" if args.output == "-" else args.output
    skipped = result.stats.invalid_lines
    note = f"; {skipped:,} invalid line(s) in the logs skipped" if skipped else ""
    print(
        clean(
            f"exported {result.events:,} events ({kinds or 'none matched'}) as {fmt} to {where} "
            f"in {elapsed:.1f} s{note}"
        ),
        file=sys.stderr,
    )
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
