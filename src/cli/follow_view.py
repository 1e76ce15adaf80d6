"""``view-execution-telemetry --follow``: new events of a session as they are appended, like
``tail -f``, with the same filters (kind, symbol, time window) and formats (a readable
line, or ``--json`` lines).

The session is followed with the query layer's one follower
(:class:`~src.query.follow.SessionFollower`): only complete lines are printed (a line still
being written waits for the next poll); a file that is replaced, compressed or rotated is
followed on without repeating or losing a line (``resume``, as the dashboard's live feed).
With ``--limit N`` the newest N matching events come first. Ctrl-C ends it (exit 0).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from src.cli.json_lines import event_json_line, line_writer
from src.cli.render import timeline_line
from src.common.terminal import clean
from src.query.filters import EventFilter
from src.query.follow import SessionFollower
from src.query.paging import collect_back
from src.query.records import Record, decode_record
from src.query.timeline import row_from_record

__all__ = ["POLL_INTERVAL_S", "follow"]

POLL_INTERVAL_S = 0.2


def _formatter(as_json: bool) -> Callable[[Record], bytes]:
    if as_json:
        return lambda rec: event_json_line(rec.data)

    def text_line(rec: Record) -> bytes:
        return (clean(timeline_line(row_from_record(rec))) + "\n").encode()

    return text_line


def follow(
    root: Path,
    flt: EventFilter,
    out: TextIO,
    *,
    as_json: bool,
    backlog: int | None,
    interval: float = POLL_INTERVAL_S,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Print matching events as they are appended until ``stop()`` or Ctrl-C (raised)."""
    assert flt.session_id is not None
    fmt = _formatter(as_json)
    write_line = line_writer(out)

    def write(rec: Record) -> None:
        write_line(fmt(rec))

    follower = SessionFollower(root, flt.session_id, from_end=True, resume=True, hold=True)
    try:
        for _ in follower.poll():  # takes the start position: the end as it is now
            pass
        if backlog and follower.session is not None:
            path, offset = follower.position
            files = follower.session.files
            index = files.index(path) if path in files else len(files) - 1
            end = offset if path in files else None
            for _, _, rec in reversed(collect_back(follower.session, flt, backlog, index, end)):
                write(rec)
            out.flush()
        while not stop():
            printed = False
            for item in follower.poll():
                if not isinstance(item, tuple):
                    continue  # a reset (followed on) or a damaged gzip file
                rec = decode_record(item[2])
                if rec is not None and flt.matches(rec.kind, rec.symbol, rec.t):
                    write(rec)
                    printed = True
            if printed:
                out.flush()
            time.sleep(interval)
    except BrokenPipeError:  # `| head` closed the pipe: not an error
        sys.stderr.close()
    finally:
        follower.close()
