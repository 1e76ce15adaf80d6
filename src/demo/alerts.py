"""The alert engine next to the demo session, so the dashboard's alerts panel has something
to show: ``telemetry-alerts run`` in a thread, over the same logs, with the config's
channels (console by default: alerts are printed on stderr)."""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["RunningAlerts", "start_alerts"]


class RunningAlerts:
    def __init__(self, engine: Any, thread: threading.Thread, stop: threading.Event) -> None:
        self.engine = engine
        self.thread = thread
        self._stop = stop

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(10)
        self.engine.evaluate()  # the session's last events are judged too
        self.engine.close(timeout=5.0)


def start_alerts(config: Any, base_path: str, interval: float = 2.0) -> RunningAlerts:
    """Start evaluating the logs under ``base_path`` every ``interval`` s with ``config``
    (an :class:`~src.alerts.config.AlertsConfig`); ``ValueError`` when it cannot run here
    (a channel without its secret, another engine on the same state file)."""
    from src.alerts.channels import ChannelConfigError
    from src.alerts.service import build_engine
    from src.alerts.state import StateError

    try:
        engine = build_engine(config, base_path)
    except (ChannelConfigError, StateError) as exc:
        raise ValueError(str(exc)) from None
    stop = threading.Event()
    engine.start()
    thread = threading.Thread(target=engine.run, args=(stop, interval), name="alerts", daemon=True)
    thread.start()
    return RunningAlerts(engine, thread, stop)
