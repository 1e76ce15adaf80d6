"""Whole writes to an open descriptor.

``os.write`` may write less than it was given (a signal, a pipe or socket, a file near
its size limit); the rest must be written again, from where it stopped.
"""

from __future__ import annotations

import os

__all__ = ["write_all"]


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``, however many ``os.write`` calls it takes (an error
    is raised as ``os.write`` raises it, after whatever was already written)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
