"""JSON lines export: every matching event exactly as logged, one per line.

The lines use the logger's own top-level spacing, so the output can be grepped like a log,
fed to ``jq``, imported again, or dropped into a log directory as a session file.
"""

from __future__ import annotations

from typing import BinaryIO

from src.execution.serialization import encode_json_line
from src.query.records import Record

__all__ = ["JsonlWriter"]


class JsonlWriter:
    """Write events as JSON lines to a binary stream."""

    def __init__(self, stream: BinaryIO) -> None:
        self._write = stream.write

    def write(self, session_id: str, rec: Record) -> None:
        self._write(encode_json_line(rec.data))
