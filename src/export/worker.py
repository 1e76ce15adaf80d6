"""``python -m src.export.worker SPEC``: build one export file in a process of its own.

The dashboard's Excel and Parquet downloads are files that must be finished before they can
be sent. Building them in a child process makes a build something the dashboard can stop at
once (a client that left, a server told to stop: the child is killed) and keeps every file
it writes, including openpyxl's worksheet spill files, inside the build's scratch directory
(the child's ``TMPDIR``). The child reads the summary in one process, runs at a lower CPU
priority than the server, and dies with its parent (Linux ``PR_SET_PDEATHSIG``), so a killed
dashboard leaves no build running.

``SPEC`` is JSON: ``base``, ``format`` (``xlsx`` or ``parquet``), ``output``, ``parent``
(the pid expected to be the parent) and ``filter`` (the :class:`EventFilter` fields).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from src.common.extras import needs_extras
from src.query.filters import EventFilter

__all__ = ["BUILD_FORMATS", "build_file", "filter_from_json", "filter_to_json", "main"]

BUILD_FORMATS = ("xlsx", "parquet")
_PR_SET_PDEATHSIG = 1


def filter_to_json(flt: EventFilter) -> dict[str, Any]:
    return {
        "session_id": flt.session_id,
        "kinds": sorted(flt.kinds) if flt.kinds is not None else None,
        "symbols": sorted(flt.symbols) if flt.symbols is not None else None,
        "start": flt.start,
        "end": flt.end,
    }


def filter_from_json(doc: dict[str, Any]) -> EventFilter:
    def as_set(v: list[str] | None) -> frozenset[str] | None:
        return frozenset(v) if v is not None else None

    return EventFilter(
        doc["session_id"], as_set(doc["kinds"]), as_set(doc["symbols"]), doc["start"], doc["end"]
    )


def build_file(base: Path, flt: EventFilter, fmt: str, path: Path) -> Path:
    """Write the export of ``flt`` to ``path`` (xlsx: summary + a sheet per kind; parquet:
    one file with ``date`` and ``session_id`` columns)."""
    if fmt == "xlsx":
        from src.export.run import export

        export(base, flt, "xlsx", path, summary_workers=1)
        return path
    if fmt != "parquet":
        raise ValueError(f"invalid build format {fmt!r}: expected one of {BUILD_FORMATS}")
    from src.export.parquet import ParquetFileWriter
    from src.query.engine import matching_events

    writer = ParquetFileWriter(str(path))
    for session_id, rec in matching_events(base, flt):
        writer.write(session_id, rec)
    writer.close()
    return path


def _die_with_parent(parent: int) -> None:
    """Be killed when the parent dies (Linux); exit now if it is already gone."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the parent still kills us when it can
        pass
    if os.getppid() != parent:
        raise SystemExit(3)


@needs_extras("export")
def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m src.export.worker SPEC_JSON", file=sys.stderr)
        return 3
    spec = json.loads(args[0])
    _die_with_parent(int(spec["parent"]))
    try:
        os.nice(10)  # the server's own requests come first
    except OSError:
        pass
    build_file(
        Path(spec["base"]), filter_from_json(spec["filter"]), spec["format"], Path(spec["output"])
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
