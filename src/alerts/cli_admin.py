"""``telemetry-alerts list | ack | snooze | unsnooze | deliveries | test``.

These work on the state file the engine keeps (under its lock, so they are safe while
``telemetry-alerts run`` is running) and on the delivery log; ``test`` sends a test
notification through the configured channels, synchronously, and says what happened.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from src.cli.common import fail

__all__ = ["add_commands", "dispatch"]

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 3


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "unknown")


def add_commands(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    lst = sub.add_parser("list", help="open alerts, snoozes and delivery counts")
    common(lst)
    lst.add_argument("--all", action="store_true", help="also recently resolved alerts")
    lst.add_argument("--json", action="store_true", help="print the state as JSON")

    ack = sub.add_parser("ack", help="acknowledge open alerts (no reminders) for a while")
    common(ack)
    ack.add_argument("pattern", help="alert key, rule[:session], or a pattern like 'latency:*'")
    ack.add_argument("--for", dest="duration", default="4h", help="expiry (default 4h)")
    ack.add_argument("--until-resolved", action="store_true", help="no expiry")
    ack.add_argument("--by", default=None, help="who (default: the user name)")
    ack.add_argument("--note", default="", help="what is being done")

    snz = sub.add_parser("snooze", help="send nothing for matching alerts for a while")
    common(snz)
    snz.add_argument("pattern", help="alert key, rule[:session], or a pattern like '*:SESSION*'")
    snz.add_argument("--for", dest="duration", default="1h", help="how long (default 1h)")
    snz.add_argument("--by", default=None, help="who (default: the user name)")
    snz.add_argument("--reason", default="", help="why")

    uns = sub.add_parser("unsnooze", help="lift a snooze early (by id or pattern)")
    common(uns)
    uns.add_argument("target", help="snooze id (s-N) or its pattern")

    dlv = sub.add_parser("deliveries", help="the newest delivery attempts and outcomes")
    common(dlv)
    dlv.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    dlv.add_argument("--json", action="store_true", help="JSON lines")

    tst = sub.add_parser("test", help="send a test notification through the channels")
    common(tst)
    tst.add_argument(
        "--channel", action="append", help="only this channel (repeatable; default: configured)"
    )


def dispatch(args: argparse.Namespace, config: Any, root: Path, out: TextIO) -> int:
    from src.alerts.service import delivery_log_path, state_path
    from src.alerts.state import StateError, StateStore

    store = StateStore(state_path(config, root))
    try:
        if args.command == "list":
            return _list(args, store, out)
        if args.command == "ack":
            return _ack(args, store, out)
        if args.command == "snooze":
            return _snooze(args, store, out)
        if args.command == "unsnooze":
            return _unsnooze(args, store, out)
    except StateError as exc:
        return fail(str(exc))
    except ValueError as exc:
        return fail(str(exc))
    if args.command == "deliveries":
        return _deliveries(args, delivery_log_path(config, root), out)
    return _test(args, config, root, out)


def _list(args: argparse.Namespace, store: Any, out: TextIO) -> int:
    from src.alerts.lifecycle import open_alerts
    from src.alerts.render import render_alerts, render_silences

    now = time.time()
    state = store.read()
    if args.json:
        out.write(json.dumps(state, indent=2, sort_keys=True) + "\n")
        return EXIT_OK
    alerts = open_alerts(state, now)
    render_alerts(alerts, out, now=now)
    if args.all:
        resolved = [r for r in state["alerts"].values() if r["status"] == "resolved"]
        resolved.sort(key=lambda r: -r["resolved_at"])
        if resolved:
            out.write("recently resolved:\n")
            render_alerts(resolved, out, now=now)
    render_silences([s for s in state["silences"] if s["until"] > now], out, now=now)
    if state["outbox"]:
        out.write(f"{len(state['outbox'])} notification(s) waiting to be delivered\n")
    for channel, counts in sorted(state.get("delivery", {}).items()):
        out.write(
            f"channel {channel}: {counts.get('ok', 0)} delivered, {counts.get('failed', 0)} "
            f"failed, {counts.get('dropped', 0)} dropped\n"
        )
    if state.get("evaluated_at"):
        from src.common.units import human_duration

        out.write(f"last evaluation {human_duration(max(0.0, now - state['evaluated_at']))} ago\n")
    return EXIT_OK


def _ack(args: argparse.Namespace, store: Any, out: TextIO) -> int:
    from src.alerts.lifecycle import acknowledge
    from src.alerts.render import parse_duration

    now = time.time()
    until = None if args.until_resolved else now + parse_duration(args.duration)
    with store.update() as state:
        keys = acknowledge(
            state, args.pattern, by=args.by or _who(), until=until, note=args.note, now=now
        )
    if not keys:
        return fail(f"no open alert matches {args.pattern!r} (see telemetry-alerts list)")
    expiry = "until resolved" if until is None else f"for {args.duration}"
    for key in keys:
        out.write(f"acknowledged {key} {expiry}\n")
    return EXIT_OK


def _snooze(args: argparse.Namespace, store: Any, out: TextIO) -> int:
    from src.alerts.format import iso
    from src.alerts.lifecycle import snooze
    from src.alerts.render import parse_duration

    now = time.time()
    seconds = parse_duration(args.duration)
    with store.update() as state:
        silence = snooze(
            state,
            args.pattern,
            until=now + seconds,
            by=args.by or _who(),
            reason=args.reason,
            now=now,
        )
    out.write(f"snoozed {args.pattern!r} until {iso(silence['until'])} ({silence['id']})\n")
    return EXIT_OK


def _unsnooze(args: argparse.Namespace, store: Any, out: TextIO) -> int:
    from src.alerts.lifecycle import unsnooze

    with store.update() as state:
        removed = unsnooze(state, args.target)
    if not removed:
        return fail(f"no snooze {args.target!r} (see telemetry-alerts list)")
    for s in removed:
        out.write(f"lifted snooze {s['id']} {s['pattern']!r}\n")
    return EXIT_OK


def _deliveries(args: argparse.Namespace, path: Path, out: TextIO) -> int:
    from src.alerts.deliverylog import DeliveryLogError, read_deliveries
    from src.alerts.render import render_deliveries

    if args.limit < 1:
        return fail(f"invalid --limit {args.limit}: must be > 0")
    try:
        records = read_deliveries(path, args.limit)
    except DeliveryLogError as exc:
        return fail(str(exc))
    if args.json:
        for r in records:
            out.write(json.dumps(r, sort_keys=True) + "\n")
    else:
        render_deliveries(records, out)
    return EXIT_OK


def _test(args: argparse.Namespace, config: Any, root: Path, out: TextIO) -> int:
    from src.alerts.channels import ChannelConfigError, build_channels
    from src.alerts.delivery import Dispatcher
    from src.alerts.deliverylog import DeliveryLog
    from src.alerts.service import delivery_log_path

    alerts = config
    try:
        channels = build_channels(alerts, only=tuple(args.channel) if args.channel else None)
    except ChannelConfigError as exc:
        return fail(str(exc))
    if not channels:
        return fail("no channel configured ([execution.alerts] channels)")
    now = time.time()
    note = {
        "id": f"test-{int(now)}",
        "event": "test",
        "key": "test:telemetry-alerts",
        "rule": "test",
        "session_id": "-",
        "subject": "",
        "severity": "warning",
        "status": "firing",
        "message": f"test notification from telemetry-alerts on {socket.gethostname()}",
        "value": None,
        "threshold": None,
        "at": now,
        "fired_at": now,
        "resolved_at": None,
        "acked_by": None,
    }
    outcomes: dict[str, str] = {}
    record = DeliveryLog(delivery_log_path(config, root), max_bytes=alerts.delivery.log_max_bytes)
    dispatcher = Dispatcher(
        channels,
        alerts.delivery,
        record,
        on_done=lambda item, outcome: outcomes.__setitem__(item["channel"], outcome),
    )
    for name in channels:
        dispatcher.submit({"id": f"{note['id']}/{name}", "channel": name, "notification": note})
    dispatcher.close(timeout=alerts.delivery.max_attempts * (alerts.delivery.timeout_s + 30))
    failed = False
    for name in channels:
        outcome = outcomes.get(name, "pending")
        failed |= outcome != "ok"
        out.write(f"{name}: {outcome}\n")
    return EXIT_FAILED if failed else EXIT_OK
