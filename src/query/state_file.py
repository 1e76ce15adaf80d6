"""The saved summary state's file: its layout, and reading and writing it safely.

A state file is ``<log root>/.summary/<session prefix>-<fingerprint>.state``: a fixed
preamble (magic, header length, hash of the header), a msgpack :class:`Header` (format and
code versions, the session, the file marks, the saved summary, the blob's hash and size),
then the blob (the encoded builder). Files are opened relative to the root's ``.summary``
directory, never through a symbolic link, and must be regular files of bounded size;
writes are atomic and happen under the state's own non-blocking lock (a byte of
``.summary/.lock`` picked by the state's name, :func:`state_lock`): a save of the same state
under way, or a read-only directory, means no save, never an error; saves of other states
go on. Retention takes the same lock before it rewrites a state.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import msgspec

from src.common.atomicfile import write_atomic_at
from src.common.locks import try_lock_range
from src.query.state_marks import Mark

__all__ = [
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "LOCK_NAME",
    "MAX_STATE_BYTES",
    "STATE_DIR",
    "SUFFIX",
    "Header",
    "blob_check",
    "header_at",
    "marks_at",
    "open_dir",
    "open_state",
    "pack",
    "read_at",
    "read_fd",
    "read_state",
    "split",
    "state_lock",
    "state_prefix",
    "unlink_at",
    "write_state",
]

FORMAT_VERSION = 4
"""2: the summary is saved with its OrderClock; 3: the blob's CRC-32; 4: the pairer's fill
and completed order ids as id indexes (src.query.analytics.pairing_ids)."""
STATE_DIR = ".summary"
MAX_STATE_BYTES = 512 << 20
"""A state bigger than this is not saved (a 5M-event session's state is about 100 MB)."""
_MAGIC = b"ETSUMST\x01"
_HEADER = struct.Struct("<8sI16s")  # magic, header length, hash of the header
SUFFIX = ".state"
LOCK_NAME = ".lock"  # in STATE_DIR: one byte of it locked per state being written
HEADER_SIZE = _HEADER.size


class Header(msgspec.Struct, frozen=True):
    format: int
    code: str
    session_id: str
    fingerprint: str
    marks: list[Mark]
    saved_at: float
    blob_hash: bytes
    blob_size: int
    summary: bytes


def state_prefix(session_id: str) -> str:
    return hashlib.blake2b(session_id.encode(), digest_size=12).hexdigest()


def blob_check(blob: bytes | bytearray | memoryview) -> bytes:
    """The check of a state's blob: its CRC-32. It catches a damaged file (the blob is
    only ever data, decoded into allowed classes, so there is no attacker to outwit) at a
    fifth of a cryptographic hash's cost: 5 ms instead of 25 ms for a 1M-event session."""
    return zlib.crc32(blob).to_bytes(4, "big")


def _digest(data: bytes | bytearray) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def pack(header: Header) -> bytes:
    head = msgspec.msgpack.encode(header)
    return _HEADER.pack(_MAGIC, len(head), _digest(head)) + head


def split(data: bytes | bytearray) -> tuple[bytes, bytes] | None:
    """(header, blob) of a state file's bytes (None: not one, or its header damaged)."""
    if len(data) < _HEADER.size:
        return None
    magic, length, digest = _HEADER.unpack_from(data)
    if magic != _MAGIC or _HEADER.size + length > len(data):
        return None
    end = _HEADER.size + length
    if _digest(data[_HEADER.size : end]) != digest:
        return None
    return bytes(data[_HEADER.size : end]), bytes(data[end:])


def open_dir(base: Path | int, *, create: bool) -> int | None:
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


def read_state(
    base: Path, name: str, *, header_only: bool = False
) -> tuple[bytes | bytearray, int] | None:
    """The state file's bytes (or only its header) and its size."""
    fd = open_state(base, name)
    if fd is None:
        return None
    try:
        return read_fd(fd, header_only=header_only)
    except OSError:
        return None
    finally:
        os.close(fd)


def open_state(base: Path, name: str) -> int | None:
    """A descriptor of state file ``name`` under ``base`` (None: none usable). A reader
    that reads the header first and the blob later reads both through it: a state saved
    meanwhile replaces the name, not what the descriptor reads."""
    d = open_dir(base, create=False)
    if d is None:
        return None
    try:
        return _open_at(d, name)
    finally:
        os.close(d)


def _open_at(d: int, name: str) -> int | None:
    try:
        return os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=d)
    except OSError:
        return None


def read_fd(fd: int, *, header_only: bool = False) -> tuple[bytes | bytearray, int] | None:
    """A state file's bytes (or only its header) and its size, read from ``fd``."""
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
    # Read into one buffer of the file's size: no chunks to join (a copy of tens of MB).
    data = bytearray(st.st_size)
    view = memoryview(data)
    done = 0
    while done < st.st_size:
        got = os.preadv(fd, [view[done:]], done)
        if not got:
            break  # shrunk meanwhile (a state is replaced by rename, never truncated)
        done += got
    view.release()
    if done < st.st_size:
        del data[done:]
    return data, st.st_size


def header_at(d: int, name: str) -> Header | None:
    """The header of state file ``name`` in the state directory ``d``, read alone (None:
    not a state file, or a damaged one)."""
    fd = _open_at(d, name)
    if fd is None:
        return None
    try:
        found = read_fd(fd, header_only=True)
    except OSError:
        return None
    finally:
        os.close(fd)
    parts = split(found[0]) if found is not None else None
    if parts is None:
        return None
    try:
        return msgspec.msgpack.decode(parts[0], type=Header)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def write_state(base: Path, name: str, data: bytes) -> bool:
    d = open_dir(base, create=True)
    if d is None:
        return False
    try:
        with state_lock(d, name) as held:
            if not held:
                return False  # another process or thread is saving this state: it will do
            write_atomic_at(d, name, data, durable=False)
            return True
    except OSError:  # read-only, no permission, disk full: readers still work
        return False
    finally:
        os.close(d)


@contextlib.contextmanager
def state_lock(d: int, name: str) -> Iterator[bool]:
    """Hold the lock of state ``name`` (in the state directory ``d``) for the block, taken
    without waiting: yields False when another process or thread holds it, or when the lock
    file cannot be opened for writing (then nothing may write the state here)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(LOCK_NAME, flags, 0o666, dir_fd=d)  # the umask decides who shares it
    except OSError:
        fd = None
    if fd is None:
        yield False
        return
    try:
        key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=7).digest(), "big")
        yield stat.S_ISREG(os.fstat(fd).st_mode) and try_lock_range(fd, key)
    finally:
        os.close(fd)  # releases the lock


def read_at(d: int, name: str) -> bytes | bytearray | None:
    """The whole state file ``name`` in the state directory ``d``, opened as every state
    read is (never blocking on a FIFO, never through a symbolic link; None: not a regular
    file, too big to be a state, or unreadable)."""
    fd = _open_at(d, name)
    if fd is None:
        return None
    try:
        found = read_fd(fd, header_only=False)
    except OSError:
        return None
    finally:
        os.close(fd)
    return None if found is None else found[0]


def marks_at(d: int, name: str) -> list[Mark] | None:
    header = header_at(d, name)
    return None if header is None else header.marks


def unlink_at(d: int, name: str) -> int:
    try:
        os.unlink(name, dir_fd=d)
        return 1
    except OSError:
        return 0
