"""Validation of session ids, which become file names under the log root."""

from __future__ import annotations

import re

__all__ = ["MAX_SESSION_ID_LENGTH", "validate_session_id"]

MAX_SESSION_ID_LENGTH = 200
# A whitelist rather than a blacklist: anything that could be a path separator, a control
# character, a shell metacharacter or a glob stays out of file names.
_ALLOWED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+=-]*")


def validate_session_id(session_id: object) -> str:
    """Return ``session_id`` if it is safe to use as a file name, else raise ``ValueError``.

    Refused: non-strings, empty values, path separators, ``..``, absolute paths, leading dots,
    whitespace and control characters, and anything longer than 200 characters.
    """
    if not isinstance(session_id, str):
        raise ValueError(f"invalid session_id {session_id!r}: must be a string")
    shown = session_id if len(session_id) <= 80 else session_id[:77] + "..."
    if not session_id:
        raise ValueError("invalid session_id '': must not be empty")
    if len(session_id) > MAX_SESSION_ID_LENGTH:
        raise ValueError(
            f"invalid session_id {shown!r}: longer than {MAX_SESSION_ID_LENGTH} characters"
        )
    if "/" in session_id or "\\" in session_id:
        raise ValueError(f"invalid session_id {shown!r}: contains a path separator")
    if ".." in session_id:
        raise ValueError(f"invalid session_id {shown!r}: contains '..'")
    if _ALLOWED.fullmatch(session_id) is None:
        raise ValueError(
            f"invalid session_id {shown!r}: use letters, digits and . _ - : @ + = "
            "(starting with a letter or digit)"
        )
    return session_id
