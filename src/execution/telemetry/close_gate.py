"""Let ``close()`` wait for the writes that must be on disk when ``emit`` returns.

With ``fsync="always"`` an event is acknowledged only once its line is written *and*
fsynced. ``close()`` swaps every descriptor for a ``/dev/null`` stand-in (see
:mod:`src.execution.telemetry.session_files`); were that to happen between an emit's write
and its fsync, the line would be in the file but the fsync would hit the stand-in: the event
counted as dropped although written, and not forced to disk if the write came after close's
own fsync. So each such emit passes through a :class:`CloseGate`: ``close()`` shuts it (later
emits are dropped, they write nothing) and waits until those already inside have written and
fsynced their line to the real file. Only that mode pays for the gate; it already pays an
fsync per event.

A close() called on a thread that is itself inside the gate (from a callback in the middle of
an emit) does not wait for itself: that emit's write came first, and close fsyncs the file.
"""

from __future__ import annotations

import threading

__all__ = ["CloseGate"]


class CloseGate:
    """Counts the emits in flight; :meth:`shut` refuses new ones and waits for the rest."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._inflight = 0
        self._shut = False
        self._mine = threading.local()  # how deep the current thread is inside the gate

    @property
    def shut_down(self) -> bool:
        """Whether :meth:`shut` has been called (new emits are refused)."""
        return self._shut

    def enter(self) -> bool:
        """Count an emit in; False once the gate is shut (the event is to be dropped)."""
        with self._cond:
            if self._shut:
                return False
            self._inflight += 1
        self._mine.depth = getattr(self._mine, "depth", 0) + 1
        return True

    def leave(self) -> None:
        """The emit that entered has written and fsynced its line (or failed)."""
        self._mine.depth -= 1
        with self._cond:
            self._inflight -= 1
            if self._shut:
                self._cond.notify_all()

    def shut(self) -> None:
        """Refuse new emits; return once every emit in flight on other threads has left."""
        own = getattr(self._mine, "depth", 0)
        with self._cond:
            self._shut = True
            self._cond.wait_for(lambda: self._inflight <= own)

    def after_fork(self) -> None:
        """In a forked child only the forking thread exists: only its own emits are in flight."""
        self._cond = threading.Condition(threading.Lock())
        self._inflight = getattr(self._mine, "depth", 0)
