"""Append-only JSONL files, one per session: the default sink.

Each event is one line written by a single ``os.write`` on an ``O_APPEND`` descriptor that
stays open, so:

* the line is in the page cache when ``emit`` returns: readers see it at once and a
  ``kill -9`` of the writer loses nothing that was acknowledged;
* several threads or processes appending to the same session file never interleave;
* a crash (or a full disk) leaves at most one torn last line, which readers count and skip.

Durability against power loss is a policy: ``fsync="none"`` (page cache only),
``"interval"`` (a background thread fsyncs every ``fsync_interval`` seconds, off the trading
path) or ``"always"`` (fsync inside ``emit``; slow, the caller asked for it).

With ``rotation="daily"`` files live under ``<base>/YYYY-MM-DD/<session>.jsonl`` and a new
file starts at midnight UTC. Every open file holds a shared ``flock`` so retention can tell
that a writer is still appending to it.

The lock hand-off with retention: retention takes ``LOCK_EX | LOCK_NB`` on a file before it
compresses or removes it, and first renames it away from its session name. A logger that
opens the file at that very moment cannot get its shared lock (and never waits for it). It
then re-checks before every write, until it holds the lock, that the session name still
refers to the file it has open; once retention has moved the file away, the logger starts a
new file under the session name. The check and the write happen under the file's write guard
(:mod:`src.common.locks`): a line whose check passed just before retention renamed the file
lands in the renamed file, and retention takes the guard before it copies what was appended
there back to the session file, so that line is waited for and kept, never written to a file
already removed. A logger whose lock succeeds checks the name once, right after: retention
may have locked, retired and released the file between the logger's open and its lock (it
moves a file only while it holds it exclusively, so never after that check). So no
acknowledged event goes to a file retention retired.

Which descriptor a session's lines go to (opening with the hand-off above, daily rotation,
retiring, closing) is :mod:`src.execution.telemetry.session_files`. ``close()`` lets go of
every file at once but keeps the descriptor numbers reserved, so an ``emit`` racing it on
another thread (its lock-free fast path fetched a descriptor just before) either writes to
the session file or is counted as dropped after close: never written to a number the
process reused for an unrelated file, never raised. With ``fsync="always"`` close() first
waits for the emits between their write and their fsync (:mod:`.close_gate`), so an event
emit acknowledged is on disk and counted emitted.

With ``heartbeat_interval > 0`` a background thread publishes the logger's counters to
``<base>/.writers/`` (see :mod:`src.execution.telemetry.heartbeat`), so the health check,
another process, can report write errors.
"""

from __future__ import annotations

import errno
import os
import threading
import time
import weakref
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Literal

import msgspec
import orjson

from src.execution.events import ExecutionEvent
from src.execution.jsontypes import JsonObject
from src.execution.serialization import encode_event_line, line_template
from src.execution.telemetry.base import ExecutionEventEmitter, guarded
from src.execution.telemetry.close_gate import CloseGate
from src.execution.telemetry.heartbeat import HeartbeatWriter
from src.execution.telemetry.session_files import SessionFiles
from src.execution.telemetry.session_files import day_of as day_of  # importable from here too

__all__ = ["DEFAULT_BASE_PATH", "FSYNC_POLICIES", "ROTATIONS", "JsonlExecutionLogger"]

DEFAULT_BASE_PATH = "logs/execution"
FSYNC_POLICIES = ("none", "interval", "always")
ROTATIONS = ("none", "daily")
FsyncPolicy = Literal["none", "interval", "always"]
Rotation = Literal["none", "daily"]

# The fast path's encoders, bound once (see encode_event_line, whose common case emit inlines).
_dumps = orjson.dumps
_encode_ts = msgspec.json.Encoder().encode
_write = os.write
_UTC = UTC
_READY_MAX = 4096  # entries of a logger's fast-path map; cleared if it ever grows past it

_live_loggers: weakref.WeakSet[JsonlExecutionLogger] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # The fsync thread does not survive fork; the child starts its own on demand.
    for logger in list(_live_loggers):
        logger._syncer = None
        logger._heartbeat = None  # the child publishes its own, from its next file open
        logger._gate.after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


class JsonlExecutionLogger(ExecutionEventEmitter):
    """Write each event as one JSON line to ``<base_path>/<session_id>.jsonl``."""

    def __init__(
        self,
        base_path: str | os.PathLike[str] = DEFAULT_BASE_PATH,
        *,
        fsync: FsyncPolicy = "none",
        fsync_interval: float = 1.0,
        rotation: Rotation = "none",
        max_open_files: int = 256,
        heartbeat_interval: float = 0.0,
        strict: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(strict=strict)
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"invalid fsync policy {fsync!r}: expected one of {FSYNC_POLICIES}")
        if rotation not in ROTATIONS:
            raise ValueError(f"invalid rotation {rotation!r}: expected one of {ROTATIONS}")
        if fsync_interval <= 0:
            raise ValueError(f"invalid fsync_interval {fsync_interval!r}: must be > 0")
        if max_open_files < 1:
            raise ValueError(f"invalid max_open_files {max_open_files!r}: must be >= 1")
        if heartbeat_interval < 0:
            raise ValueError(f"invalid heartbeat_interval {heartbeat_interval!r}: must be >= 0")
        self.base_path = Path(base_path)
        self.fsync = fsync
        self.fsync_interval = float(fsync_interval)
        self.rotation = rotation
        self.max_open_files = max_open_files
        self._fsync_always = fsync == "always"
        self._gate = CloseGate()  # fsync="always": close() waits for writes being fsynced
        self._closer: int | None = None  # the thread running close()
        self._close_done = threading.Event()
        self._unconfirmed_at_close = 0  # emits close() gave up waiting for (see close)
        self._rotate_daily = rotation == "daily"
        self._syncer: threading.Thread | None = None
        self._stop_syncer = threading.Event()
        self._torn: set[str] = set()
        # (session, symbol, mode, kind) -> (descriptor, line template): the fast path of emit,
        # filled by _settle, cleared whenever a descriptor leaves _fds or a line is torn.
        self._ready: dict[tuple[str, str, str, str], tuple[int, bytes]] = {}
        ref = weakref.ref(self)  # the table's callbacks never keep the logger alive

        def on_error(exc: BaseException, where: str) -> None:
            logger = ref()
            if logger is not None:
                logger._handle_error(exc, where)

        def on_open() -> None:
            logger = ref()
            if logger is not None:
                logger._opened()

        self._files = SessionFiles(
            self.base_path,
            rotate_daily=self._rotate_daily,
            clock=clock,
            max_open=max_open_files,
            sync_retired=fsync != "none",
            forget=self._ready.clear,
            on_error=on_error,
            on_open=on_open,
        )
        # The table's own containers and lock (never rebound), read directly on the hot path.
        self._fds = self._files.fds
        self._unlocked = self._files.unlocked  # sessions whose shared lock is not ours yet
        self._open_lock = self._files.lock
        self.heartbeat_interval = float(heartbeat_interval)
        self._heartbeat: HeartbeatWriter | None = None
        _live_loggers.add(self)
        self._ensure_heartbeat()

    # -- paths -------------------------------------------------------------------------
    def path_for(self, session_id: str, day: str | None = None) -> Path:
        """The file a session's events go to (``day`` only matters with daily rotation)."""
        return self._files.path_for(session_id, day)

    @property
    def _clock(self) -> Callable[[], float]:
        """The wall clock (daily rotation reads it; tests set it)."""
        return self._files.clock

    @_clock.setter
    def _clock(self, clock: Callable[[], float]) -> None:
        self._files.clock = clock

    @property
    def lock_contention(self) -> int:
        """Opens that found a session's file held exclusively (by retention)."""
        return self._files.lock_contention

    # -- the hot path --------------------------------------------------------------------
    @guarded
    def emit(self, event: ExecutionEvent) -> None:
        ready = None
        try:
            ready = self._ready.get((event.session_id, event.symbol, event.mode, event.kind))
            if ready is not None:
                # The pipeline's events to a settled file: encode_event_line's common case,
                # inlined (the logger's lines are pinned to its output by tests), one write.
                ts = event.ts
                if ts.tzinfo is _UTC:  # always, unless an event was built around its checks
                    fd, template = ready
                    # seq or mono_ns None: %d raises TypeError, and the slow path writes it.
                    line = template % (
                        _encode_ts(ts)[:-2], _dumps(event.payload), event.seq,
                        _dumps(event.event_id), event.mono_ns,
                    )  # fmt: skip
                    written = _write(fd, line)
                    if written == len(line):
                        self._stats.emitted += 1
                        return
                    self._repair_short_write(event.session_id, fd, written, len(line))
        except TypeError:
            pass  # no seq/mono_ns, or a payload orjson cannot write by itself: the slow path
        except Exception as exc:
            self._failed(exc, event)
            return
        self._emit_slow(event, ready is None)

    def _emit_slow(self, event: ExecutionEvent, settle: bool) -> None:
        """The general path (below); with fsync="always" (which never takes the fast path)
        inside the close gate: close() waits for the line's write and fsync, so an event for
        which emit returned is on disk, and one that close overtook is dropped, not written."""
        if not self._fsync_always:
            self._emit_general(event, settle)
            return
        gate = self._gate
        if not gate.enter():
            self._drop("emit after close")
            return
        try:
            self._emit_general(event, settle)
        finally:
            gate.leave()

    def _emit_general(self, event: ExecutionEvent, settle: bool) -> None:
        """Every case but the common one: a new (session, symbol, mode, kind), a file not
        opened yet, daily rotation, a torn line to end, a file retention holds, fsync on
        every line, an event without ``seq``/``mono_ns``, after close. With ``settle``, a
        plain write makes the event's fixed fields take the fast path from then on."""
        if self._closed:
            self._drop("emit after close")
            return
        try:
            session_id = event.session_id
            files = self._files
            if self._rotate_daily and files.clock() >= files.next_rollover:
                files.roll_over()
            fd = self._fds.get(session_id)
            if fd is None:
                fd = files.open(session_id)
            line = encode_event_line(event)
            if self._torn or self._unlocked or self._fsync_always:
                self._write_with_care(session_id, fd, line)
            else:
                written = os.write(fd, line)
                if written != len(line):
                    self._repair_short_write(session_id, fd, written, len(line))
                if settle and not self._rotate_daily:
                    self._settle(event, fd)
        except Exception as exc:
            self._failed(exc, event)
            return
        self._stats.emitted += 1

    def _failed(self, exc: Exception, event: ExecutionEvent) -> None:
        """An event not written: dropped after close (an emit that raced close() met the
        closed table or a reserved descriptor, see session_files), an error otherwise."""
        if self._closed:
            self._drop("emit after close")
        else:
            self._handle_error(exc, f"writing session {getattr(event, 'session_id', None)!r}")

    def _settle(self, event: ExecutionEvent, fd: int) -> None:
        """Let events with ``event``'s session, symbol, mode and kind take the fast path to
        ``fd``: only while ``fd`` is the session's file, locked, with no torn line to end.
        Whatever changes that (a descriptor retired, a torn line, close) clears the map."""
        session_id = event.session_id
        template = line_template(session_id, event.symbol, event.mode, event.kind)
        with self._open_lock:
            if (
                self._closed
                or self._fds.get(session_id) != fd
                or session_id in self._unlocked
                or session_id in self._torn
            ):
                return
            if len(self._ready) >= _READY_MAX:
                self._ready.clear()
            self._ready[(session_id, event.symbol, event.mode, event.kind)] = (fd, template)

    def _write_with_care(self, session_id: str, fd: int, line: bytes) -> None:
        """The write when a torn line is to be ended, the session's file is not locked yet
        (retention holds it) or every line is fsynced."""
        torn = session_id in self._torn
        if torn:
            line = b"\n" + line  # end the fragment a full disk left behind
        if session_id in self._unlocked:
            fd, written = self._files.write_unlocked(session_id, fd, line)
        else:
            written = os.write(fd, line)
        if torn:
            self._torn.discard(session_id)
        if written != len(line):
            self._repair_short_write(session_id, fd, written, len(line))
        if self._fsync_always:
            try:
                os.fsync(fd)
            except OSError:
                # Inside the close gate, close() can only have run on this very thread, from
                # a callback after the write above: it fsynced the file itself. Written.
                if not self._closed:
                    raise

    def _repair_short_write(self, session_id: str, fd: int, written: int, wanted: int) -> None:
        # A full disk can accept part of a line. End the fragment with a newline so the next
        # event starts on a line of its own; if not even one byte fits, the next write does it.
        if written:
            try:
                ended = os.write(fd, b"\n") == 1
            except OSError:
                ended = False
            if not ended:
                with self._open_lock:
                    self._torn.add(session_id)
                    self._ready.clear()  # the next line must end the fragment first
        raise OSError(errno.ENOSPC, f"short write: {written} of {wanted} bytes")

    # -- durability ----------------------------------------------------------------------
    def _start_syncer(self) -> None:
        self._stop_syncer.clear()
        ref = weakref.ref(self)
        stop = self._stop_syncer
        interval = self.fsync_interval

        def run() -> None:
            while not stop.wait(interval):
                logger = ref()
                if logger is None:
                    return
                logger._sync_all()
                del logger

        self._syncer = threading.Thread(target=run, name="jsonl-fsync", daemon=True)
        self._syncer.start()

    def _sync_all(self) -> bool:
        ok = True
        for fd in list(self._fds.values()):
            try:
                os.fsync(fd)
            except OSError as exc:
                if self._closed:
                    break  # raced close(): the descriptor is reserved now, close fsynced it
                ok = False
                self._handle_error(exc, "fsync")
        return ok

    def _opened(self) -> None:
        """After a file opened: the fsync thread and the heartbeat run from the first one."""
        if self.fsync == "interval" and self._syncer is None:
            with self._open_lock:
                if self._syncer is None and not self._closed:
                    self._start_syncer()
        if self._heartbeat is None:
            self._ensure_heartbeat()

    def flush(self, timeout: float | None = None) -> bool:
        """Lines are already in the page cache; with an fsync policy, also force them to disk."""
        if self._closed or self.fsync == "none":
            return True
        try:
            return self._sync_all()
        except Exception as exc:  # strict mode re-raises from _handle_error
            self._handle_error(exc, "flush")
            return False

    def close(self) -> None:
        """Let go of every file at once (its lock too); an emit racing close either lands
        in the session file or is counted as dropped, never written to a descriptor number
        reused meanwhile for another file: see :mod:`src.execution.telemetry.session_files`.

        With ``fsync="always"`` close first waits, at most a few seconds, for the emits on
        other threads between their write and their fsync; those still there after that are
        counted in ``unconfirmed_at_close`` (health, heartbeat) as not confirmed durable.
        A close() while another thread's close() is under way waits for it (as long); one
        on the closing thread itself (a callback, a signal handler) returns at once."""
        me = threading.get_ident()
        with self._open_lock:
            closer = self._closer
            if closer is None:
                self._closer = me
                self._closed = True
                self._stop_syncer.set()
                heartbeat, self._heartbeat = self._heartbeat, None
        if closer is not None:
            if closer != me:
                self._close_done.wait(self._gate.timeout)
            return
        try:
            unconfirmed = self._gate.shut()  # fsync="always": emits writing now finish first
            if unconfirmed:
                self._unconfirmed_at_close += unconfirmed
                self._report(
                    f"close: {unconfirmed} emit(s) still writing after {self._gate.timeout:g}s"
                    " not waited for; not confirmed durable"
                )
            self._files.close(self._sync_on_close if self.fsync != "none" else None)
            if heartbeat is not None:
                heartbeat.stop(final=True)
        finally:
            self._close_done.set()

    def _sync_on_close(self, fd: int) -> None:
        try:
            os.fsync(fd)
        except OSError as exc:
            self._handle_error(exc, "fsync on close")

    # -- heartbeat -----------------------------------------------------------------------
    def _ensure_heartbeat(self) -> None:
        if self.heartbeat_interval <= 0 or self._closed:
            return
        with self._open_lock:
            if self._heartbeat is not None:
                return
            ref = weakref.ref(self)

            def snapshot() -> JsonObject:
                logger = ref()
                return logger._heartbeat_counters() if logger is not None else {}

            def on_error(exc: BaseException) -> None:
                logger = ref()
                if logger is not None:
                    logger._report(f"heartbeat write failed: {type(exc).__name__}: {exc}")

            self._heartbeat = HeartbeatWriter(
                self.base_path, self.heartbeat_interval, snapshot, on_error
            )
            self._heartbeat.start()

    def _heartbeat_counters(self) -> JsonObject:
        return {
            "base_path": str(self.base_path),
            **self.stats.as_dict(),
            "lock_contention": self.lock_contention,
            "open_files": len(self._fds),
            "unconfirmed_at_close": self._unconfirmed_at_close,
        }

    def open_sessions(self) -> list[str]:
        """Session ids with a file currently open for appending."""
        return list(self._fds)

    def _name(self) -> str:
        return f"JsonlExecutionLogger({str(self.base_path)!r})"

    def health(self) -> JsonObject:
        return {
            **super().health(),
            "base_path": str(self.base_path),
            "open_files": len(self._fds),
            "unconfirmed_at_close": self._unconfirmed_at_close,
        }
