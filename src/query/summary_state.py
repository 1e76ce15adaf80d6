"""Saved summary state: a session's exact summary state kept next to its logs.

A reader that summarised a session saves what it built (the
:class:`~src.query.analytics.summary.SummaryBuilder`, the parse counts, the sorted samples
and the summary itself) under ``<log root>/.summary/``; the next reader, in any process,
opens it and reads only the bytes appended since. A state file records, for every file it
covers, the identity the follower uses (device, inode), the size, how far it was read
(always a line end), and hashes of the file's first bytes and of the bytes just before
that point; it is used only when all of them still hold, the older files unchanged and
the newest one at most grown. Anything else (a rewritten, truncated or replaced file, a
new older file, a state of another format or code version, a damaged state file) is
ignored, and the reader rebuilds and saves anew.

The state holds what one pass over the complete lines gives; a torn last line (no
newline yet) is never part of it: a one-pass read counts it at the end, a follower waits.

Safety: files are opened relative to the root's ``.summary`` directory, never through a
symbolic link, and must be regular files under :data:`MAX_STATE_BYTES`; the builder is
decoded by :mod:`src.query.state_codec` (no pickle: data builds only allowed classes);
writes are atomic and happen under a non-blocking lock (a busy or read-only directory
means no save, never an error).
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import msgspec

from src.common.atomicfile import write_atomic_at
from src.common.locks import try_lock_exclusive
from src.query.analytics.sorted_samples import SortedSamples
from src.query.analytics.summary import SummaryBuilder
from src.query.analytics.summary_model import OrderClock, Summary
from src.query.files import parse_file_name
from src.query.records import ParseStats
from src.query.scan_events import PAYLOAD_TYPES
from src.query.state_codec import Decoder, StateError, classes_in, encode, types_used

__all__ = [
    "FORMAT_VERSION",
    "MAX_STATE_BYTES",
    "STATE_DIR",
    "Mark",
    "Saved",
    "StateStore",
    "file_compressed",
    "file_removed",
    "hash_range",
    "last_line_end",
    "mark_holds",
    "mark_of",
    "torn_lines",
    "with_torn",
]

FORMAT_VERSION = 2  # 2: the summary is saved with its OrderClock
STATE_DIR = ".summary"
MAX_STATE_BYTES = 512 << 20
"""A state bigger than this is not saved (a 5M-event session's state is about 70 MB)."""
HASH_BYTES = 4096
_MAGIC = b"ETSUMST\x01"
_HEADER = struct.Struct("<8sI16s")  # magic, header length, hash of the header
_SUFFIX = ".state"


class Mark(msgspec.Struct, frozen=True, array_like=True):
    """One file a state covers, as it was when saved."""

    name: str  # relative to the log root, "/"-separated
    dev: int
    ino: int
    gz: bool
    offset: int  # plain: read up to here (a line end); gzip: its size (read whole)
    size: int  # the file's size when saved
    head: bytes  # hash of the first min(HASH_BYTES, offset) bytes
    guard: bytes  # hash of the HASH_BYTES bytes before offset
    torn: bool | None = None  # gzip: its last line has no newline (None: not known)


class _Header(msgspec.Struct, frozen=True):
    format: int
    code: str
    session_id: str
    fingerprint: str
    marks: list[Mark]
    saved_at: float
    blob_hash: bytes
    blob_size: int
    summary: bytes


@dataclass
class Saved:
    """A state as found on disk; :meth:`state` reads and decodes the builder (its hash
    checked first), which a reader of an unchanged session never needs."""

    marks: list[Mark]
    summary: Summary  # at saved_at, complete lines only, not located
    clock: OrderClock  # to measure the summary at another instant (OrderClock.age)
    saved_at: float
    _base: Path
    _name: str
    _blob_at: int
    _blob_hash: bytes
    _decoder: Decoder

    def state(self) -> tuple[SummaryBuilder, ParseStats, SortedSamples] | None:
        found = _read_state(self._base, self._name)
        if found is None:
            return None
        data = found[0]
        blob = memoryview(data)[self._blob_at :]
        if hashlib.blake2b(blob, digest_size=16).digest() != self._blob_hash:
            return None
        try:
            got = self._decoder.decode(blob)
        except StateError:
            return None
        if (
            type(got) is not tuple
            or len(got) != 3
            or not isinstance(got[0], SummaryBuilder)
            or type(got[1]) is not ParseStats
            or type(got[2]) is not SortedSamples
        ):
            return None
        return got


def hash_range(fd: int, start: int, end: int) -> bytes:
    """Hash of bytes ``start`` to ``end`` of ``fd`` (at most HASH_BYTES of them)."""
    data = os.pread(fd, end - start, start) if end > start else b""
    return hashlib.blake2b(data, digest_size=16).digest()


def mark_of(fd: int, name: str, *, offset: int, gz: bool, torn: bool | None = None) -> Mark:
    """The mark of open file ``fd`` read up to ``offset`` (gzip: whole)."""
    st = os.fstat(fd)
    if gz:
        offset = st.st_size
    head = hash_range(fd, 0, min(HASH_BYTES, offset))
    guard = hash_range(fd, max(0, offset - HASH_BYTES), offset)
    return Mark(name, st.st_dev, st.st_ino, gz, offset, st.st_size, head, guard, torn)


def last_line_end(fd: int, size: int, *, floor: int = 0) -> int:
    """The offset just after the last newline in the first ``size`` bytes of ``fd``
    (``floor`` when there is none after ``floor``)."""
    pos = size
    while pos > floor:
        step = min(1 << 16, pos - floor)
        block = os.pread(fd, step, pos - step)
        newline = block.rfind(b"\n")
        if newline >= 0:
            return pos - step + newline + 1
        pos -= step
    return floor


def mark_holds(path: Path, mark: Mark, *, last: bool) -> bool:
    """``path`` still holds what ``mark`` covers (the newest file may have grown)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (mark.dev, mark.ino) or not stat.S_ISREG(st.st_mode):
            return False
        if mark.gz or not last:
            if st.st_size != mark.size:
                return False
        elif st.st_size < mark.offset:
            return False
        end = mark.size if mark.gz else mark.offset
        return (
            hash_range(fd, 0, min(HASH_BYTES, end)) == mark.head
            and hash_range(fd, max(0, end - HASH_BYTES), end) == mark.guard
        )
    except OSError:
        return False
    finally:
        os.close(fd)


def torn_lines(marks: Sequence[Mark]) -> int | None:
    """Torn last lines of the files before the newest, as a one-pass read counts them
    (None: a compressed file's is not known)."""
    if any(m.gz and m.torn is None for m in marks):
        return None
    n = 0
    for mark in marks[:-1]:
        if mark.gz:
            n += bool(mark.torn)
        else:
            n += mark.size > mark.offset
    return n


def with_torn(summary: Summary, torn: int) -> Summary:
    """``summary`` with ``torn`` more torn lines counted (each also a line, invalid)."""
    if not torn:
        return summary
    p = summary.parse
    total, invalid = p.total_lines + torn, p.invalid_lines + torn
    parse = replace(
        p,
        total_lines=total,
        invalid_lines=invalid,
        torn_lines=p.torn_lines + torn,
        error_rate=invalid / total if total else 0.0,
    )
    return replace(summary, parse=parse)


_code_versions: dict[frozenset[str], str] = {}
_QUERY_DIR = Path(__file__).resolve().parent
# What decides a state's content besides the analytics package (all of it is hashed).
_READ_PATH = (
    "records.py",
    "scan_events.py",
    "lines.py",
    "follow.py",
    "files.py",
    "state_codec.py",
    "summary_state.py",
    "saved_scan.py",
    "incremental.py",
)


def code_version(classes: Iterable[type]) -> str:
    """A hash of the source that decides what a state holds: the query layer's analytics
    and read path, the schema, and the modules of the builder's own classes. The same in
    every process, whatever it imported."""
    files = {_QUERY_DIR / name for name in _READ_PATH}
    files |= set((_QUERY_DIR / "analytics").glob("*.py"))
    files.add(_QUERY_DIR.parent / "execution" / "schema.py")
    for cls in classes:
        source = getattr(sys.modules.get(cls.__module__), "__file__", None)
        if source:
            files.add(Path(source).resolve())
    key = frozenset(str(f) for f in files)
    found = _code_versions.get(key)
    if found is None:
        digest = hashlib.blake2b(digest_size=16)
        for path in sorted(files):
            digest.update(path.name.encode())
            try:
                digest.update(path.read_bytes())
            except OSError:
                digest.update(b"?")
        found = _code_versions[key] = digest.hexdigest()
    return found


def _state_prefix(session_id: str) -> str:
    return hashlib.blake2b(session_id.encode(), digest_size=12).hexdigest()


class StateStore:
    """The saved states of one session under ``base``, for builders like ``fresh`` (a new,
    empty builder of the reader's kind: its class and settings pick the state file)."""

    def __init__(self, base: str | os.PathLike[str], session_id: str, fresh: SummaryBuilder):
        self.base = Path(base)
        self.session_id = session_id
        fresh_state = (fresh, ParseStats(), SortedSamples())
        self.fingerprint = hashlib.blake2b(encode(fresh_state), digest_size=12).hexdigest()
        # An open order keeps its order event's payload (its terms, for its deadline): the
        # record classes too, and the payload classes made at import (one per event kind).
        allowed = classes_in(["src.query.analytics.", "src.query.records"])
        allowed |= types_used(fresh_state)
        allowed |= {ParseStats, SortedSamples, *PAYLOAD_TYPES.values()}
        self._decoder = Decoder(allowed)
        self.code = code_version(allowed)
        self.name = f"{_state_prefix(session_id)}-{self.fingerprint}{_SUFFIX}"

    def rel(self, path: Path) -> str | None:
        """``path`` relative to the root (None: outside it)."""
        try:
            return path.relative_to(self.base).as_posix()
        except ValueError:
            return None

    def load(self) -> Saved | None:
        """The header of the saved state (None: none, or not for this reader)."""
        found = _read_state(self.base, self.name, header_only=True)
        if found is None:
            return None
        data, size = found
        header_blob = _split(data)
        if header_blob is None:
            return None
        try:
            header = msgspec.msgpack.decode(header_blob[0], type=_Header)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        if (
            header.format != FORMAT_VERSION
            or header.blob_size != size - _HEADER.size - len(header_blob[0])
            or header.code != self.code
            or header.session_id != self.session_id
            or header.fingerprint != self.fingerprint
        ):
            return None
        try:
            got = self._decoder.decode(header.summary)
        except StateError:
            return None
        if (
            type(got) is not tuple
            or len(got) != 2
            or type(got[0]) is not Summary
            or type(got[1]) is not OrderClock
        ):
            return None
        summary, clock = got
        return Saved(
            header.marks,
            summary,
            clock,
            header.saved_at,
            self.base,
            self.name,
            _HEADER.size + len(header_blob[0]),
            header.blob_hash,
            self._decoder,
        )

    def holds(self, saved: Saved, paths: Sequence[Path]) -> bool:
        """``paths`` (the session's files now) start with what ``saved`` covers, intact."""
        marks = saved.marks
        if not marks or len(paths) < len(marks):
            return False
        for i, (mark, path) in enumerate(zip(marks, paths, strict=False)):
            if self.rel(path) != mark.name:
                return False
            if not mark_holds(path, mark, last=i == len(marks) - 1):
                return False
        return True

    def save(
        self,
        marks: list[Mark],
        builder: SummaryBuilder,
        stats: ParseStats,
        kept: SortedSamples,
        summary: Summary,
        clock: OrderClock,
        saved_at: float,
    ) -> bool:
        """Save (False when it could not or need not be: never raises for I/O)."""
        if stats.unreadable_files or stats.torn_lines or not marks:
            return False
        try:
            blob = encode((builder, stats, kept))
            summary_blob = encode((summary, clock))
        except StateError:
            return False
        if len(blob) > MAX_STATE_BYTES:
            return False
        header = _Header(
            FORMAT_VERSION,
            self.code,
            self.session_id,
            self.fingerprint,
            marks,
            saved_at,
            hashlib.blake2b(blob, digest_size=16).digest(),
            len(blob),
            summary_blob,
        )
        return _write_state(self.base, self.name, _pack(header) + blob)


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _pack(header: _Header) -> bytes:
    head = msgspec.msgpack.encode(header)
    return _HEADER.pack(_MAGIC, len(head), _digest(head)) + head


def _split(data: bytes) -> tuple[bytes, bytes] | None:
    """(header, blob) of a state file's bytes (None: not one, or its header damaged)."""
    if len(data) < _HEADER.size:
        return None
    magic, length, digest = _HEADER.unpack_from(data)
    if magic != _MAGIC or _HEADER.size + length > len(data):
        return None
    end = _HEADER.size + length
    if _digest(data[_HEADER.size : end]) != digest:
        return None
    return data[_HEADER.size : end], data[end:]


def _open_dir(base: Path | int, *, create: bool) -> int | None:
    """The root's state directory, never through a symbolic link (None: none usable).
    ``base``: the root's path, or an open descriptor of it."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    if isinstance(base, int):
        root = base
    else:
        try:
            root = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return None
    try:
        try:
            return os.open(STATE_DIR, flags, dir_fd=root)
        except FileNotFoundError:
            if not create:
                return None
        except OSError:
            return None  # a symbolic link (ELOOP), not a directory, no permission
        try:
            os.mkdir(STATE_DIR, 0o755, dir_fd=root)
        except FileExistsError:
            pass
        except OSError:
            return None
        try:
            return os.open(STATE_DIR, flags, dir_fd=root)
        except OSError:
            return None
    finally:
        if root is not base:
            os.close(root)


def _read_state(base: Path, name: str, *, header_only: bool = False) -> tuple[bytes, int] | None:
    """The state file's bytes (or only its header) and its size."""
    d = _open_dir(base, create=False)
    if d is None:
        return None
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=d)
    except OSError:
        return None
    finally:
        os.close(d)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_STATE_BYTES + (64 << 20):
            return None
        if header_only:
            start = os.pread(fd, _HEADER.size, 0)
            if len(start) < _HEADER.size:
                return None
            length = _HEADER.unpack(start)[1]
            if _HEADER.size + length > st.st_size:
                return None
            return start + os.pread(fd, length, _HEADER.size), st.st_size
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 24)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks), st.st_size
    except OSError:
        return None
    finally:
        os.close(fd)


def _write_state(base: Path, name: str, data: bytes) -> bool:
    d = _open_dir(base, create=True)
    if d is None:
        return False
    try:
        if not try_lock_exclusive(d):
            return False  # another process is saving: its state will do
        write_atomic_at(d, name, data, durable=False)
        return True
    except OSError:  # read-only, no permission, disk full: readers still work
        return False
    finally:
        os.close(d)


# -- retention: the state follows its log ------------------------------------------------


def _states_of(d: int, session_id: str) -> list[str]:
    prefix = _state_prefix(session_id) + "-"
    try:
        names = os.listdir(d)
    except OSError:
        return []
    return [n for n in names if n.startswith(prefix) and n.endswith(_SUFFIX)]


def _session_of(rel_name: str) -> str | None:
    parsed = parse_file_name(rel_name.rsplit("/", 1)[-1])
    return parsed[0] if parsed else None


def _root(base: str | os.PathLike[str] | int) -> Path | int:
    return base if isinstance(base, int) else Path(base)


def file_removed(base: str | os.PathLike[str] | int, rel_name: str) -> int:
    """``rel_name`` (a log file, relative to the root ``base``: its path or an open
    descriptor) was deleted: remove every state covering it. Returns how many were."""
    session_id = _session_of(rel_name)
    d = _open_dir(_root(base), create=False)
    if session_id is None or d is None:
        if d is not None:
            os.close(d)
        return 0
    removed = 0
    try:
        for name in _states_of(d, session_id):
            marks = _marks_at(d, name)
            if marks is None or any(m.name == rel_name for m in marks):
                removed += _unlink_at(d, name)
    finally:
        os.close(d)
    return removed


def file_compressed(
    base: str | os.PathLike[str] | int,
    rel_name: str,
    plain_fd: int,
    gz_rel_name: str,
    gz_fd: int,
) -> int:
    """``rel_name`` was compressed into ``gz_rel_name`` (both still open, the plain file as
    it was compressed): states that cover it to its last line move to the compressed file;
    those that covered less are removed (they would be rebuilt). Returns states kept."""
    session_id = _session_of(rel_name)
    d = _open_dir(_root(base), create=False)
    if session_id is None or d is None:
        if d is not None:
            os.close(d)
        return 0
    kept = 0
    try:
        size = os.fstat(plain_fd).st_size
        end = last_line_end(plain_fd, size)
        for name in _states_of(d, session_id):
            data = _read_at(d, name)
            parts = _split(data) if data is not None else None
            try:
                header = msgspec.msgpack.decode(parts[0], type=_Header) if parts else None
            except (msgspec.DecodeError, msgspec.ValidationError):
                header = None
            if header is None or parts is None:
                _unlink_at(d, name)
                continue
            index = next((i for i, m in enumerate(header.marks) if m.name == rel_name), None)
            if index is None:
                continue
            mark = header.marks[index]
            st = os.fstat(plain_fd)
            if (mark.dev, mark.ino) != (st.st_dev, st.st_ino) or mark.offset != end:
                _unlink_at(d, name)
                continue
            marks = list(header.marks)
            marks[index] = mark_of(gz_fd, gz_rel_name, offset=0, gz=True, torn=size > end)
            head = _pack(msgspec.structs.replace(header, marks=marks))
            try:
                write_atomic_at(d, name, head + parts[1], durable=False)
                kept += 1
            except OSError:
                _unlink_at(d, name)
    finally:
        os.close(d)
    return kept


def _read_at(d: int, name: str) -> bytes | None:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=d)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read()
    except OSError:
        return None
    finally:
        os.close(fd)


def _marks_at(d: int, name: str) -> list[Mark] | None:
    data = _read_at(d, name)
    parts = _split(data) if data is not None else None
    if parts is None:
        return None
    try:
        return msgspec.msgpack.decode(parts[0], type=_Header).marks
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _unlink_at(d: int, name: str) -> int:
    try:
        os.unlink(name, dir_fd=d)
        return 1
    except OSError:
        return 0
