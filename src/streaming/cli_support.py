"""What the stream commands (``telemetry-collect``, ``telemetry-metrics``) share: the
config and Redis flags, logging to stderr, flag overrides, and stopping on a signal."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["add_log_level", "add_stream_args", "config_with", "setup_logging", "stop_on_signals"]

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def add_stream_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="config file (default: config/execution.toml)")
    p.add_argument("--redis-url", help="Redis URL (better: $EXECUTION_TELEMETRY_REDIS_URL)")
    p.add_argument("--stream", help="stream key")


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def add_log_level(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=LOG_LEVELS,
        help="DEBUG | INFO | WARNING | ERROR",
    )


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, str(level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def config_with(path: str | None, overrides: dict[str, Any]) -> Any:
    """The configuration with the flags that were given (``None`` = not given) on top."""
    from src.execution.config import load_config

    return load_config(path, overrides={k: v for k, v in overrides.items() if v is not None})


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop`` while inside; the previous handlers come back after."""
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
