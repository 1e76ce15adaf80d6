"""on_exit_signal: our callback first, then the server's own handler; undone cleanly."""

from __future__ import annotations

import signal
import threading

from src.webui.shutdown import on_exit_signal


def test_callback_runs_before_the_previous_handler_and_undo_restores_it():
    """SIGTERM calls the callback, then the handler the server had installed."""
    seen: list[str] = []

    def server_handler(signum, frame):
        seen.append("server")

    before = signal.signal(signal.SIGTERM, server_handler)
    try:
        undo = on_exit_signal(lambda: seen.append("ours"))
        signal.raise_signal(signal.SIGTERM)
        assert seen == ["ours", "server"]
        undo()
        assert signal.getsignal(signal.SIGTERM) is server_handler
        signal.raise_signal(signal.SIGTERM)
        assert seen == ["ours", "server", "server"]
    finally:
        signal.signal(signal.SIGTERM, before)


def test_outside_the_main_thread_nothing_is_installed():
    """A server in a thread (or the test client) cannot take signals: a no-op undo."""
    before = signal.getsignal(signal.SIGTERM)
    result = []
    thread = threading.Thread(target=lambda: result.append(on_exit_signal(lambda: None)))
    thread.start()
    thread.join()
    result[0]()
    assert signal.getsignal(signal.SIGTERM) is before
