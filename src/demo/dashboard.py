"""Serving the dashboard next to the demo session: uvicorn in a thread, stopped on request."""

from __future__ import annotations

import threading
import time

__all__ = ["RunningDashboard", "start_dashboard"]


class RunningDashboard:
    def __init__(self, server: object, thread: threading.Thread, url: str, app: object) -> None:
        self.server = server
        self.thread = thread
        self.url = url
        self.app = app

    def stop(self) -> None:
        from src.webui.app import stop_serving

        # The server waits for open responses (live streams) before it exits: end them.
        stop_serving(self.app)  # type: ignore[arg-type]
        self.server.should_exit = True  # type: ignore[attr-defined]
        self.thread.join(10)


def start_dashboard(
    base_path: str, host: str, port: int, timeout: float = 10.0
) -> RunningDashboard:
    """Start serving ``base_path``; raises ValueError (unsafe bind) or OSError (cannot listen)."""
    import uvicorn

    from src.webui.app import create_app
    from src.webui.settings import WebSettings, check_bind

    settings = WebSettings.from_environment(base_path=base_path, host=host, port=port)
    check_bind(settings)
    app = create_app(settings=settings)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # main owns SIGINT
    thread = threading.Thread(target=server.run, name="dashboard", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        server.should_exit = True
        thread.join(2)
        raise OSError(f"the dashboard could not listen on {host}:{port} (port in use?)")
    return RunningDashboard(server, thread, f"http://{host}:{port}", app)
