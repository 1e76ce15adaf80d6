"""The saved state of the dashboard's ``/metrics``: a restart goes on where it stopped.

:class:`~src.webui.metrics.LogMetrics` folds every line of every session under the log
root into the execution metrics. Its whole state - the metrics' values
(:class:`~src.execution.telemetry.metrics_snapshot.MetricsSnapshot`), the log-line counts,
and for each session the files its follower has read and how far - is saved in one file,
``<log root>/.summary/webui-metrics.state``, next to the saved summaries and with their
mechanisms (:mod:`src.query.state_file`): the same preamble and msgpack
:class:`~src.query.state_file.Header` (format and code versions, a mark per log file read,
the blob's CRC-32 and size), opened relative to the root's ``.summary`` directory, never
through a symbolic link, bounded in size, written atomically under the directory's
non-blocking lock (a read-only root or a busy directory: no save, never an error).

A loaded state is used only if it is whole (preamble, header hash, blob CRC, typed decode),
of this format and code version, and every log file it names that is still there holds what
it covered (:func:`~src.query.state_marks.mark_holds`: same device and inode, the newest
bytes read unchanged, only grown). Files and sessions that are gone (retention) are simply
no longer followed: their counts stay, as in a dashboard that kept running. Anything else -
a damaged or foreign file, another version, a log file rewritten or replaced under its
name - means the state is ignored and the metrics are built again from the logs.

The file is not a session's summary state (its name does not match theirs): retention
neither counts nor deletes it. Its size is bounded by the metrics' own bounds: the label
caps, at most ``pending_max`` waiting intents, orders and open orders (about 100 bytes
each), and a mark (about 90 bytes) per log file under the root.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import msgspec

from src.execution.telemetry.metrics_snapshot import MetricsSnapshot
from src.query.files import parse_file_name
from src.query.state_file import (
    HEADER_SIZE,
    MAX_STATE_BYTES,
    Header,
    blob_check,
    pack,
    read_state,
    split,
    write_state,
)
from src.query.state_marks import FollowedFile, Mark, mark_holds, mark_of_followed

__all__ = [
    "FORMAT_VERSION",
    "STATE_NAME",
    "Followed",
    "Loaded",
    "MetricsState",
    "code_version",
    "load_state",
    "save_state",
]

FORMAT_VERSION = 1
STATE_NAME = "webui-metrics.state"
_CODE_MODULES = (
    "src.execution.events",
    "src.execution.schema",
    "src.execution.telemetry.metrics_def",
    "src.execution.telemetry.metrics_snapshot",
    "src.execution.telemetry.pairing",
    "src.query.records",
    "src.query.follow",
    "src.query.lines",
    "src.query.files",
    "src.webui.metrics",
    "src.webui.metrics_state",
)

Followed = tuple[Path, int, int, int, bool, bool]  # as SessionFollower.adopt takes
"""A file a follower read: path, device, inode, offset read to (gzip: its size), gzip."""


class MetricsState(msgspec.Struct, frozen=True):
    """The blob: the metrics, the dashboard's log-line counts and which marks (in the
    header's order) belong to which session."""

    metrics: MetricsSnapshot
    lines: dict[str, tuple[float, float]]  # outcome -> (count, created)
    sessions: list[tuple[str, int]]  # (session id, how many of the header's marks)


@dataclass
class Loaded:
    """What :func:`load_state` gives: ``state`` and each session's files to adopt when
    ``outcome`` is ``restored``; otherwise why not (``missing``, ``invalid``, ``changed``)."""

    outcome: str
    state: MetricsState | None = None
    files: dict[str, list[Followed]] | None = None


_code: str | None = None


def code_version() -> str:
    """A hash of the source that decides what the state means (the metric definitions,
    the pairing, the line decoding and the follower); another version rebuilds."""
    global _code
    if _code is None:
        digest = hashlib.blake2b(digest_size=16)
        for name in _CODE_MODULES:
            __import__(name)
            source = getattr(sys.modules[name], "__file__", None)
            digest.update(name.encode())
            try:
                digest.update(Path(source).read_bytes() if source else b"?")
            except OSError:
                digest.update(b"?")
        _code = digest.hexdigest()
    return _code


def load_state(base: Path) -> Loaded:
    """The saved state under ``base``, checked against the log files as they are now."""
    found = read_state(base, STATE_NAME)
    if found is None:
        return Loaded("missing")
    data, size = found
    parts = split(data)
    if parts is None:
        return Loaded("invalid")
    head, blob = parts
    try:
        header = msgspec.msgpack.decode(head, type=Header)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return Loaded("invalid")
    if (
        header.format != FORMAT_VERSION
        or header.code != code_version()
        or header.blob_size != size - HEADER_SIZE - len(head)
        or header.blob_size != len(blob)
        or blob_check(blob) != header.blob_hash
    ):
        return Loaded("invalid")
    try:
        state = msgspec.msgpack.decode(blob, type=MetricsState)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return Loaded("invalid")
    files = _session_files(base, header.marks, state.sessions)
    if files is None:
        return Loaded("invalid")
    for followed in files.values():
        for (path, *_), mark in followed:
            if not _holds(path, mark):
                return Loaded("changed")
    return Loaded(
        "restored",
        state,
        {sid: [followed for followed, _ in fs] for sid, fs in files.items()},
    )


def _session_files(
    base: Path, marks: list[Mark], sessions: list[tuple[str, int]]
) -> dict[str, list[tuple[Followed, Mark]]] | None:
    """The marks by session, each with its path under ``base`` (None: they do not add up,
    or a name is not one of its session's log files inside the root)."""
    if sum(n for _, n in sessions) != len(marks) or any(n < 0 for _, n in sessions):
        return None
    out: dict[str, list[tuple[Followed, Mark]]] = {}
    at = 0
    for sid, n in sessions:
        if sid in out:
            return None
        own = out[sid] = []
        for mark in marks[at : at + n]:
            rel = PurePosixPath(mark.name)
            parsed = parse_file_name(rel.name)
            if (
                rel.is_absolute()
                or any(p in ("", ".", "..") for p in mark.name.split("/"))
                or "\\" in mark.name
                or parsed is None
                or parsed[0] != sid
                or parsed[1] != mark.gz
            ):
                return None
            path = base.joinpath(*rel.parts)
            own.append(((path, mark.dev, mark.ino, mark.offset, mark.gz, bool(mark.torn)), mark))
        at += n
    return out


def _holds(path: Path, mark: Mark) -> bool:
    """A file still there holds what ``mark`` covered (gone: retention, fine)."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return mark_holds(path, mark, last=not mark.gz)


def save_state(
    base: Path,
    metrics: MetricsSnapshot,
    lines: dict[str, tuple[float, float]],
    followed: dict[str, list[FollowedFile]],
) -> bool:
    """Save the state (False: not saved - a read-only root, a busy directory, a file that
    changed since it was read, which the next poll will see; never raises for I/O).
    ``followed``: each session's :meth:`~src.query.follow.SessionFollower.followed`."""
    marks: list[Mark] = []
    sessions: list[tuple[str, int]] = []
    for sid, files in followed.items():
        if not files:
            continue
        for file in files:
            mark = _mark(base, file)
            if mark is None:
                return False
            marks.append(mark)
        sessions.append((sid, len(files)))
    blob = msgspec.msgpack.encode(MetricsState(metrics, lines, sessions))
    if len(blob) > MAX_STATE_BYTES:
        return False
    header = Header(
        FORMAT_VERSION,
        code_version(),
        "",
        "",
        marks,
        time.time(),
        blob_check(blob),
        len(blob),
        b"",
    )
    return write_state(base, STATE_NAME, pack(header) + blob)


def _mark(base: Path, followed: FollowedFile) -> Mark | None:
    """The mark of a followed file, if it is still what the follower read."""
    try:
        rel = followed[0].relative_to(base).as_posix()
    except ValueError:
        return None
    return mark_of_followed(followed, rel)
