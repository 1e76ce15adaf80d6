"""``telemetry-metrics``: a standalone Prometheus exporter for the whole fleet.

Follows the Redis event stream (every producer's events) and serves the
:class:`~src.execution.telemetry.PrometheusEmitter` metrics at
``http://<addr>:<port>/metrics``: the names defined once in
:mod:`src.execution.telemetry.metrics_def`, the same as a trading process's and the
dashboard's (docs/monitoring.md lists them). Run one per stream; Prometheus scrapes it
instead of every trading process. Settings: ``[execution.telemetry.redis]`` for the stream,
``[execution.telemetry.prometheus]`` for ``addr``, ``port`` (9108 when the file says 0)
and ``pending_max``.

Exit codes: 0 stopped by SIGTERM or SIGINT; 1 an unexpected error; 3 it cannot start as asked:
a bad flag or setting (one line naming it), or ``redis`` or ``prometheus_client`` is missing.
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Sequence

from src.cli.common import Parser, fail, port_or_zero
from src.execution.telemetry.redis_common import scrubber, transient_errors
from src.streaming.cli_support import (
    add_log_level,
    add_stream_args,
    config_with,
    setup_logging,
    stop_on_signals,
)

__all__ = ["DEFAULT_PORT", "main"]

DEFAULT_PORT = 9108


def _parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="telemetry-metrics",
        description="Serve Prometheus metrics computed from the Redis event stream.",
    )
    add_stream_args(p)
    p.add_argument("--addr", help="listen address (default from config: 127.0.0.1)")
    p.add_argument(
        "--port", type=port_or_zero, help=f"listen port (default {DEFAULT_PORT}; 0 = any)"
    )
    p.add_argument(
        "--from-start", action="store_true",
        help="count what the stream already holds too (default: only new events)",
    )  # fmt: skip
    add_log_level(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging(args.log_level)
    log = logging.getLogger("src.streaming.metrics")
    from src.common.config import ConfigError

    overrides = {
        "execution.telemetry.redis.url": args.redis_url,
        "execution.telemetry.redis.stream": args.stream,
        "execution.telemetry.prometheus.addr": args.addr,
        "execution.telemetry.prometheus.port": args.port,
    }
    try:
        config = config_with(args.config, overrides)
        redis_config, prom = config.telemetry.redis, config.telemetry.prometheus
        port = args.port if args.port is not None else (prom.port or DEFAULT_PORT)
        from src.execution.telemetry.prometheus import PrometheusEmitter
        from src.streaming.follow import follow_stream

        stop = threading.Event()
        follower = follow_stream(
            redis_config.url,
            stream=redis_config.stream,
            last_id="0" if args.from_start else "$",
            stop=stop,
        )
        emitter = PrometheusEmitter(pending_max=prom.pending_max, port=port, addr=prom.addr)
    except (ImportError, ConfigError, ValueError, OSError) as exc:
        return fail(str(exc))
    with stop_on_signals(stop):
        try:
            follower.position()  # from here on nothing is missed
        except transient_errors():
            pass  # Redis is away: the follower waits for it and starts from its newest entry
        # The line a supervisor (or a test) waits for: the exporter is up.
        print(
            f"serving metrics of stream {redis_config.stream!r} from {follower.safe_url} "
            f"at http://{prom.addr}:{emitter.port}/metrics",
            flush=True,
        )
        try:
            for entry in follower:
                emitter.emit(entry.event)
        except Exception as exc:
            scrub = scrubber(redis_config.url)
            log.error("metrics exporter failed: %s", scrub(f"{type(exc).__name__}: {exc}"))
            return 1
        finally:
            follower.close()
            emitter.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
