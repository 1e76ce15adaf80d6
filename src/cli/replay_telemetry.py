"""``telemetry-replay``: play a session's events again into a sink, fast or at a paced speed.

Exit codes: 0 success, 1 the sink failed or dropped events (counted in the report),
3 bad input (unknown session, missing path, bad time or speed, bad flag, target session
already there without --force, replaying a session into itself), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from src.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    BadInput,
    Parser,
    add_filter_args,
    fail,
    filter_from_args,
    positive_float,
)
from src.common.extras import needs_extras
from src.common.terminal import clean

EXIT_INTERRUPTED = 130

EPILOG = """\
examples:
  # reproduce an incident on the dashboard, ten times faster than it happened
  %(prog)s --session SESSION_ID --into logs/execution --as-session SESSION_ID-replay --speed 10
  # copy the fills of one symbol into another log directory, as fast as possible
  %(prog)s --session SESSION_ID --type fill --symbol BTC-USD --into /tmp/replayed
  # feed the sinks configured in a config file (queue, filters, every backend)
  %(prog)s --session SESSION_ID --into-config config/execution.toml --speed 1 --restamp
  # print the events as JSON lines at real-time pace
  %(prog)s --session SESSION_ID --stdout --speed 1 | jq -c .kind

Pacing: --speed X waits out the logged gap between events divided by X; --max-gap S caps
one wait (idle hours replay in S seconds); without --speed events go as fast as the sink
takes them. --restamp gives events the time they are replayed at (for alert rules that look
at the clock). A target session that already has a log in the target directory is refused
unless --force (the events are then appended to it).

exit codes:
  0    success
  1    the sink reported errors or dropped events
  3    bad input: unknown session, missing path, bad time/speed, bad flag, target exists
  130  interrupted (Ctrl-C); what was replayed so far stays replayed
"""


def build_parser() -> Parser:
    p = Parser(
        prog="telemetry-replay",
        description="Replay logged execution events into a sink, in order, fast or paced.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_filter_args(p, path_help="log root to replay from")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--into", metavar="DIR", help="append to JSONL session logs under DIR")
    target.add_argument(
        "--into-config", metavar="FILE", help="the sink chain configured in FILE (execution.toml)"
    )
    target.add_argument("--stdout", action="store_true", help="print events as JSON lines")
    p.add_argument("--as-session", metavar="ID", help="replay under this session id")
    p.add_argument("--rotation", choices=("none", "daily"), default="none", help="with --into")
    p.add_argument("--speed", type=positive_float, help="pace: X times real time (default: max)")
    p.add_argument("--max-gap", type=positive_float, metavar="S", help="cap one wait at S s")
    p.add_argument("--restamp", action="store_true", help="stamp events with the replay time")
    p.add_argument("--force", action="store_true", help="append to a target session that exists")
    return p


class _StdoutEmitter:
    """JSON lines on a byte stream: the smallest sink, for pipes."""

    def __init__(self, stream: BinaryIO) -> None:
        from src.execution.telemetry.base import EmitterStats

        self.stream = stream
        self.stats = EmitterStats()

    def emit(self, event: Any) -> None:
        from src.execution.serialization import encode_event_line

        self.stream.write(encode_event_line(event))
        self.stats.emitted += 1

    def flush(self, timeout: float | None = None) -> bool:
        self.stream.flush()
        return True

    def close(self) -> None:
        self.stream.flush()


def _check_target(root: Path, args: argparse.Namespace) -> None:
    from src.execution.session_ids import validate_session_id
    from src.query.files import list_sessions, session_files

    if args.as_session:
        try:
            validate_session_id(args.as_session)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
    if args.into is None:
        return
    into = Path(args.into)
    sources = [args.session] if args.session else [s.session_id for s in list_sessions(root)]
    targets = [args.as_session] if args.as_session else sources
    same_dir = into.is_dir() and into.resolve() == root.resolve()
    for sid in targets:
        if same_dir and sid in sources:
            raise BadInput(
                f"replaying session {sid!r} into itself ({into}); name another with --as-session"
            )
        if session_files(into, sid) is not None and not args.force:
            raise BadInput(
                f"session {sid!r} already has a log in {into} "
                "(use --force to append to it, or --as-session NEW)"
            )


def _emitter(args: argparse.Namespace, stdout: BinaryIO | None) -> Any:
    if args.stdout:
        if stdout is None and sys.stdout.isatty():
            # Events on the operator's screen: their control characters must not act there.
            from src.common.terminal import InertLines, json_escape_controls

            stdout = InertLines(sys.stdout.buffer, json_escape_controls)  # type: ignore[assignment]
        return _StdoutEmitter(stdout or sys.stdout.buffer)
    if args.into is not None:
        from src.execution.telemetry.jsonl import JsonlExecutionLogger

        return JsonlExecutionLogger(args.into, rotation=args.rotation)
    from src.execution.config import ConfigError, load_config
    from src.execution.telemetry import build_emitter

    try:
        config = load_config(args.into_config)
        emitter = build_emitter(config)
    except ConfigError as exc:
        raise BadInput(str(exc)) from None
    if config.telemetry.queue_size > 0:
        # Flush (wait for the queue to drain) before it can fill: a replay drops nothing.
        args.flush_every = max(1, config.telemetry.queue_size // 2)
    return emitter


@needs_extras("scale")
def main(argv: Sequence[str] | None = None, *, stdout: BinaryIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    from src.common.progress import byte_progress
    from src.export.run import source_bytes
    from src.replay import replay

    try:
        root, flt = filter_from_args(args)
        _check_target(root, args)
        args.flush_every = 1000
        emitter = _emitter(args, stdout)
    except BadInput as exc:
        return fail(str(exc))
    started = time.monotonic()
    code = EXIT_OK
    stats = None
    try:
        # A bar only when pacing does not already set the tempo and stdout is not the sink.
        total = source_bytes(root, flt) if args.speed is None and not args.stdout else 0
        with byte_progress(total, "replaying") as progress:
            stats = replay(
                root,
                flt,
                emitter,
                speed=args.speed,
                max_gap_s=args.max_gap,
                session_id=args.as_session,
                restamp=args.restamp,
                flush_every=args.flush_every,
                progress=progress if total else None,
            )
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        sys.stderr.close()
        return EXIT_OK
    finally:
        emitter.close()
    if stats is None:
        print("interrupted", file=sys.stderr)
        return code
    elapsed = time.monotonic() - started
    parts = [f"replayed {stats.replayed:,} events in {elapsed:.1f} s"]
    if stats.skipped:
        reasons = ", ".join(f"{r} {n}" for r, n in stats.skip_reasons.most_common(3))
        parts.append(f"skipped {stats.skipped:,} not rebuildable as events ({reasons})")
    if stats.sink_errors or stats.sink_dropped:
        parts.append(f"sink errors {stats.sink_errors:,}, dropped {stats.sink_dropped:,}")
        code = EXIT_FAILED
    print(clean("; ".join(parts)), file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
