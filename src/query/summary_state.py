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
import sys
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path

import msgspec
import orjson

from src.query.analytics.sorted_samples import SortedSamples
from src.query.analytics.summary import SummaryBuilder
from src.query.analytics.summary_model import OrderClock, Summary
from src.query.records import ParseStats
from src.query.scan_events import PAYLOAD_TYPES
from src.query.state_codec import Decoder, StateError, classes_in, encode, types_used
from src.query.state_file import (
    FORMAT_VERSION,
    HEADER_SIZE,
    MAX_STATE_BYTES,
    STATE_DIR,
    SUFFIX,
    Header,
    blob_check,
    open_state,
    pack,
    read_fd,
    read_state,
    split,
    state_prefix,
    write_state,
)
from src.query.state_marks import (
    Mark,
    hash_range,
    last_line_end,
    mark_holds,
    mark_of,
    torn_lines,
    with_torn,
)
from src.query.state_retention import file_compressed, file_removed

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


class Saved:
    """A state as found on disk; :meth:`state` reads and decodes the builder (its hash
    checked first), which a reader of an unchanged session never needs.

    The file stays open from :meth:`StateStore.load` until :meth:`state` or :meth:`close`
    (or until this is dropped): the builder is read from the very file whose header was
    read, even if another process saved a newer state under its name meanwhile."""

    def __init__(
        self,
        marks: list[Mark],
        summary: Summary,
        clock: OrderClock,
        saved_at: float,
        fd: int,
        blob_at: int,
        blob_hash: bytes,
        decoder: Decoder,
    ) -> None:
        self.marks = marks
        self.summary = summary  # at saved_at, complete lines only, not located
        self.clock = clock  # to measure the summary at another instant (OrderClock.age)
        self.saved_at = saved_at
        self._fd = fd
        self._blob_at = blob_at
        self._blob_hash = blob_hash
        self._decoder = decoder
        self._closer = weakref.finalize(self, os.close, fd)

    def close(self) -> None:
        """Close the state file (:meth:`state` then gives None)."""
        self._closer()

    def state(self) -> tuple[SummaryBuilder, ParseStats, SortedSamples] | None:
        """The saved builder, parse counts and sorted samples (None: damaged, or already
        read or closed); closes the file."""
        if not self._closer.alive:
            return None
        try:
            found = read_fd(self._fd)
        except OSError:
            found = None
        finally:
            self.close()
        if found is None:
            return None
        data = found[0]
        blob = memoryview(data)[self._blob_at :]
        if blob_check(blob) != self._blob_hash:
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
    "state_file.py",
    "state_marks.py",
    "summary_state.py",
    "saved_scan.py",
    "incremental.py",
    "intervals.py",
    "lifecycle.py",
    "parallel.py",
    "state_retention.py",
)


def libraries() -> str:
    """What decides how lines parse besides our source: the JSON libraries' versions and
    Python's (its float and datetime parsing)."""
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return f"python {python} msgspec {msgspec.__version__} orjson {orjson.__version__}"


def code_version(classes: Iterable[type]) -> str:
    """A hash of the source that decides what a state holds: the query layer's analytics
    and read path, the schema, and the modules of the builder's own classes, with the
    versions of the libraries that parse lines (:func:`libraries`). The same in every
    process, whatever it imported."""
    files = {_QUERY_DIR / name for name in _READ_PATH}
    files |= set((_QUERY_DIR / "analytics").glob("*.py"))
    files.add(_QUERY_DIR.parent / "execution" / "schema.py")
    for cls in classes:
        source = getattr(sys.modules.get(cls.__module__), "__file__", None)
        if source:
            files.add(Path(source).resolve())
    versions = libraries()
    key = frozenset([versions, *(str(f) for f in files)])
    found = _code_versions.get(key)
    if found is None:
        digest = hashlib.blake2b(versions.encode(), digest_size=16)
        for path in sorted(files):
            digest.update(path.name.encode())
            try:
                digest.update(path.read_bytes())
            except OSError:
                digest.update(b"?")
        found = _code_versions[key] = digest.hexdigest()
    return found


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
        self.name = f"{state_prefix(session_id)}-{self.fingerprint}{SUFFIX}"

    def rel(self, path: Path) -> str | None:
        """``path`` relative to the root (None: outside it)."""
        try:
            return path.relative_to(self.base).as_posix()
        except ValueError:
            return None

    def load(self) -> Saved | None:
        """The header of the saved state (None: none, or not for this reader); the file
        stays open for :meth:`Saved.state`."""
        fd = open_state(self.base, self.name)
        if fd is None:
            return None
        saved = None
        try:
            saved = self._load(fd)
        except OSError:
            saved = None
        finally:
            if saved is None:
                os.close(fd)
        return saved

    def _load(self, fd: int) -> Saved | None:
        found = read_fd(fd, header_only=True)
        if found is None:
            return None
        data, size = found
        own = self._own_header(data)
        if own is None:
            return None
        header, blob_at = own
        if header.blob_size != size - blob_at:
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
            fd,
            blob_at,
            header.blob_hash,
            self._decoder,
        )

    def _saved_header(self) -> tuple[Header, bool] | None:
        """The header of this reader's saved state, and whether a blob follows it."""
        found = read_state(self.base, self.name, header_only=True)
        own = self._own_header(found[0]) if found is not None else None
        if found is None or own is None:
            return None
        header, blob_at = own
        return header, found[1] > blob_at

    def _own_header(self, data: bytes | bytearray) -> tuple[Header, int] | None:
        """The header at the start of ``data`` when it is this reader's (format, code,
        session and builder), and where the blob after it starts."""
        header_blob = split(data)
        if header_blob is None:
            return None
        try:
            header = msgspec.msgpack.decode(header_blob[0], type=Header)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        if (
            header.format != FORMAT_VERSION
            or header.code != self.code
            or header.session_id != self.session_id
            or header.fingerprint != self.fingerprint
        ):
            return None
        return header, HEADER_SIZE + len(header_blob[0])

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
        """Save (False when it could not or need not be: never raises for I/O).

        A state over :data:`MAX_STATE_BYTES` is not saved, and not encoded again by later
        readers of the session (which only grows): they estimate its size from the state
        saved before, in proportion to the bytes covered; with none (a session too big
        when first read), a header without a blob, sized as that state was, is saved
        instead (every reader ignores it, as a state whose blob is missing)."""
        if stats.unreadable_files or stats.torn_lines or not marks:
            return False
        before = self._saved_header()
        if before is not None and _estimate(before[0], marks) > MAX_STATE_BYTES:
            return False
        # Ids as indexes: the next reader looks them up instead of rebuilding the sets.
        builder.pairer.index_ids()
        try:
            blob = encode((builder, stats, kept))
            summary_blob = encode((summary, clock))
        except StateError:
            return False
        if len(blob) > MAX_STATE_BYTES:
            if before is None or not before[1]:  # keep a state that is still of use
                note = Header(
                    FORMAT_VERSION,
                    self.code,
                    self.session_id,
                    self.fingerprint,
                    marks,
                    saved_at,
                    b"",
                    len(blob),
                    b"",
                )
                write_state(self.base, self.name, pack(note))
            return False
        header = Header(
            FORMAT_VERSION,
            self.code,
            self.session_id,
            self.fingerprint,
            marks,
            saved_at,
            blob_check(blob),
            len(blob),
            summary_blob,
        )
        return write_state(self.base, self.name, pack(header) + blob)


def _estimate(header: Header, marks: Sequence[Mark]) -> float:
    """The size of a state covering ``marks``, from one saved (or found too big) before."""
    before = sum(m.offset for m in header.marks)
    if before <= 0:
        return 0.0
    return header.blob_size * sum(m.offset for m in marks) / before
