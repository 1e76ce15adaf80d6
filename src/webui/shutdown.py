"""Hearing SIGTERM/SIGINT before the server drains its connections.

A server told to stop (uvicorn, gunicorn's uvicorn worker) first waits for the requests in
flight, and only then runs the app's lifespan shutdown: an app that stops its long work in
the lifespan hook would wait for that same work to finish. :func:`on_exit_signal` puts a
callback in front of whatever handler the server installed (which still runs afterwards,
so the server stops as it always does). Signal handlers can only be set from the main
thread; elsewhere (a server in a thread, the test client) this does nothing.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["on_exit_signal"]

EXIT_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def on_exit_signal(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` on SIGTERM/SIGINT, then the previous handler; returns an undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    installed: dict[int, Any] = {}

    def make(sig: int, previous: Any) -> Callable[[int, FrameType | None], None]:
        def handler(signum: int, frame: FrameType | None) -> None:
            try:
                callback()
            finally:
                if callable(previous):
                    previous(signum, frame)
                elif previous == signal.SIG_DFL:
                    signal.signal(signum, signal.SIG_DFL)
                    signal.raise_signal(signum)

        return handler

    for sig in EXIT_SIGNALS:
        previous = signal.getsignal(sig)
        handler = make(sig, previous)
        signal.signal(sig, handler)
        installed[sig] = (handler, previous)

    def undo() -> None:
        for sig, (handler, previous) in installed.items():
            if signal.getsignal(sig) is handler:  # nobody replaced ours meanwhile
                signal.signal(sig, previous if previous is not None else signal.SIG_DFL)

    return undo
