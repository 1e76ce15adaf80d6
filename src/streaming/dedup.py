"""Exactly-once lines from at-least-once delivery: remembering which events were written.

Duplicates reach the collector two ways:

1. a producer re-sends a batch after a connection error that hit after Redis had already
   stored part of it; the copies sit close together in the stream;
2. the collector crashes after writing lines but before acknowledging them; after the
   restart Redis delivers those entries again. They are the last lines the crashed
   collector wrote.

:class:`SeenEvents` remembers recent ``event_id`` values in bounded memory. It is not
persisted anywhere separately: a separate record (a Redis set, a file) could never be
updated atomically with the archive line, so a crash between the two would either lose
an event or let a duplicate through. Instead the archive is the record. At start-up
:func:`seed_from_archive` reads the tail of the most recently modified archive files and
remembers their event ids, which covers case 2 exactly (the unacknowledged entries are at
most one read batch, and their lines end the newest files) and case 1 for anything within
the window.

Limits: a duplicate whose first copy is older than the window (``capacity`` ids in memory,
``tail_bytes`` per file after a restart) is written again. Both windows are far wider than
one producer batch or one collector batch.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

__all__ = ["SeenEvents", "seed_from_archive"]


class SeenEvents:
    """The most recent event ids, in two generations: O(1) lookups, at most ``capacity`` ids.

    When the current generation holds ``capacity // 2`` ids it becomes the previous one and
    the old previous generation is forgotten, so the latest ``capacity // 2`` ids are
    always remembered.
    """

    def __init__(self, capacity: int = 200_000) -> None:
        if capacity < 2:
            raise ValueError(f"invalid capacity {capacity!r}: must be >= 2")
        self.capacity = capacity
        self._half = capacity // 2
        self._current: set[str] = set()
        self._previous: set[str] = set()

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._current or event_id in self._previous

    def add(self, event_id: str) -> None:
        if event_id in self._current:
            return
        if len(self._current) >= self._half:
            self._previous = self._current
            self._current = set()
        self._current.add(event_id)

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)


def _tail_event_ids(path: Path, tail_bytes: int) -> list[str]:
    """Event ids of the whole lines in the last ``tail_bytes`` of ``path``, in file order."""
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        start = max(0, size - tail_bytes)
        fh.seek(start)
        chunk = fh.read(tail_bytes)
    lines = chunk.split(b"\n")
    if start > 0:
        lines = lines[1:]  # the first line is cut off by the window
    ids: list[str] = []
    for line in lines:
        if not line:
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # a torn line: readers skip it too
        event_id = record.get("event_id") if isinstance(record, dict) else None
        if isinstance(event_id, str):
            ids.append(event_id)
    return ids


def seed_from_archive(seen: SeenEvents, root: str | os.PathLike[str], tail_bytes: int) -> int:
    """Remember the event ids ending the newest ``*.jsonl`` files under ``root``.

    Files are read newest (by modification time) first until ``capacity // 2`` ids are
    collected; they are added oldest first so the newest survive. Returns how many ids
    were read.
    """
    base = Path(root)
    if not base.is_dir():
        return 0
    files: list[tuple[float, Path]] = []
    for path in base.rglob("*.jsonl"):
        try:
            files.append((path.stat().st_mtime, path))
        except OSError:
            continue
    files.sort(key=lambda item: item[0], reverse=True)
    budget = max(1, seen.capacity // 2)
    batches: list[list[str]] = []
    total = 0
    for _mtime, path in files:
        try:
            ids = _tail_event_ids(path, tail_bytes)
        except OSError:
            continue
        batches.append(ids[-(budget - total) :])
        total += len(batches[-1])
        if total >= budget:
            break
    for ids in reversed(batches):
        for event_id in ids:
            seen.add(event_id)
    return total
