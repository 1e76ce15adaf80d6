"""Output files that appear whole or not at all, and never replace anything unasked.

A file is written under a hidden temporary name beside its final one and moved into place
by :meth:`OutputFile.commit` (``os.link`` when it must not replace an existing file, so a
file that appeared meanwhile is not clobbered; ``os.replace`` with ``force``). A failed or
interrupted export leaves nothing behind but, at worst, its temporary file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from src.common.atomicfile import temp_sibling

__all__ = ["OutputExistsError", "OutputFile", "check_new_output"]

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW


class OutputExistsError(FileExistsError):
    """The output is already there and ``force`` was not given."""


def check_new_output(path: Path, *, force: bool) -> None:
    """Raise unless ``path`` may be written: absent, or a file (not a directory) with force."""
    if path.is_dir() and not path.is_symlink():
        raise IsADirectoryError(f"output {str(path)!r} is a directory; name a file")
    if (path.exists() or path.is_symlink()) and not force:
        raise OutputExistsError(f"output {str(path)!r} already exists (use --force to replace it)")


class OutputFile:
    """``path`` written through a temporary sibling; :meth:`commit` or :meth:`abort` ends it."""

    def __init__(self, path: str | os.PathLike[str], *, force: bool = False) -> None:
        self.path = Path(path)
        self.force = force
        check_new_output(self.path, force=force)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = temp_sibling(self.path)
        try:
            self.tmp.unlink()  # left over by an earlier, killed run of this same pid
        except FileNotFoundError:
            pass
        self._fd: int | None = os.open(self.tmp, _FLAGS, 0o644)
        self._fh: BinaryIO | None = None

    def open(self) -> BinaryIO:
        """The temporary file, for binary writing (buffered)."""
        if self._fh is None:
            assert self._fd is not None
            self._fh = os.fdopen(self._fd, "wb", buffering=1 << 20)
            self._fd = None
        return self._fh

    def close_handle(self) -> None:
        """Close the temporary file without committing (for libraries that reopen by name)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def commit(self) -> Path:
        """fsync the data and move it to its final name; returns that name."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
        self.close_handle()
        if self.force:
            os.replace(self.tmp, self.path)
        else:
            try:
                os.link(self.tmp, self.path)
            except FileExistsError:
                self.abort()
                raise OutputExistsError(
                    f"output {str(self.path)!r} appeared while exporting; not replaced"
                ) from None
            self.tmp.unlink()
        return self.path

    def abort(self) -> None:
        """Drop the temporary file (idempotent)."""
        try:
            self.close_handle()
        except OSError:
            pass
        try:
            self.tmp.unlink()
        except FileNotFoundError:
            pass
