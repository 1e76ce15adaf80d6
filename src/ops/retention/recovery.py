"""Completing or undoing what an interrupted run left behind (run under the retention lock).

The names :mod:`.retire` uses say how far a run got:

* ``.<name>.gz.retention-tmp`` alone: the crash came before the original was touched; the
  temp file is removed (the original and any old ``.gz`` are whole).
* ``.<name>.retention-<size>-compress`` with the temp file: the original had been moved
  aside but the new ``.gz`` not yet published. The temp file is removed and the hidden
  original is compressed again from scratch (merged into the old ``.gz``), so it is kept.
* ``.<name>.retention-<size>-compress`` without the temp file: the new ``.gz`` (holding the
  first ``<size>`` bytes) was published; what follows ``<size>`` is appended to the session
  file, and the hidden file removed.
* ``.<name>.retention-<size>-delete``: the deletion is finished the same way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from src.query.files import is_day_dir, parse_file_name

from .gzfiles import gz_readable, write_temp_gz
from .retire import RootDirs, salvage_tail, temp_name, writers_out

__all__ = ["Leftover", "find_leftovers", "recover"]

_HIDDEN = re.compile(r"\.(?P<name>.+\.jsonl)\.retention-(?P<size>\d+)-(?P<action>compress|delete)")
_TEMP = re.compile(r"\.(?P<name>.+\.jsonl)\.gz\.retention-tmp")
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class Leftover:
    directory: str
    entry: str  # the hidden or temp name
    name: str  # the session file it belongs to
    kind: str  # "compress" | "delete" | "temp"
    size: int

    @property
    def rel(self) -> str:
        return f"{self.directory}/{self.entry}" if self.directory else self.entry


def find_leftovers(root: Path) -> list[Leftover]:
    """Hidden and temp files of interrupted runs, in the root and its day directories."""
    found: list[Leftover] = []
    for directory in ["", *_day_dirs(root)]:
        try:
            entries = list(os.scandir(root / directory if directory else root))
        except OSError:
            continue
        for entry in entries:
            if not entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                continue
            m = _HIDDEN.fullmatch(entry.name)
            if m and _plain_session_name(m["name"]):
                found.append(
                    Leftover(directory, entry.name, m["name"], m["action"], int(m["size"]))
                )
                continue
            m = _TEMP.fullmatch(entry.name)
            if m and _plain_session_name(m["name"]):
                found.append(Leftover(directory, entry.name, m["name"], "temp", 0))
    found.sort(key=lambda x: (x.directory, x.name, x.kind != "temp"))
    return found


def recover(root: Path, dirs: RootDirs, note: Callable[[str], None]) -> int:
    """Complete or undo every leftover; returns how many were handled."""
    leftovers = find_leftovers(root)
    temps = {(x.directory, x.name) for x in leftovers if x.kind == "temp"}
    for x in leftovers:
        d = dirs.fd(x.directory)
        if x.kind == "temp":
            os.unlink(x.entry, dir_fd=d)
            dirs.touched.add(x.directory)
            continue
        where = f"{x.directory}/{x.name}" if x.directory else x.name
        if x.kind == "compress" and (x.directory, x.name) in temps:
            if _recompress(d, x):
                note(f"recovered {where}: compressed again after an interrupted run")
            else:
                _put_back(d, x, note)
        else:
            with writers_out(d, x.entry):
                salvage_tail(d, x.entry, x.name, x.size, note, x.directory)
                os.unlink(x.entry, dir_fd=d)
            verb = "deletion" if x.kind == "delete" else "compression"
            note(f"recovered {where}: finished the {verb} an interrupted run had begun")
        dirs.touched.add(x.directory)
    dirs.sync()
    return len(leftovers)


def _recompress(d: int, x: Leftover) -> bool:
    gz_name = x.name + ".gz"
    src = os.open(x.entry, _READ_FLAGS, dir_fd=d)
    existing: int | None = None
    try:
        st = os.fstat(src)
        try:
            existing = os.open(gz_name, _READ_FLAGS, dir_fd=d)
        except FileNotFoundError:
            existing = None
        mtime_ns = st.st_mtime_ns
        if existing is not None:
            if not gz_readable(existing):
                return False
            mtime_ns = max(mtime_ns, os.fstat(existing).st_mtime_ns)
        tmp = temp_name(gz_name)
        write_temp_gz(
            d,
            tmp,
            src_fd=src,
            size=st.st_size,
            member_name=x.name,
            existing_fd=existing,
            mtime_ns=mtime_ns,
        )
        os.rename(tmp, gz_name, src_dir_fd=d, dst_dir_fd=d)
        os.unlink(x.entry, dir_fd=d)
        return True
    finally:
        os.close(src)
        if existing is not None:
            os.close(existing)


def _put_back(d: int, x: Leftover, note: Callable[[str], None]) -> None:
    where = f"{x.directory}/{x.name}" if x.directory else x.name
    try:
        os.stat(x.name, dir_fd=d, follow_symlinks=False)
    except FileNotFoundError:
        os.rename(x.entry, x.name, src_dir_fd=d, dst_dir_fd=d)
        note(f"recovered {where}: restored uncompressed after an interrupted run")
        return
    note(f"left {x.entry} in place: {where} exists and {x.name}.gz is damaged; merge by hand")


def _plain_session_name(name: str) -> bool:
    parsed = parse_file_name(name)
    return parsed is not None and not parsed[1]


def _day_dirs(root: Path) -> list[str]:
    try:
        return sorted(
            e.name
            for e in os.scandir(root)
            if e.is_dir(follow_symlinks=False) and is_day_dir(e.name)
        )
    except OSError:
        return []
