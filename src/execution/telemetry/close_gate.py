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

The wait never hangs shutdown:

* it never waits for the calling thread's own emits (a close() from a callback or a signal
  handler in the middle of an emit): that emit's write came first, and close fsyncs the file;
* it is bounded (:data:`SHUT_TIMEOUT_S`). Emits still inside after that are not waited for;
  :meth:`CloseGate.shut` returns how many, and the logger reports them as not confirmed
  durable (their line may be written, its fsync may have missed the file).

The count is one structure, thread id -> depth inside the gate, changed by a single store
under the lock: an exception raised between two statements (a ``KeyboardInterrupt`` from a
signal) can leave a thread counted as still inside, never a count that no thread owns. Such a
leftover is the interrupted thread's own (not waited for by its own close) and bounded for
the others. The lock is reentrant, so a signal handler that emits or closes while its thread is
inside :meth:`enter` or :meth:`leave` does not deadlock on it.
"""

from __future__ import annotations

import threading
import time

__all__ = ["SHUT_TIMEOUT_S", "CloseGate"]

SHUT_TIMEOUT_S = 3.0  # how long close() waits at most for emits between write and fsync


class CloseGate:
    """Counts the emits in flight; :meth:`shut` refuses new ones and waits for the rest."""

    def __init__(self, timeout: float | None = None) -> None:
        self.timeout = SHUT_TIMEOUT_S if timeout is None else float(timeout)
        self._cond = threading.Condition(threading.RLock())
        self._inside: dict[int, int] = {}  # thread id -> how deep it is inside the gate
        self._shut = False

    @property
    def shut_down(self) -> bool:
        """Whether :meth:`shut` has been called (new emits are refused)."""
        return self._shut

    def enter(self) -> bool:
        """Count an emit in; False once the gate is shut (the event is to be dropped)."""
        me = threading.get_ident()
        with self._cond:
            if self._shut:
                return False
            self._inside[me] = self._inside.get(me, 0) + 1  # the one change
            return True

    def leave(self) -> None:
        """The emit that entered has written and fsynced its line (or failed)."""
        me = threading.get_ident()
        with self._cond:
            depth = self._inside.get(me, 0) - 1
            if depth > 0:
                self._inside[me] = depth  # the one change
            else:
                self._inside.pop(me, None)  # the one change
            if self._shut:
                self._cond.notify_all()

    def _others(self, me: int) -> int:
        return sum(depth for tid, depth in self._inside.items() if tid != me)

    def shut(self) -> int:
        """Refuse new emits; wait (at most ``timeout`` seconds) until every emit in flight on
        other threads has left. Returns how many were still inside when the wait gave up."""
        me = threading.get_ident()
        deadline = time.monotonic() + self.timeout
        with self._cond:
            self._shut = True
            while (left := self._others(me)) > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return left
                self._cond.wait(remaining)
            return 0

    def after_fork(self) -> None:
        """In a forked child only the forking thread exists: only its own emits are in flight."""
        self._cond = threading.Condition(threading.RLock())
        me = threading.get_ident()
        self._inside = {me: self._inside[me]} if self._inside.get(me) else {}
