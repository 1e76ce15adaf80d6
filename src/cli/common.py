"""What the telemetry commands share: the viewer's filter flags, bad-input errors, exit codes.

Every command selects events the way ``view_execution_telemetry`` does (``--path``,
``--session``, ``--type``, ``--symbol``, ``--from``, ``--to``), reports bad input as one
line on stderr and exits with 3 for it.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

from src.common.terminal import clean
from src.execution.schema import KINDS
from src.query.filters import EventFilter

__all__ = [
    "EXIT_FAILED",
    "EXIT_INPUT",
    "EXIT_OK",
    "BadInput",
    "Parser",
    "add_filter_args",
    "check_kinds",
    "fail",
    "filter_from_args",
    "port_number",
    "port_or_zero",
    "positive_float",
    "positive_int",
    "resolve_time",
]

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 3


class BadInput(Exception):
    """Input the command cannot work with; its message is the one line shown."""


class Parser(argparse.ArgumentParser):
    """argparse with the project's convention: a bad flag is one line and exit code 3.

    A flag no (sub)command knows is named even when a required argument is missing too
    (argparse would only say what is missing).
    """

    _argv: list[str] | None = None

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        self._argv = _glue_relative_times(list(sys.argv[1:] if args is None else args))
        return super().parse_known_args(self._argv, namespace)

    def error(self, message: str) -> NoReturn:
        stray = self._unknown_flags()
        if stray and message.startswith(("the following arguments are required", "one of")):
            message = f"unrecognized arguments: {' '.join(stray)}"
        self.exit(EXIT_INPUT, f"error: {clean(message)} (see --help)\n")

    def _unknown_flags(self) -> list[str]:
        known = set(_option_strings(self))
        return [
            arg
            for arg in self._argv or ()
            if arg.startswith("--")
            and arg != "--"
            and not any(k.startswith(arg.split("=", 1)[0]) for k in known)
        ]


_TIME_FLAGS = ("--from", "--to")
_RELATIVE = re.compile(r"-(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
TIME_HELP = "ISO 8601 (naive means UTC), or relative: now, -30s, -15m, -2h, -1d"


def _glue_relative_times(argv: list[str]) -> list[str]:
    """``--from -15m`` as ``--from=-15m`` (argparse would take ``-15m`` for a flag)."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] in _TIME_FLAGS and arg.startswith("-") and arg[1:2].isdigit():
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def resolve_time(text: str | None, now: datetime | None = None) -> str | datetime | None:
    """``now`` and ``-<n><s|m|h|d>`` as instants before ``now``; anything else as given
    (an ISO 8601 time for the filter to parse). ``BadInput`` naming a relative-looking
    value that is not one."""
    if text is None:
        return None
    value = text.strip()
    now = now or datetime.now(UTC)
    if value == "now":
        return now
    if not value.startswith("-"):
        return text
    m = _RELATIVE.fullmatch(value)
    if m is None:
        raise BadInput(f"invalid time {text!r}: expected {TIME_HELP}")
    try:
        return now - timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    except OverflowError:
        raise BadInput(f"invalid time {text!r}: too far back") from None


def _option_strings(parser: argparse.ArgumentParser) -> list[str]:
    """Every long option of ``parser`` and of its subcommands."""
    found = []
    for action in parser._actions:
        found += [s for s in action.option_strings if s.startswith("--")]
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _option_strings(sub)
    return found


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}: must be > 0")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0: NaN and infinity are bad input."""
    return _finite(text, zero_ok=False)


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (a duration or a threshold): NaN and infinity are bad input."""
    return _finite(text, zero_ok=True)


def _finite(text: str, *, zero_ok: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if not (value >= 0 if zero_ok else value > 0) or not value < float("inf"):  # also NaN
        bound = ">= 0" if zero_ok else "> 0"
        raise argparse.ArgumentTypeError(f"invalid number {text!r}: must be {bound} and finite")
    return value


def port_number(text: str) -> int:
    """A TCP port, 1-65535."""
    return _port(text, low=1)


def port_or_zero(text: str) -> int:
    """A TCP port, or 0 for any free one."""
    return _port(text, low=0)


def _port(text: str, *, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}") from None
    if not low <= value <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: must be {low}-65535")
    return value


def add_filter_args(p: argparse.ArgumentParser, *, path_help: str = "log root") -> None:
    p.add_argument("--path", default="logs/execution", help=f"{path_help} (default logs/execution)")
    p.add_argument("--session", help="session id (default: all sessions under --path)")
    p.add_argument("--type", dest="kind", help=f"event kind(s): {','.join(KINDS)}")
    p.add_argument("--symbol", help="symbol(s), comma-separated")
    p.add_argument("--from", dest="start", metavar="TIME", help=f"earliest event time: {TIME_HELP}")
    p.add_argument("--to", dest="end", metavar="TIME", help=f"latest event time: {TIME_HELP}")


def check_kinds(text: str | None) -> None:
    """``BadInput`` naming the first of the comma-separated kinds that is no event kind."""
    for kind in (text or "").split(","):
        if kind and kind not in KINDS:
            close = difflib.get_close_matches(kind, KINDS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise BadInput(f"unknown event kind {kind!r}: expected one of {', '.join(KINDS)}{hint}")


def filter_from_args(args: argparse.Namespace) -> tuple[Path, EventFilter]:
    """The log root and the filter the flags name; ``BadInput`` for anything wrong."""
    from src.query.files import list_sessions, session_files

    check_kinds(args.kind)
    root = Path(args.path)
    if not root.is_dir():
        raise BadInput(f"log path {str(root)!r} does not exist or is not a directory")
    now = datetime.now(UTC)
    try:
        flt = EventFilter.build(
            session_id=args.session,
            kind=args.kind,
            symbol=args.symbol,
            start=resolve_time(args.start, now),
            end=resolve_time(args.end, now),
        )
    except ValueError as exc:
        message = str(exc)
        if message.startswith("invalid time range"):
            message = f"invalid time range: from {args.start!r} is after to {args.end!r}"
        elif message.startswith("invalid time ") and "relative" not in message:
            message += "; or relative: now, -30s, -15m, -2h, -1d"
        raise BadInput(message) from None
    if args.session and session_files(root, args.session) is None:
        known = [s.session_id for s in list_sessions(root)]
        close = difflib.get_close_matches(args.session, known, n=5, cutoff=0.5)
        hint = f"; did you mean: {', '.join(close)}" if close else f" ({len(known)} sessions found)"
        raise BadInput(f"no execution log found for session {args.session!r} in {root}{hint}")
    return root, flt


def fail(message: str, code: int = EXIT_INPUT) -> int:
    print(f"error: {clean(message)}", file=sys.stderr)
    return code
