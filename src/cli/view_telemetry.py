"""``view_execution_telemetry``: summaries, timelines, JSON export and health checks.

Exit codes: 0 success (or --check healthy), 1 --check warning, 2 --check critical,
3 bad input (unknown session, missing path, bad time, unsafe session id, bad flag).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from src.cli.common import (
    EXIT_INPUT,
    EXIT_OK,
    BadInput,
    Parser,
    add_filter_args,
    fail,
    filter_from_args,
    positive_float,
    positive_int,
)

__all__ = ["EXIT_CRITICAL", "EXIT_INPUT", "EXIT_OK", "EXIT_WARNING", "build_parser", "main"]

EXIT_WARNING, EXIT_CRITICAL = 1, 2
DEFAULT_TIMELINE = 20

EPILOG = """\
examples:
  %(prog)s --session SESSION_ID --summary
  %(prog)s --session SESSION_ID --type fill --timeline 50
  %(prog)s --symbol BTC-USD --from 2025-12-20T10:15:00Z --to 2025-12-20T10:20:00Z --timeline 100
  %(prog)s --session SESSION_ID --json | jq -r .ts | sort -c
  %(prog)s --session SESSION_ID --check
  %(prog)s --session SESSION_ID --orders open
  %(prog)s --session SESSION_ID --orders --json --limit 500
  %(prog)s --session SESSION_ID --follow --type fill,error
  %(prog)s --session SESSION_ID --from -15m --timeline 100

Without --summary, --timeline, --json or --check, a summary and the newest 20 events are
shown. --limit caps the events a timeline or --json export returns (newest N); with
--summary alone it also prints that many newest events. Times are ISO 8601 (naive means
UTC) or relative to now: now, -30s, -15m, -2h, -1d.

--orders [STATUS] lists a session's orders newest first, one row per order (an intent a
gate blocked is one): id, symbol, side, quantity, filled, average fill price, status (with
the stage of an open one), reason, age. STATUS is one of open, filled, cancelled, expired,
rejected, blocked, error, or a comma list (default: all); --symbol, --from and --to (the
order's creation time) and --limit (default 50) apply; --json prints one order per line.
--follow prints the session's new events as they are appended (like tail -f), with the
same filters; --limit N shows the newest N first; Ctrl-C ends it.

Compressed (.jsonl.gz) and daily-rotated logs are read transparently. --json writes
each ts in one form (UTC, microseconds, +00:00), so text order is time order. A valid query
that matches nothing says so on stderr and exits 0.

exit codes:
  0  success (--check: healthy)
  1  --check: warning
  2  --check: critical
  3  bad input: unknown session, missing path, bad time or empty time range, unknown
     event kind or order status, bad number, unsafe session id, bad flag
"""


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="view-execution-telemetry",
        description="Inspect execution telemetry logs: summaries, timelines, exports, checks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_filter_args(p)
    p.add_argument("--limit", type=positive_int, help="at most N newest matching events")
    p.add_argument("--timeline", type=positive_int, metavar="N", help="print the newest N events")
    p.add_argument("--summary", action="store_true", help="print counts, latency, slippage, ...")
    p.add_argument("--json", action="store_true", help="print matching events as JSON lines")
    p.add_argument("--check", action="store_true", help="evaluate red flags; exit 0/1/2")
    p.add_argument(
        "--fill-timeout",
        type=positive_float,
        default=60.0,
        metavar="S",
        help="--check: an order older than S seconds without fill is missing (60)",
    )
    p.add_argument(
        "--p95-warn-ms", type=positive_float, default=500.0, help="--check: p95 warning (500)"
    )
    p.add_argument(
        "--p95-crit-ms",
        type=positive_float,
        default=10_000.0,
        help="--check: p95 critical (10000)",
    )
    p.add_argument("--plain", action="store_true", help="plain text even on a terminal")
    p.add_argument(
        "--orders",
        nargs="?",
        const="all",
        metavar="STATUS",
        help="list the session's orders, newest first (STATUS: open, filled, ... or all)",
    )
    p.add_argument(
        "--follow", action="store_true", help="print new events as they are appended (tail -f)"
    )
    return p


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = stdout or sys.stdout
    try:
        root, flt = filter_from_args(args)
    except BadInput as exc:
        return fail(str(exc))

    rich = out.isatty() and not args.plain
    if args.orders is not None or args.follow:
        return _orders_or_follow(root, flt, args, out, rich)
    if args.json:
        return _print_json(root, flt, args.limit, out)
    if args.check:
        return _run_check(root, flt, args, out)
    timeline_n = args.timeline
    show_summary = args.summary or timeline_n is None
    if timeline_n is None and (args.limit is not None or not args.summary):
        timeline_n = args.limit or DEFAULT_TIMELINE
    found = None
    if show_summary:
        found = _print_summary(root, flt, out, rich)
    if timeline_n:
        shown = _print_timeline(root, flt, min(timeline_n, args.limit or timeline_n), out, rich)
        found = shown if found is None else found
    if not found:
        _nothing_matched()
    return EXIT_OK


def _orders_or_follow(root: Path, flt, args: argparse.Namespace, out: TextIO, rich: bool) -> int:
    flag = "--orders" if args.orders is not None else "--follow"
    if not args.session:
        return fail(f"{flag} needs --session")
    others = [
        name
        for name, given in (
            ("--follow", args.orders is not None and args.follow),
            ("--summary", args.summary),
            ("--timeline", args.timeline is not None),
            ("--check", args.check),
        )
        if given
    ]
    if others:
        return fail(f"{flag} does not combine with {others[0]}")
    if args.follow:
        from src.cli.follow_view import follow

        try:
            follow(root, flt, out, as_json=args.json, backlog=args.limit)
        except KeyboardInterrupt:
            pass
        return EXIT_OK
    from src.cli.orders_view import order_query, print_orders

    try:
        query = order_query(args.orders, flt, args.limit)
    except BadInput as exc:
        return fail(str(exc))
    if not print_orders(root, args.session, query, out, as_json=args.json, rich=rich):
        print("no orders matched", file=sys.stderr)
    return EXIT_OK


def _scan(root: Path, flt):  # -> Summary
    from src.common.progress import scan_progress
    from src.query.engine import summarize

    with scan_progress() as progress:
        return summarize(root, flt, progress=progress)


def _print_summary(root: Path, flt, out: TextIO, rich: bool) -> int:
    from src.cli.render import render_summary

    summary = _scan(root, flt)
    render_summary(summary, out, rich)
    return summary.event_count


def _print_timeline(root: Path, flt, n: int, out: TextIO, rich: bool) -> int:
    from src.cli.render import render_timeline
    from src.query.engine import tail
    from src.query.timeline import row_from_record

    if rich:
        out.write("\n")
    rows = [row_from_record(r) for r in tail(root, flt, n)]
    render_timeline(rows, out, rich)
    return len(rows)


def _print_json(root: Path, flt, limit: int | None, out: TextIO) -> int:
    from src.cli.json_lines import event_json_line, write_lines
    from src.query.engine import iter_events, tail

    records = reversed(tail(root, flt, limit)) if limit else iter_events(root, flt)
    if not write_lines((event_json_line(rec.data) for rec in records), out):
        _nothing_matched()
    return EXIT_OK


def _nothing_matched() -> None:
    print("no events matched", file=sys.stderr)


def _run_check(root: Path, flt, args: argparse.Namespace, out: TextIO) -> int:
    from src.cli.render import render_check
    from src.query.checks import CRITICAL, WARNING, CheckThresholds, evaluate, worst

    thresholds = CheckThresholds(
        fill_timeout_s=args.fill_timeout, p95_warn_ms=args.p95_warn_ms, p95_crit_ms=args.p95_crit_ms
    )
    summary = _scan(root, flt)
    if not summary.event_count:
        _nothing_matched()
    findings = evaluate(summary, thresholds)
    status = worst(findings)
    # --plain: no colour even on a terminal (None: the terminal and NO_COLOR decide).
    render_check(findings, status, out, colour=False if args.plain else None)
    return {WARNING: EXIT_WARNING, CRITICAL: EXIT_CRITICAL}.get(status, EXIT_OK)


if __name__ == "__main__":
    raise SystemExit(main())
