"""``telemetry-alerts``: evaluate the alert rules once (cron) or continuously, and manage alerts.

Exit codes: ``check`` 0 nothing needs attention, 1 a warning is firing, 2 a critical alert
is firing (acknowledged and snoozed alerts do not count); every command 3 for bad input
(flag, config, missing secret, unknown session or alert); ``test`` 1 when a channel failed.
The administrative commands live in :mod:`src.alerts.cli_admin`.
"""

from __future__ import annotations

import argparse
import difflib
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from src.cli.common import Parser, fail
from src.common.extras import needs_extras
from src.common.terminal import CleanWriter

if TYPE_CHECKING:
    from src.alerts.config import AlertsConfig
    from src.execution.config import TelemetryConfig

__all__ = ["EXIT_CRITICAL", "EXIT_OK", "EXIT_WARNING", "main"]

EXIT_OK, EXIT_WARNING, EXIT_CRITICAL = 0, 1, 2

EPILOG = """\
examples:
  %(prog)s check                          # evaluate once, send what is new, exit 0/1/2
  %(prog)s check --session SESSION_ID --dry-run
  %(prog)s check --as-of 2025-12-20T10:05:00Z --dry-run   # would it have alerted then?
  %(prog)s run                            # evaluate every interval_s, following the logs
  %(prog)s run --redis redis://127.0.0.1:6379/0           # ... or the Redis stream
  %(prog)s list
  %(prog)s ack 'latency:SESSION_ID:*' --for 2h --note "broker aware"
  %(prog)s snooze gate_rejection --for 30m --reason "kill switch drill"
  %(prog)s unsnooze s-12
  %(prog)s deliveries --limit 20
  %(prog)s test --channel slack

Rules, thresholds and channels: [execution.alerts] in config/execution.toml. Secrets
(webhook URLs, SMTP password) only from the environment variables it names.

exit codes:
  0  check: nothing needs attention; other commands: done
  1  check: a warning is firing; test: a channel failed
  2  check: a critical alert is firing
  3  bad input: flag, config, missing secret, unknown session or alert; run: another
     engine already uses the state file (check then only judges, and says so)
"""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", help="config file (default: $EXECUTION_CONFIG or config/execution.toml)"
    )
    p.add_argument("--path", help="log root (default: the config's telemetry base_path)")
    p.add_argument("--state", help="alert state file (default: <path>/.alerts/state.json)")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="telemetry-alerts",
        description="Alert on execution telemetry: rules over the logs, sent to Slack, "
        "webhooks, email or the console.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    c = sub.add_parser("check", help="evaluate once and exit with the worst severity")
    _common(c)
    c.add_argument("--session", help="only this session (others' alerts are left as they are)")
    c.add_argument("--as-of", metavar="TIME", help="judge as of TIME (ISO 8601); implies --dry-run")
    c.add_argument(
        "--dry-run", action="store_true", help="judge only: record nothing, send nothing"
    )
    c.add_argument("--no-wait", action="store_true", help="do not wait for deliveries to finish")
    c.add_argument("--json", action="store_true", help="print one JSON document")
    r = sub.add_parser("run", help="evaluate continuously until interrupted")
    _common(r)
    r.add_argument("--interval", type=float, metavar="S", help="seconds between evaluations")
    r.add_argument(
        "--redis",
        nargs="?",
        const="",
        metavar="URL",
        help="follow the Redis stream instead of the logs (default: the config's redis url)",
    )
    r.add_argument("--stream", help="stream name (default: the config's)")
    from src.alerts import cli_admin

    cli_admin.add_commands(sub, _common)
    return p


def load(args: argparse.Namespace) -> tuple[AlertsConfig, TelemetryConfig, Path]:
    """The alerts section, the telemetry section and the log root; ``ValueError`` for bad
    input (a bad key or value in either section)."""
    from src.alerts.config import load_alerts_config
    from src.execution.config import load_config

    telemetry = load_config(args.config).telemetry
    alerts = load_alerts_config(args.config, overrides={"execution.alerts.state_path": args.state})
    return alerts, telemetry, Path(args.path or telemetry.base_path)


@needs_extras("scale")
def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = CleanWriter(stdout or sys.stdout)  # sessions, gates, messages come from the logs
    try:
        config, telemetry, root = load(args)
    except ValueError as exc:
        return fail(str(exc))
    if args.command == "check":
        return _check(args, config, root, out)
    if args.command == "run":
        return _run(args, config, telemetry, root, out)
    from src.alerts import cli_admin

    return cli_admin.dispatch(args, config, root, out)


def _unknown_session(root: Path, session: str) -> str | None:
    from src.query.files import list_sessions, session_files

    try:
        if session_files(root, session) is not None:
            return None
    except ValueError as exc:
        return str(exc)
    known = [s.session_id for s in list_sessions(root)]
    close = difflib.get_close_matches(session, known, n=5, cutoff=0.5)
    hint = f"; did you mean: {', '.join(close)}" if close else f" ({len(known)} sessions found)"
    return f"no execution log found for session {session!r} in {root}{hint}"


def exit_code(alerts: list[dict[str, Any]]) -> int:
    """Worst severity among firing alerts nobody acknowledged or snoozed."""
    worst = EXIT_OK
    for rec in alerts:
        if rec["status"] == "firing" and not rec.get("acked") and not rec.get("snoozed"):
            worst = max(worst, EXIT_CRITICAL if rec["severity"] == "critical" else EXIT_WARNING)
    return worst


def _check(args: argparse.Namespace, config: AlertsConfig, root: Path, out: TextIO) -> int:
    from src.alerts.channels import ChannelConfigError
    from src.alerts.delivery import backoff_delays
    from src.alerts.render import render_alerts
    from src.alerts.service import build_engine
    from src.alerts.state import EngineBusy, StateError
    from src.query.filters import parse_instant

    if not root.is_dir():
        return fail(f"log path {str(root)!r} does not exist or is not a directory")
    if args.session and (problem := _unknown_session(root, args.session)):
        return fail(problem)
    as_of = None
    if args.as_of:
        try:
            as_of = parse_instant(args.as_of)
        except ValueError as exc:
            return fail(str(exc))
    dry = args.dry_run or as_of is not None
    try:
        try:
            engine = build_engine(config, root, dry_run=dry, until=as_of)
        except EngineBusy as exc:
            print(f"note: {exc}; judging only (nothing recorded or sent)", file=sys.stderr)
            dry = True
            engine = build_engine(config, root, dry_run=True)
    except (ChannelConfigError, StateError, ValueError) as exc:
        return fail(str(exc))
    delivery = config.delivery
    patience = delivery.max_attempts * delivery.timeout_s + sum(backoff_delays(delivery)) + 1.0
    try:
        engine.start()
        result = engine.evaluate(session=args.session, as_of=as_of)
    except StateError as exc:
        engine.close(timeout=0)
        return fail(str(exc))
    drained = engine.close(timeout=0.0 if args.no_wait else patience)
    for sid, why in sorted(result.failed.items()):
        print(
            f"warning: session {json.dumps(sid)} could not be evaluated ({why}); "
            "its alerts are left as they were",
            file=sys.stderr,
        )
    if dry:
        alerts = [
            {**c.as_dict(), "status": "firing", "fired_at": result.at, "since": result.at}
            for c in result.conditions
        ]
        alerts.sort(key=lambda a: (a["severity"] != "critical", a["key"]))
    else:
        alerts = result.alerts
    if args.json:
        doc = {
            "evaluated_at": result.at,
            "dry_run": dry,
            "sessions": result.sessions,
            "failed_sessions": result.failed,
            "alerts": alerts,
            "notifications": result.notifications,
            "deliveries": engine.dispatcher.stats() if engine.dispatcher else {},
        }
        out.write(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")
    else:
        scope = f"{len(result.sessions)} active session(s)"
        if result.failed:
            scope += f", {len(result.failed)} could not be evaluated"
        out.write(f"evaluated {scope}{' (dry run)' if dry else ''}\n")
        render_alerts(alerts, out, now=result.at)
        if result.notifications:
            sent = ", ".join(engine.dispatcher.channels) if engine.dispatcher else ""
            out.write(f"{len(result.notifications)} notification(s) to: {sent or 'no channel'}\n")
    if engine.dispatcher is not None:
        for channel, counts in engine.dispatcher.stats().items():
            if counts["failed"] or counts["dropped"]:
                print(
                    f"error: {counts['failed'] + counts['dropped']} notification(s) not "
                    f"delivered to {channel} (see telemetry-alerts deliveries)",
                    file=sys.stderr,
                )
        unrecorded = engine.dispatcher.record.failures
        if unrecorded:
            print(
                f"error: {unrecorded} delivery record(s) could not be written to "
                f"{engine.dispatcher.record.path} (the notifications went out; see the log)",
                file=sys.stderr,
            )
        if not drained:
            print("warning: deliveries still pending; the next run retries them", file=sys.stderr)
    return exit_code(alerts)


def _run(
    args: argparse.Namespace,
    config: AlertsConfig,
    telemetry: TelemetryConfig,
    root: Path,
    out: TextIO,
) -> int:
    from src.alerts.channels import ChannelConfigError
    from src.alerts.engine import horizon_s
    from src.alerts.service import build_engine, state_path
    from src.alerts.state import StateError

    source = None
    if args.redis is not None:
        try:
            from src.alerts.stream import StreamSource
        except ImportError as exc:  # pragma: no cover - the scale extra is not installed
            return fail(f"--redis needs the scale extra (pip install '.[scale]'): {exc}")
        redis = telemetry.redis
        source = StreamSource(
            args.redis or redis.url,
            stream=args.stream or redis.stream,
            horizon_s=horizon_s(config),
            active_within_s=config.active_within_s,
        )
    elif not root.is_dir():
        return fail(f"log path {str(root)!r} does not exist or is not a directory")
    if args.interval is not None and not args.interval > 0:
        return fail(f"invalid --interval {args.interval!r}: must be > 0")
    try:
        engine = build_engine(config, root, source=source)
    except (ChannelConfigError, StateError, ValueError) as exc:
        if source is not None:
            source.close()
        return fail(str(exc))
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    what = "the Redis stream" if source is not None else str(root)
    print(
        f"telemetry-alerts: following {what}, state in {state_path(config, root)}, "
        f"channels: {', '.join(engine.dispatcher.channels) or 'none'}",
        file=out,
        flush=True,
    )
    try:
        requeued = engine.start()
        if requeued:
            print(f"re-sending {requeued} undelivered notification(s)", file=out, flush=True)
        engine.run(stop, args.interval)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        engine.close(timeout=5.0)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
