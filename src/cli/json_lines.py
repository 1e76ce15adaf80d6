"""How the viewer writes lines to stdout: ``--json`` event lines (``ts`` in one fixed UTC
form, control characters escaped) and any encoded lines, to the stream's binary buffer when
it has one; a pipe closed by the reader (``| head``) ends the output quietly."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC
from typing import TextIO

from src.common.terminal import json_escape_controls
from src.execution.serialization import encode_json_line

__all__ = ["event_json_line", "json_ts", "line_writer", "write_lines"]


def json_ts(value: str) -> str:
    """``ts`` as ``--json`` writes it: UTC, always microseconds and ``+00:00``, so that the
    text of one line sorts before the next exactly when its instant is earlier (the
    runbook's ``jq -r .ts | sort -c``), whatever precision or offset the log used.
    """
    from src.query.records import parse_instant_dt

    dt = parse_instant_dt(value)
    if dt is None:
        return value
    try:
        return dt.astimezone(UTC).isoformat(timespec="microseconds")
    except (OverflowError, ValueError):  # out of range once shifted to UTC: keep as written
        return value


def event_json_line(data: Mapping[str, object]) -> bytes:
    """One logged event as a ``--json`` line."""
    ts = data["ts"]
    line = {**data, "ts": json_ts(ts)} if isinstance(ts, str) else data
    return json_escape_controls(encode_json_line(line))


def line_writer(out: TextIO) -> Callable[[bytes], object]:
    """Write one encoded line to ``out`` (its binary buffer when it has one)."""
    buffer = getattr(out, "buffer", None)
    if buffer is not None:
        return buffer.write  # type: ignore[no-any-return]
    return lambda line: out.write(line.decode())


def write_lines(lines: Iterable[bytes], out: TextIO) -> int:
    """Write ``lines`` and flush; how many were written (or begun, if the reader closed the
    pipe: then stderr is closed too, so the interpreter's exit says nothing)."""
    write = line_writer(out)
    count = 0
    try:
        for line in lines:
            count += 1
            write(line)
        out.flush()
    except BrokenPipeError:  # `| head` closed the pipe: not an error
        sys.stderr.close()
    return count
