"""Is a file one of this project's session logs? Only those are ever compressed or deleted.

A file named like a session log is ours when the first valid event line among its first
64 KiB (decoded with the query layer's rules) is an execution event, ``kind`` one of
intent/order/fill/gate/error, whose ``session_id`` is the file's own name. Another
program's ``.jsonl`` in the same directory, an empty file, or a gzip file that cannot be
read, is left alone.
"""

from __future__ import annotations

import os
import zlib

from src.execution.events import KINDS
from src.query.records import decode_record

__all__ = ["HEAD_BYTES", "head_is_ours", "is_session_log_fd"]

HEAD_BYTES = 1 << 16


def head_is_ours(head: bytes, session_id: str) -> bool:
    """True when the first valid event line in ``head`` belongs to ``session_id``."""
    for line in head.split(b"\n")[:-1]:  # the part after the last newline may be cut short
        rec = decode_record(line) if line.strip() else None
        if rec is None:
            continue
        return rec.kind in KINDS and rec.session_id == session_id
    return False


def is_session_log_fd(fd: int, session_id: str, gz: bool) -> bool:
    """Recognise an open file (read from offset 0 with ``pread``; ``fd`` stays open)."""
    raw = os.pread(fd, HEAD_BYTES, 0)
    if not gz:
        return head_is_ours(raw, session_id)
    try:
        # zlib rather than gzip: a damaged or truncated file still shows its first lines.
        head = zlib.decompressobj(wbits=31).decompress(raw, HEAD_BYTES)
    except zlib.error:
        return False
    return head_is_ours(head, session_id)
